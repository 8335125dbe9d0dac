"""WARC records for a page a web archive captured: what a Wayback capture and a Common Crawl record become in the
topic's WARC files.

A Wayback capture is fetched raw (``id_``) and written as a ``response`` record for the *original* URL at the
capture's time, so the WARC replays at the original URL and date in pywb. Its HTTP headers are the original
ones the archive reports (``X-Archive-Orig-*``, or the raw answer's own when it reports none) only where they
agree with the body received: a raw replay may hand back a decoded body while reporting the original
``Content-Encoding: gzip`` and ``Content-Length``, and a record's headers must never lie about its payload, so
a coding the body is not in is dropped and the length is the payload's. A ``metadata`` record names the Wayback
URL. A Common Crawl record is copied verbatim (its own record ID and ``WARC-Date``), followed by a ``metadata``
record naming collection, file, offset and length. Either way the exchange with the archive itself is recorded
by the recorder like every other request.

Knows nothing about articles or Scrapy: values in, warcio records (or checked bytes) out.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from datetime import datetime
from http import HTTPStatus
from io import BytesIO
from typing import Iterable

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date
from warcio.warcwriter import WARCWriter

ARCHIVE_ORIG = "x-archive-orig-"
# Headers of the archive's own answer, never the original page's.
_ARCHIVE_OWN = frozenset({"memento-datetime", "link", "content-location", "x-archive-src", "x-archive-guessed-charset",
                          "x-archive-guessed-content-type", "x-archive-playback", "server-timing",
                          "x-app-server", "x-ts", "x-location", "x-tr", "x-nid", "x-rl", "x-na", "x-page-cache"})
_FRAMING = frozenset({"transfer-encoding", "content-length", "connection", "keep-alive"})


class BrokenRecord(ValueError):
    """Bytes that are not one whole WARC record (a range cut short, the wrong offset)."""


def _encoded_as(body: bytes, coding: str) -> bool:
    """Whether ``body`` really is in this content-coding (its first bytes decode)."""
    coding = coding.strip().lower()
    if coding in ("", "identity"):
        return True
    try:
        if coding in ("gzip", "x-gzip"):
            return body[:2] == b"\x1f\x8b" and bool(zlib.decompressobj(zlib.MAX_WBITS | 16).decompress(body[:4096])
                                                    or len(body) < 4096)
        if coding == "deflate":
            zlib.decompressobj().decompress(body[:4096])
            return True
        if coding == "br":
            import brotli
            brotli.decompress(body)
            return True
    except Exception:  # noqa: BLE001 - any decoder error: it is not in that coding
        return False
    return False  # a coding we cannot check is not claimed


def restored_headers(headers: Iterable[tuple[str, str]], body: bytes) -> list[tuple[str, str]]:
    """The original page's headers as the archive reports them, true of ``body``: ``X-Archive-Orig-*`` when the
    answer has any (else its own, less the archive's), without framing headers, ``Content-Encoding`` only when
    the body is in that coding, and ``Content-Length`` the body's own."""
    headers = list(headers)
    original = [(name[len(ARCHIVE_ORIG):], value) for name, value in headers if name.lower().startswith(ARCHIVE_ORIG)]
    if not original:  # the answer's own headers, less the archive's (its Date is when it answered, not the page)
        original = [(name, value) for name, value in headers if name.lower() not in _ARCHIVE_OWN | {"date"}
                    and not name.lower().startswith("x-archive-")]
    kept = []
    for name, value in original:
        lower = name.lower()
        if lower in _FRAMING:
            continue
        if lower == "content-encoding" and not _encoded_as(body, value):
            continue
        kept.append((name, value))
    kept.append(("Content-Length", str(len(body))))
    return kept


def _iso(moment: datetime) -> str:
    return datetime_to_iso_date(moment.replace(tzinfo=None), use_micros=False)


def _fields(values: dict[str, str | int | None]) -> bytes:
    return "".join(f"{name}: {value}\r\n" for name, value in values.items() if value is not None).encode("utf-8")


def wayback_records(builder: WARCWriter, url: str, captured: datetime, status: int,
                    headers: Iterable[tuple[str, str]], body: bytes, wayback_url: str) -> list:
    """The ``response`` record of a raw Wayback capture under its original URL and time, and the ``metadata``
    record naming where it came from."""
    try:
        reason = HTTPStatus(status).phrase
    except ValueError:
        reason = "Unknown"
    http = StatusAndHeaders(f"{status} {reason}", restored_headers(headers, body), protocol="HTTP/1.1")
    date = _iso(captured)
    response = builder.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                          http_headers=http, warc_headers_dict={"WARC-Date": date})
    return [response, metadata_record(builder, url, date, response.rec_headers.get_header("WARC-Record-ID"),
                                      {"source": "wayback", "via": wayback_url, "captured-at": date})]


def metadata_record(builder: WARCWriter, url: str, date: str, refers_to: str | None,
                    values: dict[str, str | int | None]):
    """A ``metadata`` record (``application/warc-fields``) about the record ``refers_to``."""
    payload = _fields(values)
    warc_headers = {"WARC-Date": date}
    if refers_to:
        warc_headers["WARC-Refers-To"] = refers_to
        warc_headers["WARC-Concurrent-To"] = refers_to
    return builder.create_warc_record(url, "metadata", payload=BytesIO(payload), length=len(payload),
                                      warc_content_type="application/warc-fields", warc_headers_dict=warc_headers)


@dataclass(frozen=True)
class CopiedRecord:
    """A Common Crawl record read from its range: the bytes to copy, and what the record says."""

    data: bytes  # one gzip member, as it is in the source file
    url: str
    record_id: str
    warc_date: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes  # the payload, transfer and content codings removed


def read_range(data: bytes, expected_length: int | None) -> CopiedRecord:
    """Check that ``data`` is one whole gzipped WARC response record (as long as the index said) and read it;
    ``BrokenRecord`` says why not (a range cut short, the wrong offset, another record type)."""
    if expected_length is not None and len(data) != expected_length:
        raise BrokenRecord(f"range of {len(data)} bytes, the index said {expected_length}")
    if data[:2] != b"\x1f\x8b":
        raise BrokenRecord("not a gzip member")
    try:
        inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
        inflater.decompress(data)
        if not inflater.eof:
            raise BrokenRecord("the gzip member ends early (truncated range)")
        for record in ArchiveIterator(BytesIO(data)):
            if record.rec_type != "response":
                raise BrokenRecord(f"a {record.rec_type} record, not a response")
            http = record.http_headers
            body = record.content_stream().read()
            return CopiedRecord(data=data, url=record.rec_headers.get_header("WARC-Target-URI"),
                                record_id=record.rec_headers.get_header("WARC-Record-ID"),
                                warc_date=record.rec_headers.get_header("WARC-Date"),
                                status=int(http.get_statuscode() or 0) if http else 0,
                                headers=list(http.headers) if http else [], body=body)
    except BrokenRecord:
        raise
    except (zlib.error, gzip.BadGzipFile, EOFError, ValueError, Exception) as error:  # noqa: BLE001 - warcio
        raise BrokenRecord(f"unreadable record ({type(error).__name__}: {error})") from None
    raise BrokenRecord("no record in the range")
