"""``presswarc export``: a topic's articles as a table that analysts' tools read back to the manifest's rows.

The archive exported is a real one: the bundled example crawled by the installed ``presswarc``
(``tests/support/installed.py``), and each format is read back with pandas, the way an analyst would open it,
to exactly the manifest's values and the text files' article text. The schema is written out here as
docs/export.md states it, so a change to the columns fails until the documentation (and this list) follow.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from crawler.commands.export import ExportError, export_topic, rows
from crawler.paths import TopicPaths
from pipelines.manifest import read_manifest
from pipelines.textfiles import render_text, text_sha256
from tests.support.installed import example_crawl, run_installed

# docs/export.md
SCHEMA = {"file": "string", "url": "string", "final_url": "string", "canonical_url": "string", "outlet": "string",
          "outlet_slug": "string", "title": "string", "author": "string", "published": "string",
          "language": "string", "words": "Int64", "text_sha256": "string", "paywalled": "boolean", "via": "string",
          "relevance": "string", "duplicate_of": "string", "similarity": "float64", "warc_file": "string",
          "warc_record_id": "string", "fetched_at": "string", "text": "string"}
HYDRATE = ["url", "final_url", "canonical_url", "outlet", "published", "fetched_at", "warc_record_id", "warc_file",
           "text_sha256"]


@pytest.fixture(scope="module")
def topic_dir() -> Path:
    result, topic_dir = example_crawl()
    assert result.returncode == 0, result.stderr[-4000:]
    return topic_dir


def plain(value: Any) -> Any:
    """A value read by pandas as the manifest holds it: missing values as None, numpy scalars as Python's."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return value.item() if hasattr(value, "item") else value


def read_back(path: Path, fmt: str) -> pd.DataFrame:
    if fmt == "parquet":
        return pd.read_parquet(path)
    if fmt == "csv":  # an empty CSV field is null (docs/export.md)
        return pd.read_csv(path, dtype={name: SCHEMA[name] for name in pd.read_csv(path, nrows=0).columns},
                           keep_default_na=False, na_values=[""])
    return pd.read_json(path, lines=True, dtype=False)  # no guessing: fetched_at stays the ISO text


def expected_rows(topic_dir: Path, columns: list[str]) -> list[dict[str, Any]]:
    """The manifest's entries on the export's columns; ``relevance`` decoded from its JSON text for comparison,
    ``text`` the file's content after its header line (every example article has a title)."""
    expected = []
    for entry in read_manifest(topic_dir / "manifest.jsonl"):
        row = {name: entry.get(name) for name in columns if name != "text"}
        if "text" in columns:
            content = (topic_dir / "text" / entry["file"]).read_text(encoding="utf-8")
            row["text"] = content.split("\n\n", 1)[1].rstrip("\n")
        expected.append(row)
    return expected


def actual_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    records = [{name: plain(value) for name, value in record.items()} for record in frame.to_dict("records")]
    for record in records:
        if record.get("relevance") is not None:
            record["relevance"] = json.loads(record["relevance"])
    return records


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_each_format_reads_back_to_the_manifest(topic_dir, tmp_path, fmt):
    output = tmp_path / f"articles.{fmt}"
    result = run_installed("presswarc", ["export", str(topic_dir), "--format", fmt, "-o", str(output)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{output}: 7 rows ({fmt})"  # six articles and the later version of one
    frame = read_back(output, fmt)
    assert list(frame.columns) == list(SCHEMA)
    rows_read = actual_rows(frame)
    assert rows_read == expected_rows(topic_dir, list(SCHEMA))
    # the example has a near-duplicate (similarity, duplicate_of set) and unknown authors (null)
    assert any(row["similarity"] for row in rows_read) and any(row["author"] is None for row in rows_read)
    assert sorted(p.name for p in tmp_path.iterdir()) == [output.name]  # no temporary file left


def test_no_text_gives_the_hydratable_list(topic_dir, tmp_path):
    result = run_installed("presswarc", ["export", str(topic_dir), "--no-text", "--format", "csv"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    output = tmp_path / "lavrov-afghanistan-hydrate.csv"  # the default name, in the current directory
    frame = read_back(output, "csv")
    assert list(frame.columns) == HYDRATE
    assert actual_rows(frame) == expected_rows(topic_dir, HYDRATE)
    some_paragraph = (topic_dir / "text").glob("000_*.txt").__next__().read_text().split("\n\n")[1]
    assert some_paragraph[:60] not in output.read_text()


def test_scrapy_export_is_a_scrapy_command_too(topic_dir, tmp_path):
    """The ``scrapy.commands`` entry point; the format follows -o's suffix when --format is not given."""
    output = tmp_path / "out.jsonl"
    result = run_installed("python", ["-m", "scrapy", "export", str(topic_dir), "-o", str(output)], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert actual_rows(read_back(output, "jsonl")) == expected_rows(topic_dir, list(SCHEMA))


@pytest.mark.parametrize("make, message", [
    (lambda root: (root / "text").mkdir(parents=True), "no manifest.jsonl"),
    (lambda root: None, "no such topic directory"),
])
def test_a_folder_that_is_not_a_topic_is_refused_in_one_line(tmp_path, make, message):
    root = tmp_path / "notatopic"
    make(root)
    result = run_installed("presswarc", ["export", str(root), "--format", "csv"], cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not list(tmp_path.glob("*.csv")) and not list(tmp_path.glob(".*.tmp"))


def write_topic(root: Path, entries: list[tuple[dict[str, Any], list[str] | None]]) -> TopicPaths:
    """A topic directory by hand: each entry's manifest line, and its text file when paragraphs are given."""
    (root / "text").mkdir(parents=True)
    lines = []
    for entry, paragraphs in entries:
        if paragraphs is not None:
            content = render_text(entry.get("title"), paragraphs, entry.get("published"))
            (root / "text" / entry["file"]).write_text(content, encoding="utf-8")
            entry = {**entry, "text_sha256": text_sha256(content)}
        lines.append(json.dumps(entry) + "\n")
    (root / "manifest.jsonl").write_text("".join(lines), encoding="utf-8")
    return TopicPaths(root)


def test_text_without_a_header_and_a_missing_file(tmp_path):
    """A file of an article with neither title nor date has no header line: its first paragraph is text.
    A text file that is gone leaves the row's text null, with one warning, rather than stopping the export."""
    paths = write_topic(tmp_path / "t", [
        ({"file": "000_0000000000000000.txt", "url": "http://a.test/1", "title": None, "published": None,
          "words": 4, "extra": "not in the schema"}, ["First, \"quoted\" words.", "Second."]),
        ({"file": "001_1111111111111111.txt", "url": "http://a.test/2", "title": "T", "published": "2021-07-16",
          "words": 1}, None),
    ])
    warnings: list[str] = []
    got = list(rows(paths, warn=warnings.append))
    assert got[0]["text"] == "First, \"quoted\" words.\n\nSecond." and "extra" not in got[0]
    assert got[1]["text"] is None and len(warnings) == 1 and "001_1111111111111111.txt" in warnings[0]


def test_a_value_off_the_schema_is_refused_and_nothing_is_written(tmp_path):
    paths = write_topic(tmp_path / "t", [
        ({"file": "000_0000000000000000.txt", "url": "http://a.test/1", "title": "A", "words": 3}, ["a b c"]),
        ({"file": "001_1111111111111111.txt", "url": "http://a.test/2", "title": "B", "words": "many"}, ["d"]),
    ])
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(ExportError, match="entry 2 .*words"):
        export_topic(paths, out / "x.parquet", "parquet")
    assert list(out.iterdir()) == []
