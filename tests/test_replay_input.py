"""Hostile replay input: WARC record bombs, zero-filled files, mangled headers, damage in the middle of a file.

Each case is one a replay met in practice (a start-up scan that took 8.4 GB, one busy for 320 s on a sparse file,
tracebacks instead of a file and offset, records after a damaged one lost); each test runs the real replay on
such a file and fails on the replay that had the problem.
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from crawler.archive.index import rebuild_index
from crawler.archive.records import Damage, RecordHead, scan
from crawler.archive.replay import ReplayIndex
from tests.support.crawl import crawl
from tests.support.warcs import crawl_measured, gzip_member, raw_record, write_warc, zero_bomb_member

ARTICLE = (b"<html><head><title>Lavrov</title></head><body><p>" + b"Lavrov spoke in Kabul. " * 40
           + b"</p></body></html>")
MEMORY_LIMIT = 3 << 30  # address space of the replay process: the old scan reached 8.4 GB of RSS
REPLAY = {"GUARD_ALLOW_PRIVATE_HOSTS": "True", "EXTRACT_WORKERS": "0", "ROBOTSTXT_OBEY": "False",
          "REPORT_ENABLED": "False", "PROGRESS_INTERVAL": "0"}


def _replay_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR: replay: " in line]


@pytest.mark.parametrize("kind", ["gzip-bomb", "declared-not-present-gz", "declared-not-present-plain"])
def test_a_record_declaring_4_gb_keeps_the_replay_small(tmp_path, kind):
    """A record declaring 4 GB: inflating to all of it (a gzip bomb, 4 MB on disk), or holding only 4 MB of
    it. The start-up scan never holds content; a real 4 GB record is served cut at DOWNLOAD_MAXSIZE, flagged as
    a live oversize page is; a record holding less than it declares is an error naming file and offset. Either
    way the healthy record after it is served and the process stays small."""
    warc = tmp_path / "warc"
    warc.mkdir()
    bomb_url, after_url = "http://e.test/bomb.html", "http://e.test/after.html"
    write_warc(tmp_path / "after.warc.gz", {after_url: ARTICLE})
    if kind == "gzip-bomb":
        data = zero_bomb_member(bomb_url, 4_000_000_000)
    else:
        block = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + os.urandom(4 << 20)
        record = raw_record(bomb_url, block, 4_000_000_000)
        data = gzip_member(record) if kind.endswith("gz") else record
    name = "bomb.warc.gz" if kind != "declared-not-present-plain" else "bomb.warc"
    after = (tmp_path / "after.warc.gz").read_bytes() if name.endswith(".gz") else (
        raw_record(after_url, b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + ARTICLE))
    (warc / name).write_bytes(data + after)
    assert 3 << 20 < (warc / name).stat().st_size < 6 << 20

    status, stderr, peak = crawl_measured(tmp_path / "out", {**REPLAY, "REPLAY_FROM": warc,
                                                             "STATSFILE_PATH": tmp_path / "stats.json"},
                                          [bomb_url, after_url], memory_limit=MEMORY_LIMIT)
    assert status == 0, stderr[-3000:]
    assert "Traceback" not in stderr
    assert peak < 400 << 20, f"peak RSS {peak >> 20} MB"
    stats = json.loads((tmp_path / "stats.json").read_text())
    assert stats["urllist/parsed"] >= 1  # the record after the bomb
    errors = _replay_errors(stderr)
    if kind == "gzip-bomb":
        assert stats["urllist/parsed"] == 2 and stats["replay/truncated_oversize"] == 1
        assert f"{warc / name} offset 0: over DOWNLOAD_MAXSIZE (16777216 bytes), served truncated" in stderr
        assert not errors, errors
    else:
        assert stats["urllist/parsed"] == 1 and stats["replay/miss"] == 1
        assert len(errors) == 1 and f"{warc / name} offset 0: record declares 4000000000 bytes" in errors[0], errors


def test_a_record_over_download_maxsize_is_served_cut_and_flagged(tmp_path):
    """As a live download is: cut at DOWNLOAD_MAXSIZE and marked truncated "length" (the coverage spider then
    counts it and reads no article from it); under the limit the record is served whole, its digest checked."""
    from crawler.archive.replay import read_record

    body = os.urandom(3 << 20)
    write_warc(tmp_path / "big.warc.gz", {"http://e.test/big": body})
    pointer = ReplayIndex(tmp_path).lookup("GET", "http://e.test/big")
    cut = read_record(pointer, verify=True, maxsize=1 << 20)
    assert cut.body == body[:1 << 20] and cut.truncated == "length" and cut.cut
    whole = read_record(pointer, verify=True, maxsize=4 << 20)
    assert whole.body == body and whole.truncated is None and not whole.cut


def test_a_sparse_zero_filled_warc_gz_is_given_up_within_seconds(tmp_path):
    """A 2 GB hole named .warc.gz: the scan looks for a record through REPLAY_RESYNC_WINDOW bytes, not the whole
    file, and says so in one line with the file and offset; the healthy file beside it is served."""
    warc = tmp_path / "warc"
    warc.mkdir()
    zeros = warc / "a-zeros.warc.gz"
    with open(zeros, "wb") as fh:
        fh.truncate(2 << 30)
    write_warc(warc / "b.warc.gz", {"http://e.test/b.html": ARTICLE})
    started = time.monotonic()
    index = ReplayIndex(warc, use_cdxj=False)
    assert time.monotonic() - started < 3
    assert index.lookup("GET", "http://e.test/b.html") is not None
    assert len(index.errors) == 1
    assert index.errors[0].startswith(f"{zeros} offset 0: not a WARC record (starts with 00 00 00")
    assert f"the remaining {2 << 30} bytes skipped" in index.errors[0]

    started = time.monotonic()
    stats, result = crawl("urllist", tmp_path / "out", spider_args={"urls": "http://e.test/b.html"},
                          settings={**REPLAY, "REPLAY_FROM": warc}, timeout=90)
    assert time.monotonic() - started < 60  # the scan that had the problem took 320 s on it
    assert stats["urllist/parsed"] == 1
    errors = _replay_errors(result.stderr)
    assert len(errors) == 1 and f"{zeros} offset 0" in errors[0] and "Traceback" not in result.stderr


def test_an_uncompressed_warc_is_read_to_its_end_without_error(tmp_path):
    """The CRLF CRLF closing the last record of a .warc is part of it, not a corrupt tail."""
    offsets = write_warc(tmp_path / "a.warc", {f"http://e.test/{n}": ARTICLE for n in range(3)}, gzip=False)
    index = ReplayIndex(tmp_path)
    assert index.errors == []
    assert [index.lookup("GET", f"http://e.test/{n}").offset for n in range(3)] == offsets
    found = list(scan(tmp_path / "a.warc"))
    assert all(isinstance(f, RecordHead) for f in found)
    assert found[-1].offset + found[-1].length == (tmp_path / "a.warc").stat().st_size


MANGLED = {
    "status-huge": b"HTTP/1.1 99999999999999999999999 OK\r\nContent-Type: text/html\r\n\r\n<p>x</p>",
    "status-word": b"HTTP/1.1 OK fine\r\nContent-Type: text/html\r\n\r\n<p>x</p>",
    "no-status": b"\x00\x01binary junk where a status line belongs\r\n\r\n<p>x</p>",
    "header-junk": (b"HTTP/1.1 200 OK\r\n\xff\xfe\x00garbage\r\nContent-Length: 99999999999999999999999\r\n\r\n"
                    b"<p>x</p>"),
    "chunk-huge": (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                   b"ffffffffffffffffffffffff\r\n<p>x</p>\r\n0\r\n\r\n"),
}


def test_mangled_headers_are_errors_naming_file_and_offset(tmp_path):
    """Records whose HTTP headers (or WARC Content-Length) are mangled: each is refused or served, never a
    traceback, and every replay error line names the file and the record's offset."""
    warc = tmp_path / "warc"
    warc.mkdir()
    path = warc / "m.warc"
    data = b"".join(raw_record(f"http://e.test/{name}", block) for name, block in MANGLED.items())
    bad_length = raw_record("http://e.test/bad-length", b"<p>x</p>", "99999999999999999999999999")
    good = raw_record("http://e.test/good", b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n" + ARTICLE)
    path.write_bytes(data + bad_length + good)
    urls = [f"http://e.test/{name}" for name in MANGLED] + ["http://e.test/bad-length", "http://e.test/good"]
    stats, result = crawl("urllist", tmp_path / "out", spider_args={"urls": ",".join(urls)},
                          settings={**REPLAY, "REPLAY_FROM": warc})
    assert "Traceback" not in result.stderr, result.stderr[-4000:]
    # Served: the junk header line and the absurd chunk size are survivable, as is the good record after them.
    assert stats["urllist/parsed"] == 3 and stats["replay/error"] == 3 and stats["replay/miss"] == 1
    errors = _replay_errors(result.stderr)
    assert len(errors) == 4  # three status lines at serve time, the WARC Content-Length at the scan
    for line in errors:
        assert re.search(rf"{re.escape(str(path))} offset \d+: ", line), line
    assert any("bad Content-Length" in line for line in errors)


def _damaged_archive(root: Path, index_before: bool) -> tuple[Path, list[str], int]:
    """A topic-like folder (warc/ and, when asked, an index.cdxj written while the file was whole) of five
    records, one gzip member each, with bytes in the middle record's member overwritten."""
    warc = root / "warc"
    warc.mkdir(parents=True)
    path = warc / "d.warc.gz"
    urls = [f"http://e.test/{n}.html" for n in range(5)]
    offsets = write_warc(path, {url: ARTICLE.replace(b"Kabul", b"Kabul %d" % n) for n, url in enumerate(urls)})
    if index_before:
        rebuild_index(root / "index.cdxj", warc)
        os.utime(root / "index.cdxj", (path.stat().st_mtime + 60,) * 2)
    data = bytearray(path.read_bytes())
    middle = (offsets[2] + offsets[3]) // 2
    data[middle:middle + 40] = b"\x00" * 40
    path.write_bytes(bytes(data))
    if index_before:
        os.utime(root / "index.cdxj", (path.stat().st_mtime + 60,) * 2)
    return path, urls, offsets[2]


@pytest.mark.parametrize("mode", ["scan", "index-written-before", "index-rebuilt-after"])
def test_records_after_a_corrupt_region_are_served(tmp_path, mode, caplog):
    """Damage in the middle record of a .warc.gz: the records before and after it are served, whether the
    replay scans the file, locates records through an index written while the file was whole, or through one
    rebuilt over the damaged file; the damage is reported with its file, offset and bytes skipped."""
    root = tmp_path / "topic"
    path, urls, damaged_at = _damaged_archive(root, index_before=mode == "index-written-before")
    found = list(scan(path))
    damage = [f for f in found if isinstance(f, Damage)]
    assert len(damage) == 1 and damage[0].offset == damaged_at and damage[0].resumed
    skipped = damage[0].skipped
    assert [f.get("WARC-Target-URI") for f in found if isinstance(f, RecordHead)] == urls[:2] + urls[3:]
    if mode == "index-rebuilt-after":
        with caplog.at_level("ERROR", logger="crawler.archive.index"):
            assert rebuild_index(root / "index.cdxj", path.parent) == 4
        assert f"{path} offset {damaged_at}: corrupt gzip member" in caplog.text
        assert f"{skipped} bytes skipped to the next record" in caplog.text
    settings = {**REPLAY, "REPLAY_FROM": path.parent, "REPLAY_USE_INDEX": mode != "scan"}
    stats, result = crawl("urllist", tmp_path / "out", spider_args={"urls": ",".join(urls)}, settings=settings)
    assert stats["urllist/parsed"] == 4
    assert "Traceback" not in result.stderr
    errors = _replay_errors(result.stderr)
    if mode == "scan":
        assert len(errors) == 1, errors
        assert (f"{path} offset {damaged_at}: corrupt gzip member" in errors[0]
                and f"{skipped} bytes skipped to the next record" in errors[0]), errors
    elif mode == "index-written-before":
        assert "located through" in result.stderr
        assert len(errors) == 1 and f"{path} offset {damaged_at}: " in errors[0], errors
    else:
        assert "located through" in result.stderr and not errors and stats["replay/miss"] == 1
