"""`scrapy rebuild-state` refuses a topic a crawl is running on, and survives a manifest of odd lines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from crawler.lock import TopicLock, TopicLocked
from tests.support.crawl import REPO, run_scrapy


def _hold_lock(path: Path) -> subprocess.Popen:
    code = ("import sys,time;sys.path.insert(0,%r);from crawler.lock import TopicLock;"
            "l=TopicLock(%r).acquire();print('held',flush=True);time.sleep(60)") % (str(REPO), str(path))
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_rebuild_state_ignores_running_crawl(tmp_path):
    """`scrapy rebuild-state` on a topic a live crawl holds: must refuse, not delete the state under it."""
    topic = tmp_path / "t"
    (topic / "text").mkdir(parents=True)
    (topic / "warc").mkdir()
    from crawler.store import SqliteStore as State
    st = State(topic / "state.sqlite")
    st.close() if hasattr(st, "close") else None
    (topic / "manifest.jsonl").write_text("")
    # an article of the live crawl between its text file and its manifest line
    inflight = topic / "text" / "000_0123456789abcdef.txt"
    inflight.write_text(" date 2021-07-16 Title\n\nBody\n")
    ino = (topic / "state.sqlite").stat().st_ino
    holder = _hold_lock(topic / "crawl.lock")
    try:
        result = run_scrapy(["rebuild-state", str(topic)], check=False)
        print(result.returncode, result.stdout, result.stderr[-2000:])
        assert inflight.exists(), "in-flight text file of the running crawl was removed"
        assert (topic / "state.sqlite").stat().st_ino == ino, "state.sqlite of the running crawl was replaced"
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("line", ['{"file": 5, "url": "http://a/"}', '{"file": ["x"]}', '{"file": "000_0123456789abcdef.txt"}',
                                  '{"file": "000_0123456789abcdef.txt", "url": "http://a/", "canonical_url": 7}'])
def test_rebuild_state_odd_manifest(tmp_path, line):
    topic = tmp_path / "t"
    (topic / "text").mkdir(parents=True)
    (topic / "warc").mkdir()
    (topic / "manifest.jsonl").write_text(line + "\n")
    result = run_scrapy(["rebuild-state", str(topic)], check=False)
    print(result.returncode, result.stdout, result.stderr[-3000:])
    assert "Traceback" not in result.stderr
