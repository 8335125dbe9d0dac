"""A report section: one module's part of report.json, report.html and report.md.

The report is a list of sections (``crawler.report.sections.SECTIONS``). Each is a :class:`Section`: a key in
report.json, a heading, and three plain functions — ``gather`` reads the archive (a :class:`Context`, built once
per report) and returns JSON-serialisable data; ``html`` and ``markdown`` turn that data (and the whole report,
for names and totals) into a fragment. A section that has nothing to say returns an empty fragment. Rendering
never reads the archive, so ``report.json`` alone can be rendered again, and a section is testable on its own.

Names, titles and URLs in a section's data come from the web: render them through ``crawler.report.text``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from crawler.paths import TopicPaths
from crawler.store import OutcomeRecord, TopicStore
from crawler.topic import Topic, slugify


@dataclass
class Context:
    """What the sections of one report read, gathered once: the archive's paths, its topic file (None when it
    is missing or broken), its manifest lines, the store's outcome records (articles), the stats of the crawl
    that ends (``live``) or the last crawl's (rebuilt), the previous report.json, and the outlets' names."""

    paths: TopicPaths
    topic: Topic | None
    entries: list[dict]
    records: list[OutcomeRecord]
    stats: dict[str, Any]
    live: bool
    previous: dict[str, Any]
    names: dict[str, str]
    store: TopicStore | None = None  # the store itself, for a section that needs more than the outcome records
    generated_at: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # scratch space sections may share, keyed by section key

    def outlet_of(self, entry: dict) -> str:
        """The slug of a manifest line's outlet."""
        return entry.get("outlet_slug") or slugify(entry.get("outlet") or "")


@dataclass(frozen=True)
class Section:
    """One part of the report (see the module docstring)."""

    key: str  # its data's key in report.json
    title: str  # its heading in report.html and report.md
    gather: Callable[[Context], Any]
    html: Callable[[Any, dict[str, Any]], str]  # (its data, the whole report) -> an HTML fragment, "" for none
    markdown: Callable[[Any, dict[str, Any]], str]  # (its data, the whole report) -> markdown lines, "" for none
