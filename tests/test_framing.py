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


def records_of(data: bytes, step: int = 5000) -> tuple[list[framing.Record], list[tuple[int, str, str, str]]]:
    damage: list[tuple[int, str, str, str]] = []
    found = list(read_records(Stream(data, step), lambda kind, uri, length: True, lambda *d: damage.append(d)))
    return found, damage


def as_bytes(record: framing.Record) -> bytes:
    """The record as scan-warc copies it (crawler.archive.scan.Found.record_bytes)."""
    lines = b"".join(key + b": " + value + b"\r\n" for key, value in record.headers)
    return record.status_line + b"\r\n" + lines + b"\r\n" + record.block + b"\r\n\r\n"


def in_head(record: bytes, old: bytes, new: bytes) -> bytes:
    head, _, rest = record.partition(b"\r\n\r\n")
    assert old in head
    return head.replace(old, new, 1) + b"\r\n\r\n" + rest


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
@pytest.mark.parametrize("smuggled", [b"X-Note: a\nContent-Length: 5", b"X-Note: a\rb", b"X-Note: a\n\nWARC/1.1"],
                         ids=["lf-content-length", "bare-cr", "lf-blank-line"])
def test_a_header_block_holding_a_bare_line_break_is_left_out(gzipped, smuggled):
    """warcio splits header lines at LF: a copy of such a record would be framed by it with the smuggled field
    (here a Content-Length of 5), and the topic's WARC file would be unreadable past it."""
    records = [response(n) for n in range(4)]
    records[1] = in_head(records[1], b"\r\nContent-Type: ", b"\r\n" + smuggled + b"\r\nContent-Type: ")
    urls, damage = read(join(records, gzipped))
    assert urls == [URLS[0]] + URLS[2:4]
    assert [d[1] for d in damage] == [framing.BAD_HEADER]


def test_a_record_of_lf_only_lines_is_named_and_does_not_swallow_the_next():
    """Its header block (searched to the first CRLF CRLF) would run into the next record's, and the next record
    be kept with the whole LF-only record in its status line."""
    records = [response(n) for n in range(4)]
    records[1] = records[1].replace(b"\r\n", b"\n")
    found, damage = records_of(join(records, False))
    assert [as_bytes(r) for r in found] == [records[0]] + records[2:4]
    assert [(d[0], d[1]) for d in damage] == [(len(records[0]), framing.BAD_HEADER)]


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_a_content_length_continued_on_the_next_line_is_left_out(gzipped):
    """The copy writes a folded field as one line: ``Content-Length: 3077 7`` is no length for any reader."""
    records = [response(n) for n in range(4)]
    length = re.search(rb"\r\nContent-Length: (\d+)\r\n\r\n", records[1]).group(1)
    records[1] = in_head(records[1], b"Content-Length: " + length, b"Content-Length: " + length + b"\r\n 7")
    urls, damage = read(join(records, gzipped))
    assert urls == [URLS[0]] + URLS[2:4] and [d[1] for d in damage] == [framing.BAD_HEADER]


def chunked_response(number: int, digest: bool) -> bytes:
    block, _ = http_response((f"page {number} " * 400).encode(), chunked=True)  # ends in 0 CRLF CRLF
    record = warc_record("response", f"https://a.test/{number}", block, DATE)
    return record if digest else re.sub(rb"WARC-Block-Digest: [^\r]*\r\n", b"", record)


@pytest.mark.parametrize("change", [-2, -4])
@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_a_short_content_length_whose_missing_bytes_are_line_breaks_is_left_out(gzipped, change):
    """A block ending in line breaks, declared 2 or 4 bytes short, is followed by what looks like its own two
    line breaks: without a block digest nothing tells the record is short, so it is not kept (it would be copied
    without its last bytes: a chunked body without its end)."""
    records = [chunked_response(n, digest=False) for n in range(4)]
    records[1] = with_length(records[1], change)
    urls, damage = read(join(records, gzipped))
    assert urls == [URLS[0]] + URLS[2:4]
    assert [(d[1], d[3]) for d in damage] == [(framing.LENGTH_MISMATCH, URLS[1])]


def test_extra_line_breaks_after_a_record_with_a_digest_cost_nothing():
    records = [chunked_response(n, digest=True) for n in range(4)]
    records[1] += b"\r\n\r\n"
    assert read(join(records, False)) == (URLS[:4], [])


@pytest.mark.parametrize("step", [1, 2])
def test_a_gzip_stream_handing_out_a_byte_at_a_time_is_read_as_gzip(step):
    found, damage = records_of(join([response(n, 500) for n in range(3)], True), step)
    assert [r.header(b"WARC-Target-URI").decode() for r in found] == URLS[:3] and damage == []


@pytest.mark.parametrize("step", [1, 7, 100, 5000])
def test_nothing_of_a_gzip_member_that_fails_its_check_is_kept(step):
    """Its record's bytes were inflated before its CRC came: they are not to be trusted, whatever the reads."""
    members = [gzip.compress(response(n), mtime=0) for n in range(4)]
    broken = bytearray(members[1])
    broken[-6] ^= 0xFF  # the CRC-32
    found, damage = records_of(b"".join(members[:1]) + bytes(broken) + b"".join(members[2:]), step)
    assert [r.header(b"WARC-Target-URI").decode() for r in found] == [URLS[0]] + URLS[2:4]
    assert damage and {d[1] for d in damage} == {framing.CORRUPT_GZIP}


