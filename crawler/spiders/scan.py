"""The scan-warc spider: the coverage spider's article path over the records a WARC scan kept, and nothing else.

``scrapy scan-warc`` (crawler/commands/scan_warc.py) prefilters someone else's WARC files into a temporary WARC
and replays it (``REPLAY_FROM``); this spider asks for exactly the URLs it kept, as article candidates of the
outlet whose host they are on, when their URL has an article's shape (the rule links found on listing pages
follow: a section, search or pagination page is not one). They go the way every article goes (the settled check, the budget, extraction,
relevance, dedup, text files), so a record an earlier scan (or crawl) settled is not read again, and a scan run
twice adds nothing. No home page, feed, sitemap or robots.txt is asked for: the collection holds what it holds,
and the outlets are never contacted (there is no network handler in a replay).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

from scrapy.http import Request, Response

from crawler.archive.scan import SUMMARY_NAME
from crawler.contracts import Source
from crawler.discovery.candidates import Candidate
from crawler.items import ArticleItem
from crawler.spiders.coverage import CoverageSpider
from crawler.urls.shapes import looks_like_article

VIA = Source.WARC_SCAN.value  # the discovery path of a scanned record (the manifest's ``via``)


class ScanSpider(CoverageSpider):
    """``-a topic=FILE -a kept=LIST``: LIST holds one JSON object per kept record (``{"url": ...}``)."""

    name = "scan-warc"

    def __init__(self, topic: str | None = None, kept: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(topic, *args, **kwargs)
        self.kept_path = kept

    def kept_urls(self) -> list[str]:
        if not self.kept_path:
            return []
        with open(Path(self.kept_path), encoding="utf-8") as fh:
            return [json.loads(line)["url"] for line in fh if line.strip()]

    def record_the_pass(self) -> None:
        """The prefilter pass's counts and damaged records, as the report's sources section reads them
        (``archives/warc-scan/<event>``, ``archives/failed_captures``)."""
        path = Path(self.kept_path).with_name(SUMMARY_NAME) if self.kept_path else None
        if path is None or not path.exists():
            return
        summary = json.loads(path.read_text(encoding="utf-8"))
        for event, count in summary.get("counts", {}).items():
            self.crawler.stats.set_value(f"archives/{VIA}/{event}", count)
        failed = []
        for damaged in summary.get("failed", []):
            outlet = self.topic.outlet_for_host(damaged["url"])
            failed.append({"source": VIA, "outlet": outlet.slug if outlet else "", "url": damaged["url"],
                           "why": damaged["why"]})
        if failed:
            self.crawler.stats.set_value("archives/failed_captures", failed)

    async def start(self) -> AsyncIterator[Request]:
        self.record_the_pass()
        for url in self.kept_urls():
            outlet = self.topic.outlet_for_host(url)
            if outlet is None or not looks_like_article(url):  # a section, search or listing page is no article
                self.crawler.stats.inc_value("scan/not_article_shaped")
                continue
            for request in self.follower.follow(outlet, [Candidate(url, via=VIA)]):
                yield request

    def parse_article(self, response: Response) -> Iterable[ArticleItem]:
        for item in super().parse_article(response):
            item.source = Source.WARC_SCAN.value
            item.captured_at = item.fetched_at  # the record's WARC-Date, as ISO 8601 UTC
            yield item
