"""What a replayed record serves: status, headers and payload of one record, its digest checked.

The download handler calls :func:`read_record` once per request (twice for a revisit), so this is the replay's
hot path: one read of the record block, one hash pass, warcio's HTTP header parser.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from io import BytesIO

from warcio.bufferedreaders import ChunkedDataReader
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders

from crawler.archive.reader import open_record
from crawler.archive.replay.index import RecordPointer


class ReplayError(Exception):
    """A WARC record that cannot be served; the message names the file and offset."""


@dataclass(frozen=True)
class ServedRecord:
    """What a record holds for a response: HTTP status, headers, payload, and its WARC headers of note."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    protocol: str
    record_id: str
    truncated: str | None
    refers_to_uri: str | None
    refers_to_date: str | None
    cut: bool = False  # the payload was cut at the maxsize asked for
    stored_length: int | None = None  # bytes the record takes in its file (a verbatim copy reads that many)


def digest_matches(declared: str, data: bytes) -> bool | None:
    """Whether ``data`` hashes to a WARC digest header (``algo:value``, in base32, base16 or base64, as RFC 3548
    allows); None when the algorithm is unknown, so nothing can be said."""
    algorithm, _, value = declared.strip().partition(":")
    try:
        digest = hashlib.new(algorithm.lower().replace("-", ""), data).digest()
    except ValueError:
        return None
    value = value.strip()
    return (value.upper() in (base64.b32encode(digest).decode("ascii"), digest.hex().upper())
            or value.rstrip("=") in (base64.b64encode(digest).decode("ascii").rstrip("="),
                                     base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")))


def _check_digest(rec: StatusAndHeaders, block: bytes, payload_start: int) -> None:
    """One hash pass per record: the block digest covers HTTP headers and payload, so it is the one checked;
    the payload digest only when the record has no block digest. Revisits carry their original's payload
    digest, which is not theirs to check."""
    if rec.get_header("WARC-Type") == "revisit":
        return
    block_digest = rec.get_header("WARC-Block-Digest")
    if block_digest:
        declared, data = block_digest, block
    elif rec.get_header("WARC-Payload-Digest") and rec.get_header("WARC-Segment-Number") is None:
        declared, data = rec.get_header("WARC-Payload-Digest"), block[payload_start:]
    else:
        return
    if digest_matches(declared, data) is False:
        raise ReplayError(f"digest mismatch ({declared})")


HTTP_HEAD_ROOM = 64 * 1024  # bytes of HTTP headers read beyond DOWNLOAD_MAXSIZE when a record is cut


def read_record(pointer: RecordPointer, verify: bool, maxsize: int = 0) -> ServedRecord:
    """Status, headers and payload bytes (transfer framing removed, content encoding kept) of one record.

    The record block is read whole, hashed once for its digest, then its HTTP headers parsed by warcio's own
    loader: warcio's verifying reader would hash it twice (block and payload). A payload over ``maxsize`` bytes
    (0: no limit) is cut there and marked ``truncated = "length"``, as a live download is; a block declaring more
    than ``maxsize`` plus :data:`HTTP_HEAD_ROOM` is not read past that, and its digest cannot be checked."""
    try:
        with open(pointer.path, "rb") as fh:
            # Bytes at a wrong offset can pass for an old ARC header: only a WARC record for this URL is served.
            opened = open_record(fh, pointer.offset, parse_http=False)
            record = opened.record
            rec = record.rec_headers
            if record.rec_type not in ("response", "revisit"):
                raise ValueError(f"a {record.rec_type} record where a response was expected (stale index?)")
            if pointer.url and rec.get_header("WARC-Target-URI") != pointer.url:
                raise ValueError(f"a record for {rec.get_header('WARC-Target-URI')} where one for {pointer.url} "
                                 "was expected (stale index?)")
            limit = maxsize + HTTP_HEAD_ROOM if maxsize else 0
            whole = not limit or (record.length or 0) <= limit
            block = record.raw_stream.read() if whole else record.raw_stream.read(limit)
            stored = opened.stored_length() if whole else None
        stream = BytesIO(block)
        http = _HTTP_LOADER.load_http_headers(record.rec_type, rec.get_header("WARC-Target-URI") or "", stream,
                                              len(block))
        payload_start = stream.tell()
        if verify and whole:
            _check_digest(rec, block, payload_start)
        raw = block[payload_start:]
        headers = list(http.headers) if http else []
        if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
            raw = ChunkedDataReader(BytesIO(raw), raise_exceptions=False).read()
        status = int(http.get_statuscode() or 200) if http else 200
        if not 100 <= status <= 999:
            raise ValueError(f"HTTP status {status} out of range")
    except ReplayError as exc:
        raise ReplayError(f"{pointer.path} offset {pointer.offset}: {exc}") from exc
    except Exception as exc:
        raise ReplayError(f"{pointer.path} offset {pointer.offset}: unreadable record "
                          f"({type(exc).__name__}: {exc})") from exc
    truncated = rec.get_header("WARC-Truncated")
    cut = bool(maxsize and (not whole or len(raw) > maxsize))
    if cut:
        raw, truncated = raw[:maxsize], "length"
    protocol = http.protocol if http else "HTTP/1.1"
    return ServedRecord(status, headers, raw, protocol, rec.get_header("WARC-Record-ID") or "",
                        truncated, rec.get_header("WARC-Refers-To-Target-URI"),
                        rec.get_header("WARC-Refers-To-Date"), cut, stored)


_HTTP_LOADER = ArcWarcRecordLoader(verify_http=False)
