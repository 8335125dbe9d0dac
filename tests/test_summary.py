"""The closing summary: its lines from a crawl's figures, and a real crawl printing it on stderr at ``-L WARNING``."""

from __future__ import annotations

import json
from pathlib import Path

from crawler.extensions.summary import summary_lines
from tests.support.crawl import run_scrapy
from tests.support.example import EXAMPLE

OUTLETS = [("alpha", "Alpha Daily"), ("the-beta-tribune-of-very-long-names", "The Beta Tribune of Very Long Names")]
STATS = {"coverage/alpha/kept": 2, "coverage/alpha/fetched": 9, "coverage/alpha/errors": 1,
         "coverage/alpha/discovery_errors": 2, "coverage/the-beta-tribune-of-very-long-names/fetched": 1}


def test_lines_name_kept_new_errors_per_outlet_and_the_output(tmp_path):
    (tmp_path / "text").mkdir()
    (tmp_path / "report.html").write_text("")
    lines = summary_lines(topic="story", outlets=OUTLETS, stats=STATS, root=tmp_path, reason="finished",
                          kept_total={"alpha": 5, "the-beta-tribune-of-very-long-names": 1}, seconds=12.4)
    assert lines == [
        "presswarc: story finished in 12 s: 6 articles kept, 2 new; 3 errors",
        "  Alpha Daily                      5 kept (2 new), 9 fetched, 3 errors",
        "  The Beta Tribune of Very Lo…     1 kept (0 new), 1 fetched, 0 errors",
        f"output: {tmp_path} (report.html, text/)",
    ]


def test_a_worker_of_a_distributed_crawl_says_its_share_is_its_own(tmp_path):
    lines = summary_lines(topic="story", outlets=OUTLETS[:1], stats=STATS, kept_total={"alpha": 7}, root=tmp_path,
                          reason="shutdown", seconds=4000, worker="host-a/123")
    assert lines[0] == ("presswarc worker host-a/123: story stopped (shutdown) in 66 min 40 s: 7 articles kept, "
                        "2 new by this worker; 3 errors")
    assert lines[-1] == f"output: {tmp_path}"


def replay(archive: Path, *options: str):
    return run_scrapy(["crawl", "coverage", "-a", f"topic={EXAMPLE / 'topic.toml'}", "-s", f"ARCHIVE_DIR={archive}",
                       "-s", f"REPLAY_FROM={EXAMPLE / 'example.warc.gz'}", "-s", "EXTRACT_WORKERS=0", *options])


def test_a_crawl_at_warning_level_ends_with_the_summary_on_stderr(tmp_path):
    first = replay(tmp_path / "archive", "-L", "WARNING")
    root = tmp_path / "archive" / "lavrov-afghanistan"
    kept = sum(1 for line in (root / "manifest.jsonl").read_text().splitlines()
               if "version" not in json.loads(line))  # articles, not their later versions
    lines = first.stderr.splitlines()
    assert not [line for line in lines if " INFO: " in line or " DEBUG: " in line]
    start = next(i for i, line in enumerate(lines) if line.startswith("presswarc: lavrov-afghanistan finished in "))
    summary = lines[start:]
    assert f": {kept} articles kept, {kept} new; " in summary[0] and kept > 0
    for name in ("The Moscow Times", "Central Asia Wire", "ZeroHedge", "Far East Herald", "Rundschau 24"):
        assert sum(line.startswith(f"  {name} ") for line in summary) == 1, summary
    assert summary[-1] == f"output: {root} (report.html, text/, manifest.jsonl, warc/)"
    assert first.stdout == ""

    second = replay(tmp_path / "archive", "-L", "WARNING")  # nothing new: the archive's total stays
    headline = next(line for line in second.stderr.splitlines() if line.startswith("presswarc: "))
    assert f": {kept} articles kept, 0 new; " in headline


def test_off_with_summary_enabled_false(tmp_path):
    result = replay(tmp_path / "archive", "-L", "WARNING", "-s", "SUMMARY_ENABLED=False")
    assert "presswarc: lavrov-afghanistan" not in result.stderr