@pytest.mark.parametrize("change", [300, -300, 10 ** 9], ids=["+300", "-300", "1GB"])
def test_a_lie_inside_one_gzip_member_holding_every_record_costs_only_that_record(change):
    records = [response(n) for n in range(6)]
    records[2] = with_length(records[2], change)
    urls, damage = read(gzip.compress(b"".join(records)))
    assert urls == URLS[:2] + URLS[3:]
    assert [(d[1], d[3]) for d in damage] == [(framing.LENGTH_MISMATCH, URLS[2])]


@pytest.mark.parametrize("digest", [b"sha1LJDJTOCR4IO5CLFF5NACXH", b"sha1:", b":LJDJTOCR4IO5CLFF5NACXH"])
def test_a_block_digest_that_is_no_algorithm_and_value_is_a_mismatch(digest):
    """A digest damaged so that it no longer names its algorithm must not pass as one of an unknown kind."""
    records = [response(n) for n in range(3)]
    records[1] = re.sub(rb"WARC-Block-Digest: [^\r]*", b"WARC-Block-Digest: " + digest, records[1])
    urls, damage = read(join(records, False))
    assert urls == [URLS[0], URLS[2]] and [d[1] for d in damage] == [framing.DIGEST_MISMATCH]


@pytest.mark.parametrize("layout", ["plain", "gz", "gz-one-member"])
def test_a_response_whose_payload_is_a_warc_file_is_one_record(layout):
    inner = b"".join(warc_record("response", f"https://inner.test/{n}", http_response(b"x" * 50)[0], DATE)
                     for n in range(3))
    block, start = http_response(inner, content_type="application/warc")
    records = [response(0), warc_record("response", "https://a.test/nested", block, DATE, payload_start=start),
               response(1)]
    data = {"plain": b"".join(records), "gz": join(records, True), "gz-one-member": gzip.compress(b"".join(records))}
    assert read(data[layout]) == ([URLS[0], "https://a.test/nested", URLS[1]], [])


def small_records() -> list[bytes]:
    import random
    import uuid

    rng = random.Random(3)  # the same bytes each run
    return [warc_record("response", f"https://a.test/{n}", http_response((f"p{n} " * 75).encode())[0], DATE,
                        record_id=f"<urn:uuid:{uuid.UUID(int=rng.getrandbits(128), version=4)}>") for n in range(4)]


def variants(data: bytes, changes: int = 400) -> list[bytes]:
    """Every cut of ``data``, then ``changes`` copies of it with one bit flipped."""
    import random

    rng = random.Random(5)
    out = [data[:cut] for cut in range(len(data))]
    for _ in range(changes):
        changed = bytearray(data)
        changed[rng.randrange(len(changed))] ^= 1 << rng.randrange(8)
        out.append(bytes(changed))
    return out


@pytest.mark.parametrize("gzipped", [True, False], ids=["gz", "plain"])
def test_cut_anywhere_or_with_a_bit_flipped_the_reader_never_raises_and_keeps_only_true_records(gzipped):
    """Every cut point of a small file, and a few hundred one-bit changes, read from a stream in odd steps. A
    kept block is always one of the file's (the block digest); in a file of one record per gzip member the whole
    record is (the member's CRC covers its header lines too, which nothing else does)."""
    records = small_records()
    blocks = {r.partition(b"\r\n\r\n")[2][:-4] for r in records}
    for number, variant in enumerate(variants(join(records, gzipped))):
        found, _ = records_of(variant, (1, 7, 97, 5000)[number % 4])
        assert all(r.block in blocks for r in found), number
        if gzipped:
            assert all(as_bytes(r) in records for r in found), number


@pytest.mark.xfail(strict=True, reason="a record of a gzip member holding many is handed on before the member's "
                                       "CRC is read at its end: a flipped bit that garbles its WARC-Block-Digest "
                                       "line away leaves nothing to check the garbled block against")
def test_in_one_gzip_member_holding_every_record_a_flipped_bit_never_yields_a_garbled_block():
    records = small_records()
    blocks = {r.partition(b"\r\n\r\n")[2][:-4] for r in records}
    data = gzip.compress(b"".join(records), mtime=0)
    kept_garbled = []
    for bit in range(8 * len(data)):  # every one-bit change, read as a stream hands it out
        changed = bytearray(data)
        changed[bit // 8] ^= 1 << (bit % 8)
        if any(r.block not in blocks for r in records_of(bytes(changed), step=7)[0]):
            kept_garbled.append(bit)
    assert kept_garbled == []


@pytest.mark.xfail(strict=True, reason="a plain stream that cannot seek is skipped over to the declared end of a "
                                       "record not wanted, so the records in the declared gigabyte are gone "
                                       "before the lie shows; reading them on needs the skipped bytes searched as "
                                       "they pass, with a record heading found there kept")
def test_a_plain_stream_that_cannot_seek_reads_on_past_a_declared_gigabyte_it_does_not_want():
    records = [response(n) for n in range(6)]
    records[2] = with_length(records[2], 10 ** 9)
    damage: list = []
    found = [r.header(b"WARC-Target-URI").decode() for r in read_records(
        Stream(join(records, False)), lambda kind, uri, length: length < 16 << 20, lambda *d: damage.append(d))]
    assert found == URLS[:2] + URLS[3:] and [d[1] for d in damage] == [framing.LENGTH_MISMATCH]


@pytest.mark.xfail(strict=True, reason="NUL bytes after the last record of a plain .warc (a padded file) are taken "
                                       "for the rest of its block: the record is left out as a length mismatch, "
                                       "where a .warc.gz names the padding and keeps the record")
def test_nul_padding_after_the_last_record_of_a_plain_file_costs_no_record():
    urls, damage = read(join([response(n) for n in range(4)], False) + b"\0" * 4096)
    assert urls == URLS[:4]
