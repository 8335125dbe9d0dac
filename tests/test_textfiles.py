"""Text files: names, content format, atomic writes."""

from __future__ import annotations

import hashlib
import re
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st

from pipelines.textfiles import file_name, render_text, text_sha256, url_hash, write_atomic
from tests.support.archives import archive_with_leftovers

URL = "https://www.themoscowtimes.com/2021/07/16/russia-says-us-mission-in-afghanistan-has-failed-a74537"


def test_name_is_sequence_and_url_hash():
    name = file_name(7, URL)
    assert name == f"007_{hashlib.sha256(URL.encode()).hexdigest()[:16]}.txt"
    assert file_name(1234, URL).startswith("1234_")
    assert re.fullmatch(r"\d{3,}_[0-9a-f]{16}\.txt", file_name(0, URL))


def test_file_with_date_title_and_paragraphs():
    content = render_text("Russia Says U.S. Mission Has Failed", ["First  paragraph.\n", "Second\tparagraph."],
                          "2021-07-16")
    assert content == " date 2021-07-16 Russia Says U.S. Mission Has Failed\n\nFirst paragraph.\n\nSecond paragraph.\n"


def test_file_without_date_starts_with_title():
    assert render_text("Title", ["Body."], None) == "Title\n\nBody.\n"
    assert render_text("Title", ["Body."], "unknown") == "Title\n\nBody.\n"


def test_empty_paragraphs_are_dropped_and_text_is_nfc():
    decomposed = "Cafe\u0301 in Tashkent"
    content = render_text(None, ["", "  ", decomposed, "\x00\x07Line\r\nbreak"], None)
    assert content == unicodedata.normalize("NFC", "Café in Tashkent") + "\n\nLine break\n"


def test_write_atomic_leaves_no_temporary_files(tmp_path):
    write_atomic(tmp_path, "000_x.txt", "one\n")
    write_atomic(tmp_path, "000_x.txt", "two\n")
    assert [p.name for p in tmp_path.iterdir()] == ["000_x.txt"]
    assert (tmp_path / "000_x.txt").read_text() == "two\n"


text = st.text(alphabet=st.characters(codec="utf-8"), max_size=300)


@settings(max_examples=200, deadline=None)
@given(title=st.none() | text, body=st.lists(text, max_size=8), day=st.none() | st.dates().map(str) | text)
def test_any_input_gives_a_valid_file(title, body, day):
    content = render_text(title, body, day)
    assert content.endswith("\n") and not content.endswith("\n\n") or content == "\n"
    assert "\r" not in content and "\x00" not in content
    assert unicodedata.is_normalized("NFC", content)
    content.encode("utf-8")
    lines = content.split("\n")
    assert all(line == line.strip() or line.startswith(" date ") for line in lines)
    assert "\n\n\n" not in content
    assert len(text_sha256(content)) == 64


@given(url=st.text(min_size=1, max_size=200), a=st.integers(0, 10**6), b=st.integers(0, 10**6))
def test_names_are_stable_for_one_canonical_url(url, a, b):
    assert file_name(a, url).split("_", 1)[1] == file_name(b, url).split("_", 1)[1] == url_hash(url) + ".txt"


def test_reconcile_removes_only_the_crawls_own_leftovers(tmp_path, caplog):
    """A user's files in text/ were deleted at start, and a sub-directory there crashed the crawl."""
    from pipelines.textfiles import SEQUENCE, reconcile

    paths, state, names, outside = archive_with_leftovers(tmp_path / "topic")
    counts = reconcile(paths, state, 128, 3)
    left = sorted(p.name for p in paths.text_dir.iterdir())
    assert left == sorted([names[0], names[1], "notes.txt", ".DS_Store", "drafts", "999_0123456789abcdef.txt"])
    assert outside.read_text() == "keep"
    assert counts["orphans_removed"] == 1 and counts["temporaries_removed"] == 1 and counts["foreign_left"] == 4
    assert len([r for r in caplog.records if "did not write left alone" in r.getMessage()]) == 1
    assert state.file_for_url("http://a.test/2") is None, "the claim of the cut-off write is dropped"
    assert state.file_for_url("http://a.test/0") == names[0]
    assert state.outcome_of("http://a.test/1")[0] == "kept"
    assert state.next_value(SEQUENCE) == 2, "the number of the cut-off write is reused"
    assert {file for file, _, _ in state.signatures()} == set(names[:2])


def test_bidi_controls_never_reach_a_text_file():
    from pipelines.textfiles import render_text

    content = render_text("Lavrov \u202egnp.exe\u202c speaks", ["He said \u2066so\u2069 \u200fthen\u200e.",
                                                            "\u0627\u0644\u0633\u0644\u0627\u0645 \u200c kept"],
                          "2021-07-16")
    assert not any(ch in content for ch in "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
    assert "Lavrov gnp.exe speaks" in content and "\u0627\u0644\u0633\u0644\u0627\u0645 \u200c kept" in content


def test_reconcile_leaves_names_that_only_look_like_ours(tmp_path):
    from crawler.paths import TopicPaths
    from crawler.state import open_state
    from pipelines.textfiles import reconcile
    topic = tmp_path / "t"
    (topic / "text").mkdir(parents=True)
    user = [topic / "text" / "001_0123456789abcdef.txt\n", topic / "text" / "\u0661\u0662_0123456789abcdef.txt",
            topic / "text" / ".001_0123456789abcdef.txt.abcdefgh.tmp\n"]
    for f in user:
        f.write_text("mine")
    paths = TopicPaths(topic)
    reconcile(paths, open_state(paths.state), 128, 3)
    gone = [f.name for f in user if not f.exists()]
    assert not gone, f"user files removed: {gone!r}"
