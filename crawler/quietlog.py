"""A crawl's log at INFO says what the crawl did, not how Scrapy was put together.

A replay of the 26-record example logged some 170 lines at INFO, most of them listings: the enabled add-ons,
extensions, middlewares and pipelines (one line per component), the overridden settings, and at the end every
stats counter (a hundred lines). They help when debugging a crawl and bury what a user running one looks for, so
they are logged at DEBUG here (``-L DEBUG`` shows them as before; the final stats are also in ``report.json``'s
``last_run_stats`` and, as JSON, in ``STATSFILE_PATH``). Libraries that chat at INFO are quieted at their own
logger, to WARNING: matplotlib, which the report's timeline draws with, logs an INFO line per outlet ("Using
categorical units ...", the days given as strings). A library's warning about its own dependencies is ignored.

Installed by an add-on (:class:`QuietLogAddon`, first in ``ADDONS``) so that it is in place before Scrapy lists
the add-ons, and once per process however many crawlers it runs.
"""

from __future__ import annotations

import logging
import re
import warnings
from typing import Any

# logger -> the starts of its INFO messages logged at DEBUG instead.
DEMOTED = {
    "scrapy.addons": ("Enabled addons:",),
    "scrapy.middleware": ("Enabled ",),  # extensions, downloader and spider middlewares, item pipelines
    "scrapy.crawler": ("Overridden settings:",),
    "scrapy.statscollectors": ("Dumping Scrapy stats:",),
}
QUIETED = ("matplotlib",)  # loggers of libraries whose INFO lines say nothing to a user: WARNING and above only
# Warnings of a library about its own dependencies, which a user can do nothing about: (message start, module).
IGNORED_WARNINGS = (("pkg_resources is deprecated", "pyamf"),)  # pyamf, imported by the CDXJ indexer


class Demote(logging.Filter):
    """A logger filter that turns its INFO records starting with one of ``starts`` into DEBUG ones: handlers at
    INFO (Scrapy's, at ``LOG_LEVEL``) then drop them, handlers at DEBUG show them."""

    def __init__(self, starts: tuple[str, ...]) -> None:
        super().__init__()
        self.starts = starts

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.INFO and isinstance(record.msg, str) and record.msg.startswith(self.starts):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True


def quiet_logging() -> None:
    """Install the demotions and quiet the chatty libraries (idempotent)."""
    for name, starts in DEMOTED.items():
        target = logging.getLogger(name)
        if not any(isinstance(f, Demote) for f in target.filters):
            target.addFilter(Demote(starts))
    for message, module in IGNORED_WARNINGS:
        warnings.filterwarnings("ignore", message=re.escape(message), category=UserWarning, module=module)
    for name in QUIETED:
        library = logging.getLogger(name)
        if library.level == logging.NOTSET or library.level < logging.WARNING:
            library.setLevel(logging.WARNING)


class QuietLogAddon:
    """Calls :func:`quiet_logging` as each crawler is built, before Scrapy logs its listings."""

    def update_settings(self, settings: Any) -> None:
        quiet_logging()
