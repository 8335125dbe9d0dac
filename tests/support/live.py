"""Crawling the local test server as a live site: the settings that allow it, and an article page to serve.

The recorder, replay and pywb tests all crawl the same kind of page straight from ``SiteServer``'s origin on
127.0.0.1, which the request guard refuses unless told otherwise; sharing one page and one set of settings keeps
their archives comparable.
"""

from __future__ import annotations

LIVE = {"GUARD_ALLOW_PRIVATE_HOSTS": "True", "DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False"}
ARTICLE = "<html><head><title>Lavrov on Afghanistan</title></head><body><p>" + "Text. " * 200 + "</p></body></html>"
