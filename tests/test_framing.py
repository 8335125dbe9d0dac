"""crawler/archive/framing.py: the records of other people's WARC files, each one's framing checked, damage named
once and read past, in gzip and plain files, from sources that can seek and from streams that cannot."""

from __future__ import annotations

import gzip
import io
import re
import tracemalloc

import pytest

from crawler.archive import framing
from crawler.archive.framing import read_records
from tests.support.scanwarc import http_response, warc_record, with_length

DATE = "2021-07-17T08:00:00Z"


def response(number: int, size: int = 3000) -> bytes:
    block, start = http_response((f"page {number} " * (size // 7)).encode())
    return warc_record("response", f"https://a.test/{number}", block, DATE, payload_start=start)


class Stream(io.RawIOBase):
    """A source that cannot seek (an HTTP body), handing out at most ``step`` bytes per read."""

    def __init__(self, data: bytes, step: int = 5000) -> None:
        self.data, self.at, self.step = data, 0, step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        size = self.step if size is None or size < 0 else min(size, self.step)
        out = self.data[self.at:self.at + size]
        self.at += len(out)
        return out


def read(data: bytes, seekable: bool = True) -> tuple[list[str], list[tuple[int, str, str, str]]]:
    damage: list[tuple[int, str, str, str]] = []
    stream = io.BytesIO(data) if seekable else Stream(data)
    urls = [r.header(b"WARC-Target-URI").decode() for r in
            read_records(stream, lambda kind, uri, length: kind == b"response", lambda *d: damage.append(d))]
    return urls, damage


def join(records: list[bytes], gzipped: bool) -> bytes:
    return b"".join(gzip.compress(r, mtime=0) for r in records) if gzipped else b"".join(records)


URLS = [f"https://a.test/{n}" for n in range(6)]


@pytest.mark.parametrize("seekable", [True, False], ids=["file", "stream"])
@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_a_clean_file_reads_whole_and_reports_nothing(gzipped, seekable):
    assert read(join([response(n) for n in range(6)], gzipped), seekable) == (URLS, [])


@pytest.mark.parametrize("change", [300, -300, 1, -1, 10 ** 9], ids=["+300", "-300", "+1", "-1", "1GB"])
@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_a_record_whose_content_length_lies_is_left_out_and_the_records_after_it_are_read(gzipped, change):
    records = [response(n) for n in range(6)]
    records[2] = with_length(records[2], change)
    data = join(records, gzipped)
    urls, damage = read(data)
    assert urls == URLS[:2] + URLS[3:]
    assert [(event, url) for _, event, _, url in damage] == [(framing.LENGTH_MISMATCH, URLS[2])]
    assert damage[0][0] == len(join(records[:2], gzipped))  # where the lying record starts in the source


@pytest.mark.parametrize("change", [300, -300], ids=["+300", "-300"])
def test_a_plain_stream_that_cannot_seek_reads_on_past_a_lie_too(change):
    records = [response(n) for n in range(6)]
    records[2] = with_length(records[2], change)
    urls, damage = read(join(records, False), seekable=False)
    assert urls == URLS[:2] + URLS[3:] and [d[1] for d in damage] == [framing.LENGTH_MISMATCH]


def test_a_declared_gigabyte_is_never_held_in_memory():
    records = [response(n, 200_000) for n in range(6)]
    records[1] = with_length(records[1], 10 ** 9)
    data = join(records, True)
    tracemalloc.start()
    try:
        urls, damage = read(data, seekable=False)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert urls == URLS[:1] + URLS[2:] and len(damage) == 1
    assert peak < 8 * 1024 * 1024, peak  # a few blocks and read steps, not the declared gigabyte


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_a_cut_last_record_is_named_and_the_others_kept(gzipped):
    data = join([response(n) for n in range(6)], gzipped)[:-40]
    urls, damage = read(data)
    assert urls == URLS[:5]
    assert [d[1] for d in damage] == [framing.CUT_OFF]


def test_bytes_between_gzip_members_are_skipped_to_the_next_member():
    members = [gzip.compress(response(n), mtime=0) for n in range(6)]
    data = b"".join(members[:3]) + b"\x00" * 777 + b"".join(members[3:])
    urls, damage = read(data)
    assert urls == URLS
    assert [(d[0], d[1]) for d in damage] == [(len(b"".join(members[:3])), framing.CORRUPT_GZIP)]
    assert "777 bytes" in damage[0][2]


def test_a_gzip_member_that_does_not_inflate_costs_only_its_record():
    members = [gzip.compress(response(n), mtime=0) for n in range(6)]
    broken = bytearray(members[2])
    broken[len(broken) // 2:len(broken) // 2 + 40] = b"\xff" * 40
    urls, damage = read(b"".join(members[:2]) + bytes(broken) + b"".join(members[3:]))
    assert urls == URLS[:2] + URLS[3:]
    assert damage and {d[1] for d in damage} <= {framing.CORRUPT_GZIP, framing.LENGTH_MISMATCH}


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_a_file_of_garbage_behind_a_warc_line_is_one_damage_and_no_record(gzipped):
    data = b"WARC/1.1\r\n" + bytes(range(256)) * 2000
    urls, damage = read(gzip.compress(data) if gzipped else data)
    assert urls == [] and [d[1] for d in damage] == [framing.BAD_HEADER]


@pytest.mark.parametrize("bad, event", [
    (("WARC-Date: " + DATE).encode(), framing.BAD_FIELDS),  # no WARC-Date
    (b"WARC-Date: yesterday", framing.BAD_FIELDS),
    (b"WARC-Record-ID:", framing.BAD_FIELDS),
], ids=["no-date", "bad-date", "no-id"])
def test_a_wanted_record_that_is_no_valid_warc_record_is_left_out(bad, event):
    records = [response(n) for n in range(4)]
    if bad.startswith(b"WARC-Date: yesterday"):
        records[1] = records[1].replace(("WARC-Date: " + DATE).encode(), bad)
    elif bad.startswith(b"WARC-Date"):
        records[1] = records[1].replace(bad + b"\r\n", b"")
    else:
        records[1] = re.sub(rb"WARC-Record-ID: [^\r]*\r\n", b"", records[1])
    urls, damage = read(join(records, True))
    assert urls == [URLS[0]] + URLS[2:4]
    assert [(d[1], d[3]) for d in damage] == [(event, URLS[1])]


def test_a_block_that_does_not_match_its_digest_is_left_out():
    records = [response(n) for n in range(4)]
    records[1] = records[1].replace(b"page 1 page 1", b"page 1 PAGE 1", 1)  # same length, other bytes
    urls, damage = read(join(records, False))
    assert urls == [URLS[0]] + URLS[2:4]
    assert [(d[1], d[3]) for d in damage] == [(framing.DIGEST_MISMATCH, URLS[1])]


def test_a_file_of_one_gzip_member_holding_every_record_is_read():
    assert read(gzip.compress(b"".join(response(n) for n in range(6))))[0] == URLS


def test_records_not_wanted_are_framed_but_their_blocks_not_read():
    records = [response(n) for n in range(6)]
    records[4] = with_length(records[4], 50)
    damage: list = []
    wanted = [r.header(b"WARC-Target-URI") for r in read_records(
        io.BytesIO(join(records, True)), lambda kind, uri, length: uri.endswith(b"/5"), lambda *d: damage.append(d))]
    assert wanted == [b"https://a.test/5"]
    assert [d[3] for d in damage] == [URLS[4]]  # damage is named whether or not the record was wanted


@pytest.mark.parametrize("step", [1, 7, 4096])
def test_headers_and_blocks_split_across_reads_anywhere_are_read(step):
    data = join([response(n, 500) for n in range(6)], False)
    damage: list = []
    urls = [r.header(b"WARC-Target-URI").decode() for r in read_records(
        Stream(data, step), lambda kind, uri, length: True, lambda *d: damage.append(d))]
    assert urls == URLS and damage == []
