"""One WARC record read where an index points, and response payloads found by record ID or URL."""

from __future__ import annotations

import pytest

from crawler.archive.reader import record_at, response_payloads
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
