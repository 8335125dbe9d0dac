"""The dedup pipeline on single articles: exact duplicates dropped, wire copies pointed at the first copy.

One article must never get two text files, however its URL is spelled; a wire story several outlets ran is
research data, so its copies are written but name the first one written (``duplicate_of``), and that holds
across runs because the index lives in the topic's state.
"""

from __future__ import annotations

import pytest

from crawler.signals import text_file_written
from crawler.state import close_state
from crawler.store import SqliteStore as State
from pipelines.dedup import DedupPipeline, shingles
from pipelines.relevance import NotKept
from tests.support.pipelines import article_item, topic_crawler

WIRE = ("Russian Foreign Minister Sergei Lavrov said on Friday that the American mission in Afghanistan had failed "
        "and that the Taliban now controlled about two thirds of the country's border. Speaking at a regional "
        "conference in Tashkent attended by the Afghan president Ashraf Ghani, Lavrov said Moscow was ready to "
        "help talks between the government in Kabul and the movement, and warned against any spread of "
        "instability into Central Asia, where Russia keeps a military base in Tajikistan.")
OTHER = ("The city council of Tashkent approved on Tuesday a new budget for the repair of roads and bridges, "
         "with most of the money going to the districts south of the river, where the floods of last spring "
         "damaged several crossings and closed the main market for a week.")


def pipeline_for(archive) -> DedupPipeline:
    pipeline = DedupPipeline.from_crawler(topic_crawler(archive))
    pipeline.open_spider()
    return pipeline


@pytest.fixture
def archive(tmp_path):
    yield tmp_path / "archive"
    close_state(tmp_path / "archive" / "wire" / "state.sqlite")


def written(pipeline: DedupPipeline, item, file: str):
    """What the text files pipeline does once it wrote ``file``: claim it in the state, send the signal."""
    item.file = file
    pipeline.state.add_file(item.canonical_url, file, item.text_sha256, item.outlet_slug)
    pipeline.crawler.signals.send_catch_log(signal=text_file_written, item=item)
    return item


def test_one_canonical_url_gets_one_file_however_it_is_spelled(archive):
    pipeline = pipeline_for(archive)
    first = pipeline.process_item(article_item("https://www.alpha.test/news/a", "alpha", "Lavrov", WIRE))
    assert first.canonical_url == "https://www.alpha.test/news/a" and first.duplicate_of is None
    written(pipeline, first, "000_aaaaaaaaaaaaaaaa.txt")
    again = article_item("https://www.alpha.test/news/a?utm_source=rss&utm_medium=feed", "alpha", "Lavrov",
                         WIRE.replace("Friday", "Saturday"))
    with pytest.raises(NotKept) as dropped:
        pipeline.process_item(again)
    assert dropped.value.outcome == "duplicate"
    assert "same canonical URL as 000_aaaaaaaaaaaaaaaa.txt" in str(dropped.value)
    assert pipeline.stats.get_value("coverage/alpha/duplicate") == 1
    assert State(archive / "wire" / "state.sqlite").outcome_of(again.url)[0] == "duplicate"


def test_a_declared_canonical_counts_only_on_the_outlets_own_hosts(archive):
    pipeline = pipeline_for(archive)
    amp = article_item("https://www.alpha.test/amp/a", "alpha", "Lavrov", WIRE,
                       canonical_url="https://alpha.test/news/a")  # the outlet's bare host is one of its hosts
    assert pipeline.process_item(amp).canonical_url == "https://alpha.test/news/a"
    elsewhere = article_item("https://beta.test/b", "beta", "Lavrov", OTHER, canonical_url="https://www.alpha.test/x")
    assert pipeline.process_item(elsewhere).canonical_url == "https://beta.test/b"


