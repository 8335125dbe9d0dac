"""The progress display: its figures per outlet, its log line, and off when PROGRESS_INTERVAL is 0."""

from __future__ import annotations

import logging

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler.extensions.progress import Progress, outlet_rows, progress_line

STATS = {"coverage/alpha/discovered": 10, "coverage/alpha/fetched": 8, "coverage/alpha/kept": 5,
         "coverage/alpha/off_topic": 2, "coverage/alpha/errors": 1, "coverage/alpha/discovery_errors": 2,
         "coverage/beta/discovered": 3, "warc/bytes_payload": 123456, "downloader/request_count": 40}


def test_rows_per_outlet():
    rows = outlet_rows(STATS)
    assert rows == {"alpha": {"discovered": 10, "fetched": 8, "kept": 5, "off_topic": 2, "errors": 3},
                    "beta": {"discovered": 3, "fetched": 0, "kept": 0, "off_topic": 0, "errors": 0}}


def test_log_line():
    assert progress_line(STATS) == ("progress (discovered/fetched/kept/off-topic/errors): alpha 10/8/5/2/3; "
                                    "beta 3/0/0/0/0; WARC 123,456 bytes")


def test_off_when_interval_is_zero():
    with pytest.raises(NotConfigured):
        Progress.from_crawler(get_crawler(settings_dict={"PROGRESS_INTERVAL": 0}))


def test_one_info_line_per_tick_in_logs(caplog):
    crawler = get_crawler(settings_dict={"PROGRESS_INTERVAL": 5})
    crawler.stats = MemoryStatsCollector(crawler)
    crawler.stats.set_stats(dict(STATS))
    extension = Progress(crawler, 5, live=False)
    with caplog.at_level(logging.INFO, logger="crawler.progress"):
        extension.tick()
        extension.tick()
    lines = [r.getMessage() for r in caplog.records if r.name == "crawler.progress"]
    assert len(lines) == 2 and "alpha 10/8/5/2/3" in lines[0]
