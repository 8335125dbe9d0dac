"""CDXJ lines are read one way everywhere: a torn or foreign line is skipped, never fatal to its reader."""

from __future__ import annotations

from pathlib import Path

from crawler.archive.cdxj import find_cdxj, parse_line
from crawler.archive.index import add_to_index, index_lines
from crawler.commands.wacz import capture_times
from tests.support.warcs import write_warc

FOREIGN = ["", "\n", "com,example)/ 20210716000000\n", 'com,example)/ 20210716000000 {"url": "http://exa\n',
           "com,example)/ 20210716000000 [1, 2]\n", 'com,example)/ 20210716000000 "text"\n']


def test_a_line_of_cdxj_indexer_parses_into_key_timestamp_and_fields(tmp_path):
    warc = tmp_path / "a.warc.gz"
    offsets = write_warc(warc, {"http://example.test/a": b"<p>a</p>"})
    entry = parse_line(index_lines([warc])[0])
    assert entry is not None and entry.key == "test,example)/a" and len(entry.timestamp) == 14
    assert entry.fields["url"] == "http://example.test/a" and int(entry.fields["offset"]) == offsets[0]
    assert entry.fields["filename"] == "a.warc.gz"


def test_torn_and_foreign_lines_are_none():
    assert [parse_line(line) for line in FOREIGN] == [None] * len(FOREIGN)


def test_every_reader_of_the_index_skips_a_line_that_is_json_but_no_object(tmp_path):
    """A line whose JSON is a list or a string used to stop the index merge (and ``rebuild-state``) with an
    AttributeError on ``.get``; now all readers drop it as they drop a torn line."""
    warc = tmp_path / "warc" / "a.warc.gz"
    warc.parent.mkdir()
    write_warc(warc, {"http://example.test/a": b"<p>a</p>"})
    index = tmp_path / "index.cdxj"
    index.write_text("".join(FOREIGN[2:]), encoding="utf-8")
    assert add_to_index(index, [warc]) == 1
    assert [parse_line(line).fields["url"] for line in index.read_text().splitlines()] == ["http://example.test/a"]
    index.write_text("".join(FOREIGN[2:]) + index.read_text(), encoding="utf-8")
    assert list(capture_times(index)) == ["http://example.test/a"]


def test_the_index_is_found_beside_the_warc_files_or_one_level_up(tmp_path: Path):
    warc_dir = tmp_path / "topic" / "warc"
    warc_dir.mkdir(parents=True)
    assert find_cdxj(warc_dir) is None
    (tmp_path / "topic" / "index.cdxj").write_text("")
    assert find_cdxj(warc_dir) == find_cdxj(warc_dir / "a.warc.gz") == tmp_path / "topic" / "index.cdxj"
