"""WARC files on disk: rotation, the .open suffix, and recovery of files torn by a crash."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders

from crawler.archive.writer import RotatingWarcWriter, abandoned_open_files, recover_directory, recover_warc


def response_record(writer: RotatingWarcWriter, n: int, size: int = 500):
    body = (f"page {n} " * size).encode()
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    return writer.builder.create_warc_record(f"http://example.test/{n}", "response", payload=BytesIO(body),
                                             length=len(body), http_headers=headers)


def count_records(path: Path) -> int:
    with open(path, "rb") as fh:
        return sum(1 for record in ArchiveIterator(fh) if record.content_stream().read() is not None)


def test_open_file_is_renamed_on_close(tmp_path):
    writer = RotatingWarcWriter(tmp_path, prefix="t", info={"isPartOf": "x"})
    location = writer.write([response_record(writer, 1)])[0]
    assert (tmp_path / (location.warc_file + ".open")).exists()
    writer.close()
    assert (tmp_path / location.warc_file).exists() and not list(tmp_path.glob("*.open"))
    assert count_records(tmp_path / location.warc_file) == 2  # warcinfo + response


def test_torn_tail_is_cut_and_file_renamed(tmp_path):
    writer = RotatingWarcWriter(tmp_path, prefix="t")
    for n in range(3):
        writer.write([response_record(writer, n)])
    open_path = tmp_path / (writer.current_file + ".open")
    size = open_path.stat().st_size
    with open(open_path, "r+b") as fh:  # a crash in the middle of the last record
        fh.truncate(size - 200)
    recovery = recover_warc(open_path)
    assert recovery.records == 3 and recovery.cut_bytes > 0
    assert not open_path.exists() and recovery.path.exists()
    assert count_records(recovery.path) == 3
    writer._fh = None  # the torn writer is gone, as after a crash


def test_a_record_cut_inside_its_payload_is_cut_whole(tmp_path):
    """warcio reads a gzip member that ends early as if it were whole: recovery must not keep such a record."""
    import subprocess
    import sys

    writer = RotatingWarcWriter(tmp_path, prefix="t")
    writer.write([response_record(writer, 0)])
    body = os.urandom(300_000)  # incompressible: the member is large, the cut lands in the payload
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
    writer.write([writer.builder.create_warc_record("http://example.test/big", "response", payload=BytesIO(body),
                                                    length=len(body), http_headers=headers)])
    open_path = tmp_path / (writer.current_file + ".open")
    whole = open_path.stat().st_size
    with open(open_path, "r+b") as fh:
        fh.truncate(whole - 100_000)
    writer._fh = None
    recovery = recover_warc(open_path)
    assert recovery.records == 2 and recovery.cut_bytes > 100_000  # warcinfo + page 0; the big one is gone
    assert count_records(recovery.path) == 2
    check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(recovery.path)],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_only_files_of_dead_writers_are_recovered(tmp_path):
    live = RotatingWarcWriter(tmp_path, prefix="live")
    live.write([response_record(live, 1)])
    dead_name = live.current_file.replace(f"-{os.getpid()}.warc.gz", "-999999999.warc.gz").replace("live", "dead")
    (tmp_path / (dead_name + ".open")).write_bytes((tmp_path / (live.current_file + ".open")).read_bytes())
    assert [p.name for p in abandoned_open_files(tmp_path)] == [dead_name + ".open"]
    assert [r.records for r in recover_directory(tmp_path)] == [2]
    assert (tmp_path / (live.current_file + ".open")).exists()
    live.close()
