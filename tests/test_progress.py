"""The progress display: its figures per outlet, its log line, off when PROGRESS_INTERVAL is 0; in a real crawl,
plain lines when not on a terminal, and on one a live table that log lines do not break."""

from __future__ import annotations

import logging
import os
import re
import sys
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler.extensions.progress import Progress, outlet_rows, progress_line
from tests.support.crawl import REPO, run_scrapy
from tests.support.example import EXAMPLE
from tests.support.terminal import run_on_terminal, screen

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


# -- a real crawl: plain lines in logs, a live table on a terminal ----------------------------------------------

TABLE_TITLE = "presswarc: WARC "
BOX = set("┏┓┗┛┃━┡┩│─└┘┌┐├┤┼╇╈╋┳┻")
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \[[\w.]+\] [A-Z]+: ")


def example_args(archive: Path, *options: str) -> list[str]:
    return ["crawl", "coverage", "-a", f"topic={EXAMPLE / 'topic.toml'}", "-s", f"ARCHIVE_DIR={archive}",
            "-s", f"REPLAY_FROM={EXAMPLE / 'example.warc.gz'}", "-s", "EXTRACT_WORKERS=0",
            "-s", "PROGRESS_INTERVAL=0.05", *options]


def test_not_on_a_terminal_progress_is_plain_lines_without_escape_codes(tmp_path):
    result = run_scrapy(example_args(tmp_path / "archive", "-L", "INFO"))
    assert "\x1b" not in result.stderr and "\x1b" not in result.stdout
    assert not BOX & set(result.stderr)
    progress = [line for line in result.stderr.splitlines() if "[crawler.progress] INFO: progress (" in line]
    assert progress and all(LOG_LINE.match(line) for line in progress)


def test_on_a_terminal_the_live_table_stays_whole_while_log_lines_go_above_it(tmp_path):
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(PYTHONPATH=str(REPO), SCRAPY_SETTINGS_MODULE="crawler.settings")
    status, output = run_on_terminal([sys.executable, "-m", "scrapy", *example_args(tmp_path / "archive",
                                                                                   "-L", "DEBUG")],
                                     env=env, cwd=str(REPO))
    assert status == 0, output[-3000:]
    assert "\x1b[" in output  # drawn in place, with cursor movements
    lines = screen(output)
    titles = [i for i, line in enumerate(lines) if TABLE_TITLE in line]
    assert len(titles) == 1, "\n".join(lines)  # one table left on the screen, not pieces of its drawings
    start = titles[0]
    end = next(i for i in range(start, len(lines)) if lines[i].lstrip().startswith("└"))
    table = lines[start + 1:end + 1]
    assert all(line.strip()[0] in BOX for line in table), "\n".join(table)  # no log line inside it
    for slug in ("the-moscow-times", "central-asia-wire", "zerohedge", "far-east-herald", "rundschau-24"):
        assert sum(slug in line for line in table) == 1
    logged = [line for line in lines[:start] if LOG_LINE.match(line)]
    assert len(logged) > 50  # the log went above the table, each line whole
    assert not [line for line in lines if LOG_LINE.match(line) and BOX & set(line)]
    assert any(line.startswith("presswarc: lavrov-afghanistan finished") for line in lines[end:])
