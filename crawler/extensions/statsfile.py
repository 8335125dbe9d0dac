"""Writes the crawl's final stats as JSON (setting ``STATSFILE_PATH``), for scripts, benchmarks and tests."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.fsutil import write_atomic

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


def _plain(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return value


class StatsFile:
    """Dumps ``crawler.stats`` to the path in ``STATSFILE_PATH`` when the spider closes."""

    def __init__(self, crawler: Crawler, path: str) -> None:
        self.crawler = crawler
        self.path = Path(path)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "StatsFile":
        path = crawler.settings.get("STATSFILE_PATH")
        if not path:
            raise NotConfigured
        extension = cls(crawler, path)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason: str) -> None:
        stats = {key: _plain(value) for key, value in self.crawler.stats.get_stats().items()}
        stats["finish_reason"] = reason
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path.parent, self.path.name, json.dumps(stats, indent=1, sort_keys=True, default=str))
