"""A few closing lines on stderr when a crawl ends: what it kept, per outlet, its errors, where the output is.

The log says everything at INFO and nothing useful at ``-L WARNING``; a scheduled crawl's mail (cron) or a user at a
terminal wants the outcome in a glance. So the summary is printed to stderr, not logged: it shows whatever the log
level, and with ``LOG_FILE`` set it is all that reaches the terminal. It is plain text (no colour, no table
drawing), readable in a mail. In a distributed crawl each worker prints its own share of the run ("new") beside
the archive's totals, which all workers share. Setting ``SUMMARY_ENABLED``.
"""

from __future__ import annotations

import os
import socket
import sys
import time
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.run import TopicRun

NAME_WIDTH = 28  # outlet names are padded to the longest, up to this many characters
OUTPUTS = ("report.html", "text/", "manifest.jsonl", "warc/")


def _count(value: float | int, one: str, many: str | None = None) -> str:
    return f"{value:,} {one if value == 1 else (many or one + 's')}"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 90:
        return f" in {seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    return f" in {minutes} min {secs:02d} s" if minutes < 90 else f" in {minutes // 60} h {minutes % 60:02d} min"


def summary_lines(*, topic: str, outlets: list[tuple[str, str]], stats: dict[str, Any],
                  kept_total: dict[str, int], root: Path, reason: str, seconds: float | None = None,
                  worker: str | None = None) -> list[str]:
    """The summary of one crawl (pure: figures in, lines out).

    ``outlets``: (slug, name) in the topic's order; ``stats``: the crawl's stats (``coverage/<slug>/kept`` is what
    this process wrote, "new"); ``kept_total``: articles kept in the archive per slug (every run, every worker);
    ``worker``: set in a distributed crawl, whose figures of the run are this worker's share."""
    def stat(slug: str, event: str) -> int:
        value = stats.get(f"coverage/{slug}/{event}", 0)
        return value if isinstance(value, int) else 0

    new = {slug: stat(slug, "kept") for slug, _ in outlets}
    errors = {slug: stat(slug, "errors") + stat(slug, "discovery_errors") for slug, _ in outlets}
    kept = {slug: max(kept_total.get(slug, 0), new[slug]) for slug, _ in outlets}
    ended = "finished" if reason == "finished" else f"stopped ({reason})"
    who = f"presswarc worker {worker}" if worker else "presswarc"
    share = " by this worker" if worker else ""
    lines = [f"{who}: {topic} {ended}{_duration(seconds)}: {_count(sum(kept.values()), 'article')} kept, "
             f"{sum(new.values()):,} new{share}; {_count(sum(errors.values()), 'error')}"]
    width = min(NAME_WIDTH, max((len(name) for _, name in outlets), default=0))
    for slug, name in outlets:
        label = name if len(name) <= width else name[:width - 1] + "…"
        lines.append(f"  {label:<{width}}  {kept[slug]:>4} kept ({new[slug]:,} new), {stat(slug, 'fetched'):,} "
                     f"fetched, {_count(errors[slug], 'error')}")
    present = [name for name in OUTPUTS if (root / name.rstrip("/")).exists()]
    lines.append(f"output: {root}" + (f" ({', '.join(present)})" if present else ""))
    return lines


class ClosingSummary:
    """Prints :func:`summary_lines` to ``stream`` (stderr) as the crawl ends. The figures are taken when the spider
    closes, after the progress display has stopped and the report is written (its ``EXTENSIONS`` order), while the
    store is open; the lines are printed when the engine has stopped, below the last log line of the crawl."""

    def __init__(self, crawler: Crawler, stream: IO[str] | None = None) -> None:
        self.crawler = crawler
        self.stream = stream
        self.started = time.monotonic()
        self.lines: list[str] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ClosingSummary":
        if not crawler.settings.getbool("SUMMARY_ENABLED"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def spider_opened(self, spider) -> None:
        self.started = time.monotonic()

    def spider_closed(self, spider, reason: str) -> None:
        run: TopicRun | None = getattr(self.crawler, "topic_run", None)
        if run is None:  # another spider, or a crawl refused before it began
            return
        try:
            counts = run.store.outcome_counts()
        except Exception:  # a store gone away (Redis lost): the run's own figures still say what happened
            counts = {}
        self.lines = summary_lines(
            topic=run.topic.name, outlets=[(o.slug, o.name) for o in run.topic.outlets],
            stats=self.crawler.stats.get_stats(), kept_total={slug: c.get("kept", 0) for slug, c in counts.items()},
            root=run.paths.root, reason=reason, seconds=time.monotonic() - self.started,
            worker=f"{socket.gethostname()}/{os.getpid()}" if run.distributed else None)

    def engine_stopped(self) -> None:
        if not self.lines:
            return
        stream = self.stream or sys.stderr
        stream.write("\n".join(self.lines) + "\n")
        stream.flush()
        self.lines = []
