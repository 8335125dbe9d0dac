"""`scrapy rebuild-state` refuses a topic a crawl is running on, and survives a manifest of odd lines."""

from __future__ import annotations

import pytest

from tests.support.crawl import run_scrapy
from tests.support.processes import hold_lock


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
    holder = hold_lock(topic / "crawl.lock")
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
