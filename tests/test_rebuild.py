"""``scrapy rebuild-state``: a state rebuilt from an archive a crash left behind agrees with the manifest."""

from __future__ import annotations

from crawler.rebuild import rebuild_state
from crawler.store import SqliteStore
from pipelines.textfiles import SEQUENCE
from tests.support.crawl import run_scrapy
from tests.support.archives import archive_with_leftovers


def test_rebuild_state_heals_an_archive_a_crash_left(tmp_path):
    """rebuild-state used to keep the orphan text file and its number: the next crawl then numbered after a
    file no manifest line names."""
    paths, state, names, outside = archive_with_leftovers(tmp_path / "topic")
    state.close()
    result = run_scrapy(["rebuild-state", str(paths.root)])
    assert "2 interrupted text file(s) removed" in result.stdout
    assert not (paths.text_dir / names[2]).exists()
    assert (paths.text_dir / "notes.txt").exists() and outside.read_text() == "keep"
    rebuilt = SqliteStore(paths.state)
    assert rebuilt.file_for_url("http://a.test/2") is None
    assert rebuilt.outcome_of("http://a.test/0")[0] == "kept"
    assert rebuilt.next_value(SEQUENCE) == 2
    rebuilt.close()


def test_rebuild_counts_what_it_restored(tmp_path):
    paths, state, _, _ = archive_with_leftovers(tmp_path / "topic")
    state.close()
    counts = rebuild_state(paths, 128, 3)
    assert counts["kept"] == 2 and counts["orphans_removed"] == 2
