"""A spider that fetches a given list of URLs and nothing else, to test the archive layer in isolation."""

from __future__ import annotations

from typing import Any, AsyncIterator

import scrapy


class UrlListSpider(scrapy.Spider):
    """``scrapy crawl urllist -a urls=URL,URL -a topic_name=NAME`` (SPIDER_MODULES must include tests.spiders)."""

    name = "urllist"

    def __init__(self, urls: str = "", topic_name: str = "urllist", *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.urls = [u for u in urls.split(",") if u]
        self.topic_name = topic_name

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for url in self.urls:
            yield scrapy.Request(url, callback=self.parse, dont_filter=True)

    def parse(self, response):
        self.crawler.stats.inc_value("urllist/parsed")
        return None