def test_the_same_text_twice_on_one_outlet_is_one_file_but_on_two_outlets_a_marked_copy(archive):
    pipeline = pipeline_for(archive)
    first = written(pipeline, pipeline.process_item(article_item("https://www.alpha.test/a", "alpha", "Lavrov", WIRE)),
                    "000_aaaaaaaaaaaaaaaa.txt")
    with pytest.raises(NotKept, match="same text as 000_aaaaaaaaaaaaaaaa.txt"):
        pipeline.process_item(article_item("https://www.alpha.test/world/a-copy", "alpha", "Lavrov", WIRE))
    copy = pipeline.process_item(article_item("https://beta.test/a", "beta", "Lavrov", WIRE))
    assert copy.text_sha256 == first.text_sha256
    assert copy.duplicate_of == "000_aaaaaaaaaaaaaaaa.txt" and copy.similarity == 1.0
    assert pipeline.stats.get_value("coverage/beta/near_duplicate") == 1


def test_an_edited_wire_copy_points_at_the_first_copy_and_a_copy_never_becomes_an_original(archive):
    pipeline = pipeline_for(archive)
    written(pipeline, pipeline.process_item(article_item("https://www.alpha.test/a", "alpha", "Lavrov", WIRE)),
            "000_aaaaaaaaaaaaaaaa.txt")
    edited = WIRE.replace("on Friday", "on Friday, July 16,").replace("Moscow", "the Kremlin")
    copy = pipeline.process_item(article_item("https://beta.test/a", "beta", "Lavrov", edited))
    assert copy.duplicate_of == "000_aaaaaaaaaaaaaaaa.txt" and 0.8 <= copy.similarity < 1.0
    written(pipeline, copy, "001_bbbbbbbbbbbbbbbb.txt")
    assert [row[0] for row in pipeline.state.signatures()] == ["000_aaaaaaaaaaaaaaaa.txt"]  # the copy is not indexed
    unrelated = pipeline.process_item(article_item("https://beta.test/c", "beta", "Council", OTHER))
    assert unrelated.duplicate_of is None and unrelated.similarity is None


def test_a_copy_found_in_a_later_run_still_points_at_the_first_one(archive):
    first_run = pipeline_for(archive)
    written(first_run, first_run.process_item(article_item("https://www.alpha.test/a", "alpha", "Lavrov", WIRE)),
            "000_aaaaaaaaaaaaaaaa.txt")
    close_state(archive / "wire" / "state.sqlite")
    next_run = pipeline_for(archive)
    copy = next_run.process_item(article_item("https://beta.test/a", "beta", "Lavrov", WIRE.replace("Friday", "Thursday")))
    assert copy.duplicate_of == "000_aaaaaaaaaaaaaaaa.txt"
    with pytest.raises(NotKept, match="canonical URL"):
        next_run.process_item(article_item("https://www.alpha.test/a#comments", "alpha", "Lavrov", WIRE))


def test_shingles_are_casefolded_word_ngrams():
    assert shingles("Lavrov SAID, lavrov said.", 2) == {b"lavrov said", b"said lavrov"}
    assert shingles("Two words", 3) == {b"two words"}  # shorter than one shingle: the whole text
    assert shingles("  ", 3) == set()


def test_copies_are_linked_to_an_articles_newest_version(tmp_path):
    """Once an article has a later version, a copy is compared with that version, not the first one."""
    from pipelines.dedup import NearDuplicateIndex, signature, signature_blob

    words = lambda start: " ".join(f"w{n}" for n in range(start, start + 80))  # noqa: E731 - a text of 80 words
    state = State(tmp_path / "state.sqlite")
    try:
        state.add_signature("000_0123456789abcdef.txt", "alpha", signature_blob(signature(words(0), 128, 3)))
        index = NearDuplicateIndex(state, 0.8, 128)
        assert index.original_of(signature(words(0), 128, 3), 0.8)[0] == "000_0123456789abcdef.txt"
        index.add("000_0123456789abcdef.v2.txt", "alpha", signature(words(1000), 128, 3))
        assert index.original_of(signature(words(0), 128, 3), 0.8) is None  # the first version is superseded
        assert index.original_of(signature(words(1000), 128, 3), 0.8)[0] == "000_0123456789abcdef.v2.txt"
        again = NearDuplicateIndex(state, 0.8, 128)  # a later run loads both and keeps the newest
        assert again.original_of(signature(words(0), 128, 3), 0.8) is None
    finally:
        state.close()
