"""Already settled by an earlier run: whether an article URL a listing names needs fetching at all.

A scheduled crawl lists the same articles run after run; only what no earlier run settled is fetched again, as
scrapy-deltafetch skips requests a previous crawl already turned into items. Settled means: an outcome was
recorded for the URL (kept, off topic, duplicate, no text, ...), or it failed often enough to be given up
(``SETTLED_ERROR_RETRY_RUNS``, a 404 twice), and it is younger than ``SETTLED_REFRESH_AFTER_DAYS`` when that is
set. Redirect memory (``crawler.fetch.redirects``) extends this along the hops earlier runs saw: a URL that
redirected is judged by where it led, a loop or a target off the outlet settles it, and a URL some settled URL
redirected to is settled too.

It reads the store and never writes it: taking a settled URL off the frontier is the spider's frontier's job,
and recording outcomes is the pipelines'. The coverage spider asks it about each candidate before the candidate
reaches the frontier, since a settled URL must cost no frontier write (a filter of the callback's output, as
deltafetch is, would come after that write); registering it in ``SPIDER_MIDDLEWARES`` lets Scrapy build,
configure and switch it off like any other component (``SETTLED_ENABLED = False``: every listed URL is fetched).

Stats: ``settled/skipped`` (settled, not requested), ``settled/redirect_loop``, ``settled/redirected_offsite``,
``settled/redirect_followed`` (requested at the target earlier runs' redirects lead to).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.contracts import Outcome
from crawler.urls.hosts import in_scope

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

    from crawler.store import TopicStore

MAX_REDIRECT_MEMORY_HOPS = 10  # as Scrapy's REDIRECT_MAX_TIMES: a longer chain is one no fetch would finish
UNSETTLED = frozenset({Outcome.ROBOTS_FORBIDDEN, Outcome.OVER_BUDGET, Outcome.LISTED_OUT_OF_WINDOW})
"""Recorded for the report, never settled: robots.txt may allow it later, a budget is per run, a window may
widen."""
NOT_FOUND_RUNS = 2  # a 404 is given up after this many runs, whatever SETTLED_ERROR_RETRY_RUNS says


@dataclass(frozen=True)
class Verdict:
    """What to do with a URL a listing names: fetch ``url`` (the URL itself, or where earlier runs' redirects led),
    or nothing when ``url`` is None. ``reason`` names why, as the spider's per-outlet stat: ``archived_earlier``,
    ``redirect_loop``, ``redirected_offsite``, ``redirect_remembered``; None for a URL fetched as listed."""

    url: str | None
    reason: str | None = None


class SettledMiddleware:
    """Judges article URLs against what earlier runs of the topic settled (see the module docstring)."""

    def __init__(self, stats: StatsCollector, refresh_after_days: float | None, error_retry_runs: int,
                 max_hops: int = MAX_REDIRECT_MEMORY_HOPS) -> None:
        self.stats = stats
        self.refresh_after_days = refresh_after_days or None
        self.error_retry_runs = error_retry_runs
        self.max_hops = max_hops
        self.store: TopicStore | None = None  # the topic's store while the spider is open

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "SettledMiddleware":
        settings = crawler.settings
        if not settings.getbool("SETTLED_ENABLED"):
            raise NotConfigured("SETTLED_ENABLED is off: every listed article is fetched")
        middleware = cls(crawler.stats, settings.getfloat("SETTLED_REFRESH_AFTER_DAYS"),
                         settings.getint("SETTLED_ERROR_RETRY_RUNS"))
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider) -> None:
        run = getattr(spider.crawler, "topic_run", None)  # the crawl's TopicRun (crawler.run), opened before
        self.open(run.store if run is not None else None)

    def spider_closed(self, spider) -> None:
        self.close()

    def open(self, store: TopicStore | None) -> None:
        """Judge against ``store`` from now on (None: no archive, nothing is settled)."""
        self.store = store

    def close(self) -> None:
        self.store = None  # the run owns the store and closes it after the engine stops

    # -- the judgement --
    def verdict(self, url: str, hosts: Collection[str]) -> Verdict:
        """What to fetch for ``url`` (canonical, on the outlet's ``hosts``), given what earlier runs settled."""
        if self.store is None:
            return Verdict(url)
        target = self.redirect_target(url)
        if target is None:  # earlier runs' redirects go round in a loop: nothing to fetch there
            self.stats.inc_value("settled/redirect_loop")
            return Verdict(None, "redirect_loop")
        if self.is_settled(url) or (target != url and self.is_settled(target)) or self.settled_by_redirect(target):
            self.stats.inc_value("settled/skipped")
            return Verdict(None, "archived_earlier")
        if target == url:
            return Verdict(url)
        if not in_scope(target, hosts):
            self.stats.inc_value("settled/redirected_offsite")
            return Verdict(None, "redirected_offsite")
        self.stats.inc_value("settled/redirect_followed")
        return Verdict(target, "redirect_remembered")

    def is_settled(self, url: str) -> bool:
        """Whether an earlier run settled this article (kept, off topic, ...), or gave up on it."""
        previous = self.store.outcome_of(url) if self.store is not None else None
        if previous is None:
            return False
        outcome, attempts, status, fetched_at = previous
        if outcome in UNSETTLED:
            return False
        if outcome == Outcome.ERROR:
            return attempts >= (NOT_FOUND_RUNS if status == 404 else self.error_retry_runs)
        if self.refresh_after_days and fetched_at:
            try:
                age = datetime.now(timezone.utc) - datetime.fromisoformat(fetched_at)
            except ValueError:
                return True
            return age.total_seconds() < self.refresh_after_days * 86400
        return True

    def redirect_target(self, url: str) -> str | None:
        """Where earlier runs' redirects lead from ``url`` (the URL itself when it never redirected); None when
        they go round in a loop, or on past the hops a fetch would follow."""
        seen = {url}
        for _ in range(self.max_hops):
            target = self.store.redirect_of(url) if self.store is not None else None
            if target is None:
                return url
            if target in seen:
                return None
            seen.add(target)
            url = target
        return None

    def settled_by_redirect(self, url: str) -> bool:
        """Whether a URL that redirected to ``url`` (directly or over several hops) was settled."""
        if self.store is None:
            return False
        seen, frontier = {url}, [url]
        for _ in range(self.max_hops):
            frontier = [s for t in frontier for s in self.store.redirect_sources(t) if s not in seen]
            if not frontier:
                return False
            if any(self.is_settled(source) for source in frontier):
                return True
            seen.update(frontier)
        return False
