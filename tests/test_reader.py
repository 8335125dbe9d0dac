"""One WARC record read where an index points, and response payloads found by record ID or URL."""

from __future__ import annotations

import pytest

from crawler.archive.reader import open_record, record_at, response_payloads
from crawler.archive.records import RecordHead, scan
from tests.support.warcs import write_warc


@pytest.mark.parametrize("gzip", [True, False], ids=["warc.gz", "warc"])
def test_record_at_reads_the_record_an_offset_names(tmp_path, gzip):
    warc = tmp_path / ("a.warc.gz" if gzip else "a.warc")
    offsets = write_warc(warc, {"http://e.test/a": b"<p>a</p>", "http://e.test/b": b"<p>b</p>"}, gzip=gzip)
    with open(warc, "rb") as fh:
        record = record_at(fh, offsets[1])
        assert record.rec_headers.get_header("WARC-Target-URI") == "http://e.test/b"
        assert record.content_stream().read() == b"<p>b</p>"
        unparsed = record_at(fh, offsets[0], parse_http=False)
        assert unparsed.http_headers is None and unparsed.raw_stream.read().startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("gzip", [True, False], ids=["warc.gz", "warc"])
def test_stored_length_is_the_gzip_member_a_verbatim_copy_reads(tmp_path, gzip):
    """The replay copies a served record by the length its reader saw; in a .warc.gz that is the gzip member the
    scanner finds, in an uncompressed file it is not known (warcio leaves the closing blank lines out)."""
    warc = tmp_path / ("a.warc.gz" if gzip else "a.warc")
    write_warc(warc, {"http://e.test/a": b"<p>a</p>" * 500, "http://e.test/b": b"<p>b</p>"}, gzip=gzip)
    heads = [head for head in scan(warc) if isinstance(head, RecordHead)]
    with open(warc, "rb") as fh:
        for head in heads:
            opened = open_record(fh, head.offset, parse_http=False)
            opened.record.raw_stream.read()
            assert opened.stored_length() == (head.length if gzip else None)


def test_an_offset_inside_a_record_is_no_record(tmp_path):
    """A stale index points into the middle of a record: refused with a reason, not read as garbage."""
    warc = tmp_path / "a.warc.gz"
    offsets = write_warc(warc, {"http://e.test/a": b"<p>a</p>"})
    with open(warc, "rb") as fh, pytest.raises(ValueError, match="no WARC record at this offset"):
        record_at(fh, offsets[0] + 5)
    with open(warc, "rb") as fh, pytest.raises(ValueError, match="no WARC record at this offset"):
        record_at(fh, warc.stat().st_size)


def test_response_payloads_by_url_give_the_first_record_of_each(tmp_path):
    first, second = tmp_path / "1.warc.gz", tmp_path / "2.warc.gz"
    write_warc(first, {"http://e.test/a": b"<p>first</p>"})
    write_warc(second, {"http://e.test/a": b"<p>second</p>", "http://e.test/b": b"<p>b</p>"},
               http_headers={"http://e.test/b": [("Content-Type", "text/html; charset=utf-8")]})
    found = response_payloads([first, second], "WARC-Target-URI", {"http://e.test/a", "http://e.test/b",
                                                                    "http://e.test/missing"})
    assert found == {"http://e.test/a": (b"<p>first</p>", "text/html"),
                     "http://e.test/b": (b"<p>b</p>", "text/html; charset=utf-8")}
