"""The bundled example, replayed offline: the quick start's output, checked file by file against golden copies.

The golden text files (``tests/fixtures/example-golden/``) were produced by this replay and read line by line
against the example pages: each holds the article's own words and nothing of the page around them. They are
keyed by the 16-hex half of the name (the canonical URL's hash); the sequence number follows arrival order.
Rebuild them after a deliberate extraction change with ``python tests/fixtures/make_golden.py`` and review the
diff.
"""

from __future__ import annotations

import subprocess
import sys

import hashlib
import re

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.manifest import read_manifest
from tests.support.example import EXAMPLE, GOLDEN, replay_example

MANIFEST_FIELDS = {"file", "url", "final_url", "canonical_url", "outlet", "title", "author", "published", "language",
                   "words", "text_sha256", "paywalled", "warc_file", "warc_record_id", "fetched_at", "relevance",
                   "duplicate_of", "similarity", "via"}
PROMPT_WORDS = re.compile(r"favor to ask|support us|support the moscow times|remind me later|newsletter|sign up|"
                          r"subscribe|already a subscriber|we use cookies|read also|read more|unterstützen|"
                          r"share on|premium|contribute|paiment|tyler durden's photo", re.IGNORECASE)


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    stats, topic_dir = replay_example(tmp_path_factory.mktemp("example") / "archive")
    lines = list(read_manifest(topic_dir / "manifest.jsonl"))
    return {"stats": stats, "dir": topic_dir, "manifest": [e for e in lines if not e.get("version")],
            "versions": [e for e in lines if e.get("version")]}


def by_title(example, fragment: str) -> dict:
    return next(e for e in example["manifest"] if fragment in e["title"])


def test_one_file_per_kept_article(example):
    entries, stats = example["manifest"], example["stats"]
    assert len(entries) == 6
    assert sorted(p.name for p in (example["dir"] / "text").iterdir()) == sorted(
        e["file"] for e in entries + example["versions"])
    assert sorted(int(e["file"][:3]) for e in entries) == list(range(6))
    assert stats["coverage/the-moscow-times/off_topic"] == 1  # the central bank story
    assert stats["coverage/far-east-herald/off_topic"] == 1  # the cricket match
    assert stats["coverage/rundschau-24/off_language"] == 1  # German, the topic asks for English
    assert stats["coverage/the-moscow-times/skipped_out_of_window"] == 1
    assert stats["replay/hit"] > 0 and not stats.get("replay/miss")


def test_manifest_is_complete(example):
    for entry in example["manifest"]:
        assert MANIFEST_FIELDS <= set(entry), MANIFEST_FIELDS - set(entry)
        assert entry["published"] and re.fullmatch(r"2021-07-\d\d", entry["published"])
        assert entry["language"] == "en" and entry["words"] > 50
        content = (example["dir"] / "text" / entry["file"]).read_bytes()
        assert hashlib.sha256(content).hexdigest() == entry["text_sha256"]
        assert entry["warc_record_id"].startswith("<urn:uuid:")
        assert entry["relevance"]["matched"] and "Lavrov" in entry["relevance"]["terms"]


def _records(path):
    """Each record of a WARC file by its ID: its headers and its whole block, as bytes."""
    records = {}
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            records[record.rec_headers.get_header("WARC-Record-ID")] = (
                record.rec_headers.to_str(), record.raw_stream.read(), stream.tell())
    return records


def test_the_replayed_topic_is_a_whole_archive_of_the_source_records(example):
    """The manifest points into the topic's own warc/, whose records are the source's, byte for byte (IDs,
    WARC-Dates, blocks), and index.cdxj covers them: wacz, reextract and reindex have an archive to work on."""
    source = _records(EXAMPLE / "example.warc.gz")
    files = sorted((example["dir"] / "warc").glob("*.warc.gz"))
    assert len(files) == 1
    copied = {k: v for k, v in _records(files[0]).items() if "WARC-Type: warcinfo" not in v[0]}  # the copy's own
    assert copied and set(copied) <= set(source)
    for record_id, (headers, block, _) in copied.items():
        assert (headers, block) == source[record_id][:2]
    for entry in example["manifest"]:
        assert entry["warc_file"] == files[0].name
        assert entry["warc_record_id"] in copied
    indexed = [line for line in (example["dir"] / "index.cdxj").read_text().splitlines() if line.strip()]
    assert len(indexed) == len([h for h, _, _ in copied.values() if "WARC-Type: response" in h
                                or "WARC-Type: revisit" in h])
    assert all(files[0].name in line for line in indexed)
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(files[0])], capture_output=True,
                           text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_the_edited_story_is_a_second_version_shown_in_the_report(example):
    """The fixture holds a second run a day later, in which the Far East Herald rewrote one headline and appended
    a correction: the replay writes it beside the first file and the report shows the change."""
    first = by_title(example, "admits failure of its mission")
    [second] = example["versions"]
    assert (second["file"], second["previous"], second["version"], second["changed"]) == (
        first["file"].replace(".txt", ".v2.txt"), first["file"], 2, "both")
    text = (example["dir"] / "text" / second["file"]).read_text(encoding="utf-8")
    assert " Lavrov: US pullout from Afghanistan is an admission that its mission failed\n" in text
    assert text.endswith("He spoke on Saturday.\n")
    report = (example["dir"] / "report.md").read_text(encoding="utf-8")
    assert "1 article changed after the first capture" in report and "+Correction: An earlier version" in report
    assert example["stats"]["versions/unchanged"] == 5


def test_paywalled_teaser_and_wire_copy(example):
    teaser = by_title(example, "ready to help")
    assert teaser["paywalled"] is True
    assert sum(e["paywalled"] for e in example["manifest"]) == 1
    wire = by_title(example, "Russia says US failed")
    moscow_times = by_title(example, "Mission in Afghanistan Has Failed")
    first, copy = sorted((wire, moscow_times), key=lambda e: e["file"])  # whichever arrived first is the original
    assert copy["duplicate_of"] == first["file"] and copy["similarity"] >= 0.8
    assert first["duplicate_of"] is None
    assert sum(1 for e in example["manifest"] if e["duplicate_of"]) == 1


def test_no_prompt_survives(example):
    for entry in example["manifest"]:
        text = (example["dir"] / "text" / entry["file"]).read_text(encoding="utf-8")
        assert not PROMPT_WORDS.search(text), (entry["file"], PROMPT_WORDS.search(text).group(0))


def test_text_files_match_the_golden_copies(example):
    golden = {p.name: p.read_text(encoding="utf-8") for p in GOLDEN.glob("*.txt")}
    assert len(golden) == 6
    for entry in example["manifest"]:
        key = entry["file"].split("_", 1)[1]
        assert (example["dir"] / "text" / entry["file"]).read_text(encoding="utf-8") == golden[key], entry["file"]


def test_replay_into_an_empty_archive_reproduces_the_files(example, tmp_path):
    _, again = replay_example(tmp_path / "archive")
    first = {p.name.split("_", 1)[1]: p.read_bytes() for p in (example["dir"] / "text").iterdir()}
    second = {p.name.split("_", 1)[1]: p.read_bytes() for p in (again / "text").iterdir()}
    assert first == second

