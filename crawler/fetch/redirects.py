"""Redirect memory: every redirect hop a crawl sees is stored in the topic's state.

A URL that redirected is settled: later runs go straight to its target (a short link, an http→https move, an
outlet's ``/go/`` link to another site), so neither the hop nor, when it was archived already, its target is
requested again, and the recorder's revisit logic sees the target's payload history under the target's URL.
It sits before Scrapy's redirect middleware (600), so it sees each 3xx answer before it is followed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.http import Request, Response
from w3lib.url import safe_url_string

from crawler.contracts import Kind, Meta
from crawler.urls.normal import canonical_url, normalize_url

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class RedirectMemoryMiddleware:
    """Stores ``url -> target`` for each redirect answer to an article request (stats ``redirects/remembered``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RedirectMemoryMiddleware":
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status not in REDIRECT_STATUSES or request.meta.get(Meta.KIND) != Kind.ARTICLE:
            return response
        location = response.headers.get(b"Location")
        run = getattr(self.crawler, "topic_run", None)
        state = run.store if run is not None else None
        if not location or state is None:
            return response
        target = normalize_url(safe_url_string(location.decode("latin-1").strip()), base=request.url)
        if target is None:
            return response
        source = canonical_url(request.url)
        target = canonical_url(target)
        if target != source:
            state.save_redirect(source, target, response.status)
            self.stats.inc_value("redirects/remembered")
        return response
