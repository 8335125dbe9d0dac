"""The report's sections, in the order report.html and report.md show them (after the outlets table, before
the list of kept articles); each adds its data to report.json under its key, and one with nothing to show (an
empty fragment) leaves no heading either. A new section is a module of its
own defining ``SECTION = Section(...)`` (``crawler.report.section``), imported and added to this list: nothing
else changes."""

from __future__ import annotations

from crawler.report.history import SECTION as RUNS
from crawler.report.reasons import SECTION as NOT_KEPT
from crawler.report.section import Section
from crawler.report.sources import SECTION as SOURCES
from crawler.report.versions import SECTION as VERSIONS

SECTIONS: list[Section] = [
    NOT_KEPT,
    SOURCES,
    RUNS,
    VERSIONS,
]
