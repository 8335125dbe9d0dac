"""A full disk stops the crawl with one clear error line, however many writes fail because of it.

When the file system under ``ARCHIVE_DIR`` fills up, every write after that fails: WARC records, text files,
manifest lines, the state database (SQLite's "database or disk is full"), the report. Each failure would be
logged by whatever made it, most with a traceback, dozens in all. The first one is the news; the others are
consequences. So:

- code that knows what it was writing calls :func:`stop_for_full_disk` (one ERROR line naming the path and
  "disk full", the spider closed with reason ``disk_full``, ``diskfull/stopped`` in the stats, which makes
  ``scrapy crawl`` exit non-zero);
- the ``DiskFullGuard`` extension filters the log: the first ERROR record caused by a full disk that nobody
  reported becomes that one line (and stops the crawl), and every later one is logged at DEBUG without its
  traceback.

Files already written stay valid: text files appear whole or not at all, a failed manifest line is taken back,
the SQLite transaction of a failed article rolls back, and a WARC file left ``.open`` is cut after its last
complete record at the next start.

Python's logging has no hook for "an error was logged anywhere" other than a handler's filter, hence one filter
per root handler; no library does this.
"""

from __future__ import annotations

import errno
import logging
import re
import sqlite3
from typing import TYPE_CHECKING

from scrapy import signals

from crawler.compat import spider_open
from crawler.fsutil import is_disk_full  # noqa: F401 - the guard's filter and callers use it from here too
from crawler.signals import disk_full

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

STOPPED = "diskfull/stopped"
REASON = "disk_full"
_FULL_TEXT = re.compile(r"No space left on device|Disk quota exceeded|database or disk is full|\[Errno 28\]")


def _reason(exc: BaseException) -> str:
    return (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or type(exc).__name__


def _stop(crawler: Crawler) -> None:
    from scrapy.utils.defer import deferred_from_coro

    if spider_open(crawler):
        deferred_from_coro(crawler.engine.close_spider_async(reason=REASON))


def stop_for_full_disk(crawler: Crawler, exc: BaseException, path: str) -> None:
    """Report a full disk once (``path`` is what could not be written) and stop the crawl; later calls log at
    DEBUG."""
    if crawler.stats.get_value(STOPPED):
        logger.debug("disk full: cannot write %s either (%s)", path, _reason(exc))
        return
    crawler.stats.set_value(STOPPED, 1)
    logger.error("disk full: cannot write %s (%s); stopping the crawl", path, _reason(exc),
                 extra={"disk_full_report": True})
    _stop(crawler)


class _Filter(logging.Filter):
    """On one handler: rewrites the first unreported disk-full ERROR record, quiets the later ones."""

    def __init__(self, guard: "DiskFullGuard", handler: logging.Handler) -> None:
        super().__init__()
        self.guard = guard
        self.handler = handler

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "disk_full_quieted", False):
            return self.handler.level <= logging.DEBUG
        if record.levelno < logging.ERROR:
            return True
        if getattr(record, "disk_full_report", False):
            return True
        exc = record.exc_info[1] if record.exc_info else None
        if not (is_disk_full(exc) or _FULL_TEXT.search(record.getMessage())):
            return True
        stats = self.guard.crawler.stats
        if not stats.get_value(STOPPED):
            stats.set_value(STOPPED, 1)
            if exc is not None:
                record.msg, record.args = "disk full: cannot write %s (%s); stopping the crawl", (
                    self.guard.path_of(exc), _reason(exc))
            else:
                record.msg, record.args = "disk full: %s", (record.getMessage(),)
            record.exc_info = record.exc_text = record.stack_info = None
            record.disk_full_report = True
            _stop(self.guard.crawler)
            return True
        record.msg, record.args = "disk full, already reported: %s", (record.getMessage().splitlines()[0],)
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        record.exc_info = record.exc_text = record.stack_info = None
        record.disk_full_quieted = True
        return self.handler.level <= logging.DEBUG


class DiskFullGuard:
    """Extension: one ERROR line for a full disk, then a stopped crawl (see the module docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.filters: list[tuple[logging.Handler, _Filter]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "DiskFullGuard":
        guard = cls(crawler)
        crawler.signals.connect(guard.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(guard.full, signal=disk_full)
        return guard

    def full(self, exc: BaseException, path: str) -> None:
        """Signal ``disk_full`` from a writer below the extensions (the text files): report it and stop."""
        stop_for_full_disk(self.crawler, exc, path)

    def spider_opened(self, spider) -> None:
        """Scrapy installs its root log handler again once the spider exists, so the filters go on now."""
        self.spider = spider
        for handler in logging.root.handlers:
            if not any(isinstance(f, _Filter) for f in handler.filters):
                flt = _Filter(self, handler)
                handler.addFilter(flt)
                self.filters.append((handler, flt))

    def path_of(self, exc: BaseException) -> str:
        """The file an error names, else the state database for SQLite errors, else the topic directory."""
        from crawler.paths import paths_for

        current: BaseException | None = exc
        while current is not None:
            if isinstance(current, OSError) and current.filename:
                return str(current.filename)
            current = current.__cause__ or current.__context__
        paths = paths_for(self.crawler.settings, self.spider)
        return str(paths.state if isinstance(exc, sqlite3.Error) else paths.root)
