"""manifest.jsonl: a failed append leaves no fragment; a torn last line is cut."""

from __future__ import annotations

import errno
import json

import pytest

from pipelines.manifest import ManifestWriter, read_manifest, repair_tail


def test_a_short_write_is_taken_back_and_raised_as_disk_full(tmp_path):
    """A half line left by a full disk glued the next line onto it: both became unreadable."""
    path = tmp_path / "manifest.jsonl"
    writer = ManifestWriter(path)
    writer.append({"file": "000_0000000000000000.txt"})
    real_write = writer._write
    writer._write = lambda data: real_write(data[: len(data) // 2])  # what a filling disk does
    with pytest.raises(OSError) as caught:
        writer.append({"file": "001_0000000000000000.txt"})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(path)
    writer._write = real_write
    writer.append({"file": "001_0000000000000000.txt"})
    writer.close()
    assert [e["file"] for e in read_manifest(path)] == ["000_0000000000000000.txt", "001_0000000000000000.txt"]


def test_a_torn_last_line_is_cut_before_the_next_append(tmp_path):
    path = tmp_path / "manifest.jsonl"
    path.write_bytes(json.dumps({"file": "a"}).encode() + b'\n{"file": "b", "ur')
    assert repair_tail(path) > 0
    ManifestWriter(path).append({"file": "c"})
    assert [e["file"] for e in read_manifest(path)] == ["a", "c"]
