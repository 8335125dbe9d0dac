"""The private Scrapy hooks of ``crawler.compat`` still exist in the installed Scrapy (a loud failure if not)."""

from __future__ import annotations

import inspect

from scrapy.core.downloader import Downloader
from scrapy.core.engine import ExecutionEngine
from scrapy.core.scraper import Slot


def test_engine_has_the_attributes_engine_drained_reads():
    source = inspect.getsource(ExecutionEngine)
    assert "self._start" in source and "self._slot" in source
    assert "scheduler" in inspect.getsource(ExecutionEngine.spider_is_idle)
    assert "self.active" in inspect.getsource(Downloader.__init__)


def test_scraper_slot_counts_items_in_progress():
    slot = Slot()
    assert hasattr(slot, "itemproc_size") and hasattr(slot, "queue")
