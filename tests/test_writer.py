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


def encoded_response(writer: RotatingWarcWriter, n: int, coding: str):
    """A response record whose payload is an article encoded as the server sent it (br, zstd, stacked)."""
    from tests.support.sites import Reply

    body = Reply(body=f"<p>article {n} about Lavrov</p>" * 200, encoding=coding).encoded()
    headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Encoding", coding),
                                          ("Content-Length", str(len(body)))], protocol="HTTP/1.1")
    return writer.builder.create_warc_record(f"http://example.test/{coding.replace(', ', '-')}/{n}", "response",
                                             payload=BytesIO(body), length=len(body), http_headers=headers)


def test_recovery_keeps_br_and_zstd_records_and_cuts_only_the_torn_one(tmp_path):
    """Recovery used to read records through warcio, whose br decoder fails with the brotli package installed:
    the first br record and every one after it were cut as torn. Now only the gzip member and the record's
    framing decide, so 19 whole encoded records stay and the torn 20th goes; warcio's checker passes."""
    from tests.support.warc import warcio_check

    writer = RotatingWarcWriter(tmp_path, prefix="t")
    codings = ["br", "zstd", "gzip, br", "br, zstd"]
    for n in range(20):
        writer.write([encoded_response(writer, n, codings[n % len(codings)])])
    open_path = tmp_path / (writer.current_file + ".open")
    size = open_path.stat().st_size
    with open(open_path, "r+b") as fh:  # the crash: the last record's member is half written
        fh.truncate(size - 150)
    writer._fh = None
    recovery = recover_warc(open_path)
    assert recovery.records == 20  # warcinfo + 19 responses
    assert 150 < recovery.cut_bytes < 2000
    with open(recovery.path, "rb") as fh:
        uris = [r.rec_headers.get_header("WARC-Target-URI") for r in ArchiveIterator(fh)]
    assert uris[1:] == [f"http://example.test/{codings[n % len(codings)].replace(', ', '-')}/{n}" for n in range(19)]
    check = warcio_check(recovery.path)
    assert check.returncode == 0, check.stdout + check.stderr
    assert check.stdout.count("digest pass") == 20


def test_a_whole_member_holding_a_short_record_is_cut(tmp_path):
    """A gzip member can end whole around a record shorter than its Content-Length (a writer killed between
    two writes of one record): the framing check cuts it, where a member check alone would keep it."""
    import gzip

    writer = RotatingWarcWriter(tmp_path, prefix="t")
    writer.write([encoded_response(writer, 0, "zstd")])
    open_path = tmp_path / (writer.current_file + ".open")
    whole = open_path.read_bytes()
    record = BytesIO()
    from warcio.warcwriter import WARCWriter

    WARCWriter(record, gzip=False, warc_version="1.1").write_record(encoded_response(writer, 1, "zstd"))
    open_path.write_bytes(whole + gzip.compress(record.getvalue()[:-300]))
    writer._fh = None
    recovery = recover_warc(open_path)
    assert recovery.records == 2 and recovery.path.read_bytes() == whole


def test_uncompressed_file_is_recovered_by_its_framing(tmp_path):
    from warcio.warcwriter import WARCWriter

    path = tmp_path / "plain.warc.open"
    with open(path, "wb") as fh:
        plain = WARCWriter(fh, gzip=False, warc_version="1.1")
        builder = RotatingWarcWriter(tmp_path / "b", prefix="b")
        for n in range(3):
            plain.write_record(encoded_response(builder, n, "br"))
    data = path.read_bytes()
    path.write_bytes(data[:-50])
    recovery = recover_warc(path)
    assert recovery.records == 2 and recovery.path.name == "plain.warc"
