"""The report's data (report.json): the core figures, then each section's (``crawler.report.sections``).

Everything comes from the archive itself (``manifest.jsonl``, the store, the topic file kept beside them), so
``presswarc report DIR`` rebuilds the report at any time without crawling; a crawl's stats add what only the run
knows (this run's errors, what listings dated outside the window and the crawl never fetched).
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections import Counter, defaultdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from crawler.contracts import NOT_KEPT, Kind, Outcome
from crawler.paths import TopicPaths
from crawler.report.section import Context
from crawler.report.sections import SECTIONS
from crawler.report.timeline import timeline_data
from crawler.store import OutcomeRecord, SqliteStore, TopicStore
from crawler.topic import TopicError, load_topic
from pipelines.manifest import read_manifest

logger = logging.getLogger(__name__)

OUTCOMES = NOT_KEPT
"""Every reason an article gets no text file (crawler.contracts.Outcome): a figure and a column each, so what a
component records always shows."""
COUNTED_AS = {Outcome.TOO_LARGE: Outcome.ERROR,  # a page over DOWNLOAD_MAXSIZE is an error the report counts
              Outcome.LISTED_OUT_OF_WINDOW: Outcome.OUT_OF_WINDOW}  # dated outside by a listing, not fetched
STATS_ALSO = {Outcome.OUT_OF_WINDOW: "skipped_out_of_window"}  # the run's count of those (the store names the first
# SKIPPED_NAMED of each sitemap only)


def figure(outcome: Outcome | str) -> str:
    """The report's key of an outcome's figure: the outcome's name (``errors`` for ``error``)."""
    outcome = COUNTED_AS.get(outcome, outcome)  # type: ignore[call-overload]
    return "errors" if outcome == Outcome.ERROR else str(outcome)


def _records(paths: TopicPaths, store: TopicStore | None) -> list[OutcomeRecord]:
    """The store's article outcomes: the crawl's own store, or state.sqlite opened read-only."""
    if store is not None:
        return store.outcome_records(Kind.ARTICLE)
    if not paths.state.exists():
        return []
    try:
        state = SqliteStore(paths.state, read_only=True)
        try:
            return state.outcome_records(Kind.ARTICLE)
        finally:
            state.close()
    except sqlite3.Error as exc:
        logger.warning("report: cannot read %s (%s); outcomes come from the stats only", paths.state, exc)
        return []


def _previous_report(report_json: Path) -> dict[str, Any]:
    try:
        previous = json.loads(report_json.read_text(encoding="utf-8"))
        return previous if isinstance(previous, dict) else {}
    except (OSError, ValueError):
        return {}


def context(root: Path, stats: dict[str, Any] | None = None, store: TopicStore | None = None) -> Context:
    """Read the archive at ``root`` once, for every part of the report."""
    paths = TopicPaths(Path(root))
    previous = _previous_report(paths.root / "report.json")
    live = stats is not None
    if stats is None:  # rebuilt without a crawl: the last crawl's figures, kept in the previous report
        stats = previous.get("last_run_stats") or {}
    topic = None
    if (paths.root / "topic.toml").exists():
        try:
            topic = load_topic(paths.root / "topic.toml")
        except TopicError as exc:
            logger.warning("report: %s", exc)
    lines = list(read_manifest(paths.manifest))  # later versions of an article: the section "Changed articles"
    ctx = Context(paths, topic, [e for e in lines if not e.get("version")], _records(paths, store), dict(stats), live,
                  previous, {o.slug: o.name for o in topic.outlets} if topic else {}, store,
                  datetime.now(timezone.utc).isoformat(timespec="seconds"), extra={"versions": lines})
    for entry in ctx.entries:
        ctx.names.setdefault(ctx.outlet_of(entry), entry.get("outlet") or "")
    for record in ctx.records:
        ctx.names.setdefault(record.outlet or "unknown", record.outlet or "unknown")
    return ctx


def _outlet_rows(ctx: Context) -> dict[str, dict[str, Any]]:
    counts: dict[str, Counter] = defaultdict(Counter)
    for record in ctx.records:
        if record.outcome != Outcome.KEPT:
            counts[record.outlet or "unknown"][figure(record.outcome)] += 1
    outlets = {}
    for slug, name in ctx.names.items():
        mine = [e for e in ctx.entries if ctx.outlet_of(e) == slug]
        row = {"name": name, "kept": len(mine), "paywalled": sum(1 for e in mine if e.get("paywalled")),
               "near_duplicates": sum(1 for e in mine if e.get("duplicate_of")),
               "via": dict(Counter(e.get("via") or "unknown" for e in mine))}
        for outcome in OUTCOMES:
            key = figure(outcome)
            from_state, from_stats = counts[slug][key], ctx.stats.get(f"coverage/{slug}/{key}", 0)
            if outcome in STATS_ALSO:
                from_stats += ctx.stats.get(f"coverage/{slug}/{STATS_ALSO[outcome]}", 0)
            row[key] = max(from_state, from_stats)
        outlets[slug] = row
    return outlets


def _articles(ctx: Context) -> list[dict[str, Any]]:
    by_file = {e.get("file"): e for e in ctx.entries}
    articles = []
    for e in sorted(ctx.entries, key=lambda e: (e.get("published") or "", e.get("outlet") or "", e.get("file") or "")):
        original = by_file.get(e.get("duplicate_of")) if e.get("duplicate_of") else None
        articles.append({
            "published": e.get("published"), "outlet": e.get("outlet"), "title": e.get("title"), "file": e.get("file"),
            "url": e.get("url"), "words": e.get("words"), "duplicate_of": e.get("duplicate_of"),
            "similarity": e.get("similarity"), "paywalled": bool(e.get("paywalled")), "via": e.get("via"),
            "duplicate_of_outlet": original.get("outlet") if original else None,
            "duplicate_of_title": original.get("title") if original else None,
        })
    return articles


def build_report(root: Path, stats: dict[str, Any] | None = None, store: TopicStore | None = None) -> dict[str, Any]:
    """The report's data for the topic archive at ``root``: the core figures, then every section's under its key.
    ``stats`` are the ending crawl's (None: rebuilt from the archive); ``store`` the crawl's own store (None:
    state.sqlite, read-only)."""
    ctx = context(root, stats, store)
    outlets = _outlet_rows(ctx)
    since, until, unit, timeline, undated = timeline_data(ctx)
    totals = {key: sum(row[key] for row in outlets.values())
              for key in ("kept", "paywalled", "near_duplicates", *map(figure, OUTCOMES))}
    report: dict[str, Any] = {
        "topic": ctx.topic.name if ctx.topic else ctx.paths.root.name,
        "query": ctx.topic.query.text if ctx.topic else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "generated_at": ctx.generated_at,
        "totals": totals, "outlets": outlets, "timeline": timeline, "timeline_bin": unit,
        "undated": undated, "articles": _articles(ctx),
        "warc_bytes": ctx.stats.get("warc/bytes_payload"),
        "last_run_stats": {k: v for k, v in ctx.stats.items() if k.startswith(("coverage/", "warc/", "extract/"))
                           and isinstance(v, (int, float))},
    }
    for section in SECTIONS:
        report[section.key] = section.gather(ctx)
    return report
