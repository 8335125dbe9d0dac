"""The stats file: the crawl's final stats as JSON, which tests, benchmarks and scripts read after a crawl."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.extensions.statsfile import StatsFile


def closed_crawl(path: Path, reason: str, values: dict[str, Any]) -> dict[str, Any]:
    """Open and close a spider on a real crawler with ``STATSFILE_PATH=path`` (Scrapy's own stats extensions
    included), with ``values`` set in between; returns the file's contents."""
    crawler = get_crawler(Spider, {"STATSFILE_PATH": str(path)})
    extension = StatsFile.from_crawler(crawler)  # held: the signal manager keeps only a weak reference
    spider = Spider("s")
    crawler.signals.send_catch_log(signals.spider_opened, spider=spider)
    for key, value in values.items():
        crawler.stats.set_value(key, value)
    crawler.signals.send_catch_log(signals.spider_closed, spider=spider, reason=reason)
    assert extension.path == path
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_final_stats_are_written_with_the_finish_reason(tmp_path):
    path = tmp_path / "runs" / "one" / "stats.json"  # a directory that does not exist yet
    stats = closed_crawl(path, "disk_full", {"coverage/alpha/off_topic": 3,
                                             "first_article": datetime(2021, 7, 16, 8, 30, tzinfo=timezone.utc)})
    assert stats["coverage/alpha/off_topic"] == 3 and stats["finish_reason"] == "disk_full"
    assert stats["first_article"] == "2021-07-16T08:30:00+00:00"  # datetimes as ISO 8601
    assert datetime.fromisoformat(stats["finish_time"]) >= datetime.fromisoformat(stats["start_time"])


def test_a_value_json_cannot_hold_is_written_as_text(tmp_path):
    """A component may count with a value JSON has no type for (a path); the file is still written."""
    path = tmp_path / "stats.json"
    assert closed_crawl(path, "finished", {"where": tmp_path})["where"] == str(tmp_path)


def test_without_the_setting_the_extension_is_off():
    with pytest.raises(NotConfigured):
        StatsFile.from_crawler(get_crawler(Spider))
