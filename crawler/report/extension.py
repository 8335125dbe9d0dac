"""Writing the report: ``write_report`` (``presswarc report DIR`` and the end of every crawl) and the extension
that calls it when a crawl ends."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.fsutil import write_atomic
from crawler.paths import paths_for
from crawler.report.gather import build_report
from crawler.report.html import render_html
from crawler.report.markdown import render_markdown
from crawler.store import TopicStore

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def _write(path: Path, text: str) -> None:
    write_atomic(path.parent, path.name, text)  # a temporary name of its own: workers may finish together


def write_report(root: Path, stats: dict[str, Any] | None = None, store: TopicStore | None = None) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``root``; returns their paths."""
    root = Path(root)
    report = build_report(root, stats, store)
    written = {"json": root / "report.json", "md": root / "report.md", "html": root / "report.html"}
    _write(written["json"], json.dumps(report, ensure_ascii=False, indent=1, default=str) + "\n")
    _write(written["md"], render_markdown(report))
    _write(written["html"], render_html(report))
    return written


class ReportExtension:
    """Writes the topic's report when a crawl ends and puts its headline figures in the stats
    (setting ``REPORT_ENABLED``, default True)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ReportExtension":
        if not crawler.settings.getbool("REPORT_ENABLED"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason: str) -> None:
        if getattr(spider, "topic", None) is None:
            return
        run = getattr(self.crawler, "topic_run", None)  # its store: a distributed crawl's is Redis, not state.sqlite
        if run is not None and not run.writes_report:
            logger.info("report left to the worker that found the shared crawl over")
            return
        if self.crawler.stats.get_value("distributed/redis_lost"):  # the shared store is out of reach
            logger.warning("no report this time: the shared state in Redis cannot be read (the next crawl writes it)")
            return
        root = paths_for(self.crawler.settings, spider).root
        stats = self.crawler.stats
        try:
            written = write_report(root, {**stats.get_stats(), "finish_reason": reason},
                                   getattr(run, "store", None))
        except Exception:  # the archive is complete without it; `presswarc report DIR` can write it later
            logger.exception("could not write the report of %s", root)
            return
        report = json.loads(written["json"].read_text(encoding="utf-8"))
        for key, value in report["totals"].items():
            stats.set_value(f"report/{key}", value)
        stats.set_value("report/outlets", len(report["outlets"]))
        logger.info("report written: %s", written["html"])
