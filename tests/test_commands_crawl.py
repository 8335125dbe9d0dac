"""``scrapy crawl coverage`` refuses a user's mistake in one line, exit status 2, before anything is written.

Table-driven: each case is a command line a user could type (or a cron job could carry); each must end with one
``error:`` line naming what is wrong, print no traceback, and leave no topic directory behind.
"""

from __future__ import annotations

import pytest

from tests.support.crawl import run_scrapy
from tests.support.example import EXAMPLE

TOPIC = str(EXAMPLE / "topic.toml")
WARC = str(EXAMPLE / "example.warc.gz")


def not_a_warc(tmp_path):
    path = tmp_path / "download.warc.gz"
    path.write_bytes(b"<html><body>502 Bad Gateway</body></html>")
    return ["-s", f"REPLAY_FROM={path}"]


def archive_under_a_file(tmp_path):
    (tmp_path / "plain-file").write_text("x")
    return ["-s", f"ARCHIVE_DIR={tmp_path / 'plain-file' / 'archive'}", "-s", f"REPLAY_FROM={WARC}"]


CASES = [
    ("a number setting given a word", lambda tmp: ["-s", "DOWNLOAD_DELAY=abc"], "-s DOWNLOAD_DELAY=abc: expected a number"),
    ("a whole-number setting given a word", lambda tmp: ["-s", "EXTRACT_WORKERS=many"],
     "-s EXTRACT_WORKERS=many: expected a whole number"),
    ("a switch given a word", lambda tmp: ["-s", "WARC_DEDUP=maybe"], "-s WARC_DEDUP=maybe: expected True or False"),
    ("a setting off by default given a word", lambda tmp: ["-s", "SETTLED_REFRESH_AFTER_DAYS=soon"],
     "-s SETTLED_REFRESH_AFTER_DAYS=soon: expected a number"),
    ("an argument the spider does not take", lambda tmp: ["-a", "until=2021-01-01"],
     "unknown spider argument -a until=..."),
    ("a REPLAY_FROM that is no WARC", not_a_warc, "is not a WARC file"),
    ("a versions clock out of range", lambda tmp: ["-s", "VERSIONS_NOW=0001-01-01T00:00:00"],
     "-s VERSIONS_NOW=0001-01-01T00:00:00: expected an ISO 8601 time"),
    ("a versions schedule of no hours", lambda tmp: ["-s", "VERSIONS_SCHEDULE=nan,-5,inf"],
     "-s VERSIONS_SCHEDULE=nan,-5,inf: expected hours"),
    ("an ARCHIVE_DIR that cannot be created", archive_under_a_file, "check ARCHIVE_DIR"),
]


@pytest.mark.parametrize("case, extra, message", CASES, ids=[c[0] for c in CASES])
def test_a_mistake_gets_one_line_and_leaves_nothing(tmp_path, case, extra, message):
    archive = tmp_path / "archive"
    args = ["crawl", "coverage", "-a", f"topic={TOPIC}", "-s", f"ARCHIVE_DIR={archive}", *extra(tmp_path)]
    result = run_scrapy(args, check=False, timeout=120)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "error: " in last and message in last, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert not (archive / "lavrov-afghanistan").exists()
    assert not (tmp_path / "plain-file" / "archive").exists()


def test_scrapyd_arguments_are_let_through(tmp_path):
    """scrapyd adds ``-a _job=...`` to every job: not the user's mistake."""
    result = run_scrapy(["crawl", "coverage", "-a", f"topic={TOPIC}", "-a", "_job=abc123", "-s",
                         f"ARCHIVE_DIR={tmp_path / 'archive'}", "-s", f"REPLAY_FROM={WARC}", "-s", "EXTRACT_WORKERS=0"],
                        timeout=180)
    assert result.returncode == 0
    # six articles and the later version of one (the example's second run)
    assert len(list((tmp_path / "archive" / "lavrov-afghanistan" / "text").iterdir())) == 7
