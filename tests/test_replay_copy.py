"""A replay copies the records it serves into the topic's warc/ (crawler/archive/replay/copy.py): the commands
that need an archive work on a replayed topic, and a replay of the topic's own archive copies nothing again."""

from __future__ import annotations

from tests.support.crawl import crawl, run_scrapy
from tests.support.example import EXAMPLE, replay_example


def test_commands_work_on_a_replayed_topic_and_its_own_records_are_not_copied_twice(tmp_path):
    archive = tmp_path / "archive"
    stats, topic_dir = replay_example(archive)
    assert stats["replay/records_copied"] > 0
    files = sorted((topic_dir / "warc").glob("*.warc.gz"))
    assert len(files) == 1

    wacz = run_scrapy(["wacz", str(topic_dir), "-o", str(tmp_path / "topic.wacz")])
    assert "7 pages" in wacz.stdout + wacz.stderr  # six articles and the later version of one
    reextracted = run_scrapy(["reextract", str(topic_dir)])
    assert "7 unchanged, 0 without a record" in reextracted.stdout + reextracted.stderr

    again, _ = crawl("coverage", archive, spider_args={"topic": str(EXAMPLE / "topic.toml")},
                     settings={"REPLAY_FROM": str(topic_dir / "warc"), "EXTRACT_WORKERS": "0"})
    assert again.get("replay/hit") and not again.get("replay/records_copied")
    assert sorted((topic_dir / "warc").glob("*.warc.gz")) == files


def test_the_same_replay_run_again_copies_no_record_twice(tmp_path):
    """A scheduled job replaying one source into one archive every day: the second and third runs serve the
    listings again (robots.txt, home pages, feeds, sitemaps), and find their copies in the topic's index instead
    of writing them again."""
    archive = tmp_path / "archive"
    first, topic_dir = replay_example(archive)
    files = sorted((topic_dir / "warc").glob("*.warc.gz"))
    index = (topic_dir / "index.cdxj").read_text()
    for _ in range(2):
        again, _ = crawl("coverage", archive, spider_args={"topic": str(EXAMPLE / "topic.toml")},
                         settings={"REPLAY_FROM": str(EXAMPLE / "example.warc.gz"), "EXTRACT_WORKERS": "0"})
        assert again.get("replay/hit") and not again.get("replay/records_copied")
    assert sorted((topic_dir / "warc").glob("*.warc.gz")) == files
    assert (topic_dir / "index.cdxj").read_text() == index
