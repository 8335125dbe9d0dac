"""A web archive's capture as records of our WARC: headers true of the payload, metadata naming the source, a
Common Crawl range checked whole before it is copied."""

from __future__ import annotations

import gzip
from datetime import datetime, timezone
from io import BytesIO

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.warcwriter import WARCWriter

from crawler.archive.capture import BrokenRecord, read_range, restored_headers, wayback_records
from tests.support.webarchives import Page, write_warc

BODY = b"<html><head><title>Lavrov</title></head><body><p>Text.</p></body></html>"


def header(pairs, name):
    return [value for key, value in pairs if key.lower() == name.lower()]


def test_a_decoded_body_loses_the_original_content_encoding_and_length():
    # What a raw replay may answer: the body decoded, the original's gzip and length still reported.
    answer = [("Content-Type", "text/html"), ("X-Archive-Orig-Content-Encoding", "gzip"),
              ("X-Archive-Orig-Content-Length", "61"), ("X-Archive-Orig-Server", "nginx"),
              ("X-Archive-Orig-Transfer-Encoding", "chunked"), ("Memento-Datetime", "Fri, 16 Jul 2021 09:35:12 GMT")]
    restored = restored_headers(answer, BODY)
    assert header(restored, "Content-Encoding") == [] and header(restored, "Transfer-Encoding") == []
    assert header(restored, "Content-Length") == [str(len(BODY))]
    assert header(restored, "Server") == ["nginx"] and header(restored, "Memento-Datetime") == []


def test_an_encoded_body_keeps_its_coding():
    encoded = gzip.compress(BODY)
    restored = restored_headers([("X-Archive-Orig-Content-Encoding", "gzip")], encoded)
    assert header(restored, "Content-Encoding") == ["gzip"]
    assert header(restored, "Content-Length") == [str(len(encoded))]


def test_an_answer_without_orig_headers_keeps_its_own_less_the_archives():
    restored = restored_headers([("Content-Type", "text/html"), ("Content-Encoding", "gzip"), ("Link", "<x>"),
                                 ("Memento-Datetime", "x"), ("X-Archive-Src", "a.warc.gz"),
                                 ("Date", "Wed, 02 Dec 2026 04:02:35 GMT")], BODY)
    assert [name for name, _ in restored] == ["Content-Type", "Content-Length"]


def test_wayback_records_replay_at_the_original_url_and_date():
    builder = WARCWriter(None, gzip=True, warc_version="1.1")
    captured = datetime(2021, 7, 16, 9, 35, 12, tzinfo=timezone.utc)
    response, metadata = wayback_records(builder, "https://example.org/a", captured, 200,
                                         [("X-Archive-Orig-Content-Encoding", "gzip")], BODY,
                                         "https://web.archive.org/web/20210716093512id_/https://example.org/a")
    stream = BytesIO()
    writer = WARCWriter(stream, gzip=True, warc_version="1.1")
    writer.write_record(response)
    writer.write_record(metadata)
    stream.seek(0)
    (first, _), (second, payload) = [(r, r.content_stream().read()) for r in ArchiveIterator(stream)]
    assert first.rec_headers.get_header("WARC-Target-URI") == "https://example.org/a"
    assert first.rec_headers.get_header("WARC-Date") == "2021-07-16T09:35:12Z"
    assert first.http_headers.get_header("Content-Encoding") is None
    assert second.rec_type == "metadata"
    assert second.rec_headers.get_header("WARC-Refers-To") == first.rec_headers.get_header("WARC-Record-ID")
    assert b"via: https://web.archive.org/web/20210716093512id_/https://example.org/a" in payload


def test_a_range_is_read_only_when_it_is_one_whole_record(tmp_path):
    lines = write_warc(tmp_path / "cc.warc.gz", [Page("http://a.test/one", "20210725101010", BODY),
                                                 Page("http://a.test/two", "20210725101011", BODY * 3)])
    data = (tmp_path / "cc.warc.gz").read_bytes()
    second = lines[1]
    offset, length = int(second["offset"]), int(second["length"])
    record = read_range(data[offset:offset + length], length)
    assert (record.url, record.status, record.body) == ("http://a.test/two", 200, BODY * 3)
    assert record.warc_date == "2021-07-25T10:10:11Z"
    with pytest.raises(BrokenRecord, match="index said"):
        read_range(data[offset:offset + length - 40], length)
    with pytest.raises(BrokenRecord, match="ends early"):
        read_range(data[offset:offset + length - 40], None)
    with pytest.raises(BrokenRecord, match="not a gzip member"):
        read_range(data[offset + 3:offset + length], None)
