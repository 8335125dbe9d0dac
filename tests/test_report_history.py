"""The run history: each crawl's start, duration, new articles and end, newest first, carried from report to
report; a report rebuilt without crawling adds none."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from crawler.report import write_report


def test_each_crawl_adds_its_run_and_a_rebuild_adds_none(tmp_path):
    first = {"start_time": datetime(2021, 7, 16, 6, 0, tzinfo=timezone.utc), "elapsed_time_seconds": 75.2,
             "coverage/alpha/kept": 3, "coverage/beta/kept": 1, "coverage/alpha/errors": 2, "finish_reason": "finished"}
    second = {"start_time": datetime(2021, 7, 16, 12, 0, tzinfo=timezone.utc), "elapsed_time_seconds": 3700,
              "coverage/alpha/kept": 1, "finish_reason": "shutdown"}
    write_report(tmp_path, first)
    written = write_report(tmp_path, second)
    runs = json.loads(written["json"].read_text())["runs"]
    assert [(r["started"], r["seconds"], r["new_articles"], r["errors"], r["finish_reason"]) for r in runs] == [
        ("2021-07-16T12:00:00+00:00", 3700, 1, 0, "shutdown"), ("2021-07-16T06:00:00+00:00", 75.2, 4, 2, "finished")]
    rebuilt = write_report(tmp_path)
    assert json.loads(rebuilt["json"].read_text())["runs"] == runs
    page, markdown = rebuilt["html"].read_text(), rebuilt["md"].read_text()
    assert "<td data-label=\"took\">1 h 01 min</td>" in page and "<td data-label=\"took\">1 min 15 s</td>" in page
    assert "| 2021-07-16 06:00:00 UTC | 1 min 15 s | 4 | 2 | finished |" in markdown
    assert "Report made " in page and "Report made " in markdown


def test_without_a_crawl_the_history_says_it_starts_later(tmp_path):
    page = write_report(tmp_path)["html"].read_text()
    assert "No crawl recorded yet" in page
