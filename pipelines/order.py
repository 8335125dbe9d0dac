"""Capture order: near-duplicate checks and text files see articles in the order their pages were captured.

Extraction runs in a process pool, so articles leave it in whatever order the workers finish. Numbering files in
that order would make ``NNN`` depend on timing, and a replay of the same WARC files could never give the same
names. This pipeline sits after relevance and before dedup: it lets an article on only when every article
captured before it in this run has been kept or dropped, so dedup ("first-written copy") and the text files'
numbers follow the capture order: live, the order the spider received the pages, which is the order their
response records were written; in a replay, the original records' ``WARC-Date``, then file and offset, since
pages come back from the archive in request order. A replay therefore holds its articles until nothing else can
arrive (no request queued or downloading, every article in the pipelines waiting here), then lets them on sorted:
replaying a crawl's WARC files gives its text files, names included, byte for byte.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.items import ArticleItem

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

POLL_SECONDS = 0.05


def capture_key(item: ArticleItem) -> tuple[str, str, int]:
    """Where the page's response record stands among the captures: its WARC-Date to the second (the precision an
    index keeps), then its file and offset (the order one writer wrote its records in)."""
    digits = "".join(ch for ch in item.captured_at or "" if ch.isdigit())[:14]
    file, offset = item.capture_ref or (item.warc_file or "", item.warc_offset or 0)
    return (digits, file, offset)


class CaptureOrderPipeline:
    """Holds each article until those captured before it are settled (stats ``order/held``)."""

    def __init__(self, crawler: Crawler, replay: bool) -> None:
        self.crawler = crawler
        self.replay = replay
        self.low = 0  # every arrival below this number is settled
        self.settled: set[int] = set()
        self.waiting: dict[int, asyncio.Future] = {}
        self.held: list[tuple[tuple, ArticleItem, asyncio.Future]] = []
        self._poll: asyncio.Task | None = None
        self._through: set[int] = set()  # replay: ids of released items that have left the pipelines

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "CaptureOrderPipeline":
        if getattr(crawler, "topic_run", None) is None:
            raise NotConfigured("no topic")
        pipeline = cls(crawler, replay=bool(crawler.settings.get("REPLAY_FROM")))
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(pipeline._settled, signal=signal)
        return pipeline

    async def process_item(self, item: Any) -> Any:
        if not isinstance(item, ArticleItem) or item.arrival is None:
            return item
        if self.replay:
            future = asyncio.get_running_loop().create_future()
            item.html = b""  # extracted already: held articles keep only what dedup and the files need
            self.held.append((capture_key(item), item, future))
            self.crawler.stats.inc_value("order/held")
            if self._poll is None:
                self._poll = asyncio.ensure_future(self._release_when_drained())
            await future
            return item
        if item.arrival > self.low:
            future = asyncio.get_running_loop().create_future()
            self.waiting[item.arrival] = future
            self.crawler.stats.inc_value("order/held")
            await future
        return item

    def _settled(self, item: Any, **kwargs: Any) -> None:
        arrival = getattr(item, "arrival", None)
        if arrival is None:
            return
        if self.replay:
            self._through.add(id(item))
            return
        self.settled.add(arrival)
        while self.low in self.settled:
            self.settled.discard(self.low)
            self.low += 1
        future = self.waiting.pop(self.low, None)
        if future is not None and not future.done():
            future.set_result(None)

    async def _release_when_drained(self) -> None:
        """Replay: once nothing else can arrive, let the held articles on one at a time, oldest capture first."""
        while self.held:
            await asyncio.sleep(POLL_SECONDS)
            if not self._drained():
                continue
            self.held.sort(key=lambda held: held[0])
            batch, self.held = self.held, []
            for _key, item, future in batch:
                future.set_result(None)
                spins = 0
                while id(item) not in self._through:  # through dedup and the text files before the next one
                    spins += 1
                    await asyncio.sleep(0 if spins < 100 else POLL_SECONDS)
                self._through.discard(id(item))
        self._poll = None

    def _drained(self) -> bool:
        """No response waiting for the spider, every article in the pipelines held here, nothing queued or being
        downloaded (the engine's own idle test, less the items it counts as in progress)."""
        from crawler.compat import engine_drained

        return engine_drained(self.crawler, held_items=len(self.held))
