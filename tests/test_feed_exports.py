"""Scrapy's own feed exports (``-O items.jsonl``, ``-O items.csv``) work on a coverage crawl: one row per kept
article, no raw HTML, no traceback (FEED_EXPORT_FIELDS in crawler/settings.py)."""

from __future__ import annotations

import csv
import json

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.example import EXAMPLE


@pytest.mark.parametrize("suffix", ["jsonl", "csv"])
def test_a_feed_export_has_one_row_per_kept_article(tmp_path, suffix):
    output = tmp_path / f"items.{suffix}"
    _, result = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(EXAMPLE / "topic.toml")},
                      settings={"REPLAY_FROM": str(EXAMPLE / "example.warc.gz"), "EXTRACT_WORKERS": "0",
                                "FEEDS": json.dumps({str(output): {"format": suffix, "overwrite": True}})})
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    manifest = list(read_manifest(tmp_path / "archive" / "lavrov-afghanistan" / "manifest.jsonl"))
    assert manifest
    text = output.read_text(encoding="utf-8")
    rows = ([json.loads(line) for line in text.splitlines()] if suffix == "jsonl"
            else list(csv.DictReader(text.splitlines())))
    assert sorted(r["url"] for r in rows) == sorted(e["url"] for e in manifest)
    assert sorted(r["file"] for r in rows) == sorted(e["file"] for e in manifest)
    assert all("html" not in r and r["warc_record_id"] for r in rows)
