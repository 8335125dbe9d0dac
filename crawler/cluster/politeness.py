"""Per-outlet politeness across the cluster: the slot the scheduler took with a request is given back when the
request never reaches the download.

The scheduler (``crawler.cluster.scheduler``) takes an outlet's slot key in Redis together with the request, in
one Lua step, holds it through the download and lets it cool down for ``DOWNLOAD_DELAY`` once the request leaves
the downloader (``request_left_downloader``), whichever worker takes the next one. A request refused on the way
to the downloader (by the request guard or robots.txt) never leaves it, and Scrapy sends no signal for it: this
middleware sees the refusal and gives the slot back, so the outlet's next request does not wait for the slot's
expiry. Nothing here talks to Redis while a request is on its way: no worker ever waits on a slot in a loop.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

from crawler.cluster.scheduler import _scheduler

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request


class ClusterPolitenessMiddleware:
    """Gives an outlet's cluster slot back when its request is refused before the download."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ClusterPolitenessMiddleware":
        if not crawler.settings.get("CLUSTER_REDIS_URL") or crawler.settings.getfloat("CLUSTER_OUTLET_DELAY") <= 0:
            raise NotConfigured
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception) -> None:
        scheduler = _scheduler(self.crawler)
        if scheduler is not None:
            scheduler.slot_done(request)
        return None
