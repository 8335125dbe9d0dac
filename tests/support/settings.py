"""The project's own settings for crawlers built in a test, as every real crawl has them.

``scrapy.utils.test.get_crawler`` starts from Scrapy's defaults alone; presswarc's components read their settings
without a fallback value (the defaults live once, in ``crawler/settings.py``), so a crawler built for a test
loads that module first, as ``scrapy crawl`` does.
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import Settings

import crawler.settings


def project_settings_dict(**values: Any) -> dict[str, Any]:
    """``crawler/settings.py``'s settings, ``values`` over them: the ``settings_dict`` of ``get_crawler``."""
    return {**{name: getattr(crawler.settings, name) for name in dir(crawler.settings) if name.isupper()}, **values}


def project_settings(**values: Any) -> Settings:
    """``crawler/settings.py`` at the project's priority, ``values`` over it as ``-s NAME=value`` would set them."""
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.update(values, priority="cmdline")
    return settings
