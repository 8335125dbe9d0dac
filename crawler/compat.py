"""Private Scrapy internals the crawl relies on, each in one place with the public API it lacks.

``tests/test_compat.py`` fails when one of these hooks disappears from the installed Scrapy.
"""

from __future__ import annotations

from typing import Any


def engine_drained(engine: Any) -> bool:
    """Nothing queued, nothing downloading, every start request handed out.

    Missing public API: Scrapy's ``ExecutionEngine.spider_is_idle()`` also requires the scraper to have no item
    in progress; the capture-order pipeline holds items on purpose and needs the rest of that test alone.
    """
    if engine.downloader.active:
        return False
    if engine._start is not None:  # noqa: SLF001 - start requests not all consumed
        return False
    return not engine._slot.scheduler.has_pending_requests()  # noqa: SLF001
