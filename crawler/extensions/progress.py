"""A progress line per outlet while a crawl runs: discovered / fetched / kept / off-topic / errors, WARC bytes.

On a terminal it is a live ``rich`` table; in logs (cron, scrapyd, anything not a terminal) one plain INFO line per
interval, without escape codes. Setting ``PROGRESS_INTERVAL`` (seconds, default 10; 0 turns it off).

While the table is shown, the log handlers that write to the terminal write through the live display instead
(:func:`route_logging`): the display redraws itself by moving the cursor up over its last drawing, so a log line
written past it would be drawn over, and the table left in pieces on the screen. Through the display, each line
is printed above the table, which is drawn again below it.
"""

from __future__ import annotations

import logging
import sys
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger("crawler.progress")

COLUMNS = ("discovered", "fetched", "kept", "off_topic", "errors")


def outlet_rows(stats: dict[str, Any]) -> dict[str, dict[str, int]]:
    """Per outlet slug, the progress counters found in the crawl stats (``coverage/<slug>/<event>``)."""
    rows: dict[str, dict[str, int]] = {}
    for key, value in stats.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "coverage" and isinstance(value, int):
            rows.setdefault(parts[1], dict.fromkeys(COLUMNS, 0))
            if parts[2] in COLUMNS:
                rows[parts[1]][parts[2]] = value
            elif parts[2] == "discovery_errors":
                rows[parts[1]]["errors"] += value
    return dict(sorted(rows.items()))


def progress_line(stats: dict[str, Any]) -> str:
    """One log line: ``outlet d/f/k/o/e`` per outlet, then the WARC bytes."""
    parts = [f"{slug} {'/'.join(str(row[c]) for c in COLUMNS)}" for slug, row in outlet_rows(stats).items()]
    warc = stats.get("warc/bytes_payload", 0)
    return f"progress (discovered/fetched/kept/off-topic/errors): {'; '.join(parts) or 'starting'}; WARC {warc:,} bytes"


class Progress:
    """Shows the crawl's progress every ``PROGRESS_INTERVAL`` seconds."""

    def __init__(self, crawler: Crawler, interval: float, live: bool) -> None:
        self.crawler = crawler
        self.interval = interval
        self.live = live
        self.display = None
        self.task = None
        self.rerouted: list[tuple[logging.StreamHandler, Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "Progress":
        interval = crawler.settings.getfloat("PROGRESS_INTERVAL")
        if interval <= 0:
            raise NotConfigured
        extension = cls(crawler, interval, live=sys.stderr.isatty())
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_opened(self, spider) -> None:
        from twisted.internet import task

        if self.live:
            from rich.console import Console
            from rich.live import Live

            terminal = sys.stderr
            console = Console(stderr=True)
            # stdout is left alone: it may carry data (a feed export to "-"); the display and the log are on stderr.
            self.display = Live(self.table(), console=console, transient=False, auto_refresh=False,
                                redirect_stdout=False)
            self.display.start()
            self.rerouted = route_logging(console, terminal)
        self.task = task.LoopingCall(self.tick)
        self.task.start(self.interval, now=False)

    def table(self):
        from rich.table import Table

        stats = self.crawler.stats.get_stats()
        table = Table(title=f"presswarc: WARC {stats.get('warc/bytes_payload', 0):,} bytes")
        table.add_column("outlet")
        for column in COLUMNS:
            table.add_column(column.replace("_", "-"), justify="right")
        for slug, row in outlet_rows(stats).items():
            table.add_row(slug, *(str(row[c]) for c in COLUMNS))
        return table

    def tick(self) -> None:
        if self.display is not None:
            self.display.update(self.table(), refresh=True)
        else:
            logger.info(progress_line(self.crawler.stats.get_stats()))

    def spider_closed(self, spider, reason: str) -> None:
        if self.task is not None and self.task.running:
            self.task.stop()
        if self.display is not None:
            self.display.update(self.table(), refresh=True)
            self.display.stop()
            self.display = None
            restore_logging(self.rerouted)
            self.rerouted = []


def route_logging(console: Any, terminal: Any) -> list[tuple[logging.StreamHandler, Any]]:
    """Make the root logger's handlers that write to ``terminal`` write through ``console`` (a live display's):
    each line then goes above the display. Returns (handler, former stream) pairs for :func:`restore_logging`.
    A handler writing to a file (``LOG_FILE``) is left alone."""
    from rich.file_proxy import FileProxy

    rerouted = []
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler) \
                and handler.stream is terminal:
            rerouted.append((handler, handler.setStream(FileProxy(console, terminal))))
    return rerouted


def restore_logging(rerouted: list[tuple[logging.StreamHandler, Any]]) -> None:
    """Give the handlers :func:`route_logging` rerouted their streams back."""
    for handler, stream in rerouted:
        handler.setStream(stream)
