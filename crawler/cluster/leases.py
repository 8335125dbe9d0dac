"""When a request's lease ends: after its callback, or, for an article, once its text file is written or the
article dropped (so a worker that dies before the write leaves the request to be fetched again)."""

from __future__ import annotations

from typing import TYPE_CHECKING, AsyncIterator

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.cluster.scheduler import _scheduler, release_lease
from crawler.cluster.scripts import LEASE_META
from crawler.items import ArticleItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class LeaseSpiderMiddleware:
    """A request's lease ends when its callback has run, or, when it yields an article, once that article's
    text file is written or the article is dropped."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self.item_done, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "LeaseSpiderMiddleware":
        if not crawler.settings.get("CLUSTER_REDIS_URL"):
            raise NotConfigured
        return cls(crawler)

    async def process_spider_output(self, response, result: AsyncIterator) -> AsyncIterator:
        lease = response.request.meta.get(LEASE_META) if response.request is not None else None
        carried = False
        async for output in result:
            if lease and isinstance(output, ArticleItem):
                output.lease, carried = lease, True
            yield output
        if lease and not carried:
            release_lease(self.crawler, response.request)

    def process_spider_exception(self, response, exception):
        if response.request is not None:
            release_lease(self.crawler, response.request)

    def item_done(self, item, **kwargs) -> None:
        scheduler = _scheduler(self.crawler)
        if scheduler is not None and isinstance(item, ArticleItem):
            scheduler.release(item.lease)
