"""The scan-warc prefilter: one streaming pass over WARC files someone else made, keeping the few records a topic
may want, so the normal crawl machinery (replayed over exactly those records) never sees the rest.

A CC-NEWS month is tens of gigabytes of which a story is a few dozen records, so the pass must cost little more
than reading the bytes: each response record is judged by its ``WARC-Target-URI`` host first (a set lookup, no
payload read), and only a record on an outlet's host has its payload read, its HTTP framing and
``Content-Encoding`` undone, and searched for the query's positive terms as bytes (case-insensitively for
ASCII; see :func:`needles`). Sources are read as streams (local files, or HTTP URLs read as they arrive, never
loaded whole), with FastWARC (``resiliparse``) by default: in ``bench/scan.py`` it reads the same files faster
than warcio's iterator, which stays available (``SCAN_WARC_READER = "warcio"``).

What is kept goes to a :class:`~crawler.archive.writer.RotatingWarcWriter`, each record as its own gzip member
(its header lines and block bytes as read), followed by a ``metadata`` record ``WARC-Concurrent-To`` it naming
the source and the record's offset there. Nothing here knows about articles: hosts and needles are plain values.
"""

from __future__ import annotations

import gzip
import uuid
import zlib
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, Callable

from crawler.query import Query, fold
from crawler.urls.hosts import in_scope

READERS = ("checked", "fastwarc", "warcio")
SHOWN_DAMAGE = 10  # damage lines printed per source; the rest are counted
MAX_FAILED = 200  # damaged records on the outlets listed for the report
SUMMARY_NAME = "summary.json"  # what a pass saw (ScanResult.summary), written beside its list of kept records
UNREADABLE_SOURCE = "unreadable_source"  # a source that opened before the pass and not when its turn came


class NotAWarc(ValueError):
    """A source whose first record is no WARC record (a user error: the scan refuses it before writing)."""


@dataclass(frozen=True)
class Found:
    """A response record on an outlet's host: where it was, its header lines (raw bytes) and its block."""

    url: str
    offset: int
    status_line: bytes
    headers: list[tuple[bytes, bytes]]
    block: bytes

    def header(self, name: bytes) -> bytes | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)

    def record_bytes(self) -> bytes:
        """The record as it was: status line, header lines, block, the two closing line breaks."""
        lines = b"".join(key + b": " + value + b"\r\n" for key, value in self.headers)
        return self.status_line + b"\r\n" + lines + b"\r\n" + self.block + b"\r\n\r\n"


@dataclass
class ScanResult:
    """What one pass saw (the command prints it; the bench measures it)."""

    records: int = 0  # response records read (their headers, at least)
    bytes_read: int = 0  # bytes of the sources read
    on_outlet: int = 0  # response records on an outlet's host
    kept: int = 0  # of those, 2xx with a positive term in the payload: written
    repeated: int = 0  # a URL kept already in this pass (a later capture of it is left out)
    too_large: int = 0  # a record on an outlet's host over the size limit, not read
    damaged: list[str] = field(default_factory=list)  # "<source>: <where and why>", the first few per source
    urls: list[str] = field(default_factory=list)  # the kept records' URLs, in order
    events: Counter = field(default_factory=Counter)  # damage seen, by event (crawler.archive.framing's names)
    failed: list[dict[str, str]] = field(default_factory=list)  # damaged records on an outlet's host, with why
    _shown: Counter = field(default_factory=Counter)  # damage lines per source

    def damage(self, source: str, offset: int, event: str, why: str, url: str = "", on_outlet: bool = False) -> None:
        """One damaged record or region: counted, named in a line (the first :data:`SHOWN_DAMAGE` of a source),
        and listed for the report when it was a record on an outlet's host."""
        self.events[event] += 1
        self._shown[source] += 1
        if self._shown[source] <= SHOWN_DAMAGE:
            self.damaged.append(f"{source}: offset {offset}: {why}" + (f" ({url})" if url else ""))
        elif self._shown[source] == SHOWN_DAMAGE + 1:
            self.damaged.append(f"{source}: more damage, not shown here (counted in the report)")
        if on_outlet and len(self.failed) < MAX_FAILED:
            self.failed.append({"url": url, "why": f"{why} (offset {offset} of {source})"})

    def source_failed(self, source: str, why: str) -> None:
        """A source that could not be read at all this time (it could a moment before): named, the rest go on."""
        self.events[UNREADABLE_SOURCE] += 1
        self.damaged.append(f"{source}: {why}; this source is left out")

    def summary(self) -> dict[str, object]:
        """What the report shows of the pass (counts by event, damaged records on the outlets)."""
        counts = {"records_read": self.records, "on_outlet": self.on_outlet, "prefiltered_in": self.kept,
                  "too_large": self.too_large, **{f"damaged_{event}": n for event, n in sorted(self.events.items())}}
        return {"counts": {k: v for k, v in counts.items() if v}, "failed": self.failed}


# -- what to look for --

HTML_TYPES = (b"text/html", b"application/xhtml+xml")


def needles(query: Query) -> list[bytes]:
    """Byte strings of which a payload must hold one (after ASCII lowercasing) to be worth extracting.

    One per positive term (a phrase: its longest word, as the words may be split by markup), in the forms an HTML
    page may carry it in UTF-8: as written, folded (accents dropped), lower, upper and capitalized (bytes can be
    lowercased for ASCII only). A superset of the query's matches for UTF-8 pages; a page in another charset, or
    with the term written as character references, can be missed."""
    found: dict[bytes, None] = {}
    for display in query.positive_terms():
        words = display.lstrip("+").strip('"').rstrip("*").split()
        word = max(words, key=len) if words else ""
        if not word:
            continue
        for form in (word, fold(word), word.lower(), word.upper(), word.capitalize()):
            found.setdefault(form.encode("utf-8").lower(), None)
    return list(found)


class Prefilter:
    """Host and term tests, both cheap: ``on_outlet`` per record, ``wanted`` for a record on an outlet's host."""

    def __init__(self, hosts: Collection[str], terms: Sequence[bytes], max_bytes: int) -> None:
        self.hosts = frozenset(hosts)
        self.bare_hosts = frozenset(h for h in hosts if ":" not in h or h.endswith("]"))
        self.terms = tuple(terms)
        self.max_bytes = max_bytes
        self._scheme_hosts: dict[str, bool] = {}  # "scheme://host" -> in scope (one normalization per host)

    def on_outlet(self, url: str) -> bool:
        """Whether a target URI is on one of the hosts (or the www. twin the hosts already hold); a listed host
        without a port matches any port, as :func:`crawler.urls.hosts.in_scope` says, which confirms a hit."""
        start = url.find("://")
        if start < 0:
            return False
        end = len(url)
        for stop in "/?#":
            found = url.find(stop, start + 3)
            if 0 <= found < end:
                end = found
        origin = url[:end]
        known = self._scheme_hosts.get(origin)
        if known is not None:
            return known
        host = url[start + 3:end].rpartition("@")[2].lower()
        if ":" in host and not host.endswith("]"):  # a port: the trailing dot of the name is before it
            bare, _, port = host.rpartition(":")
            bare = bare.rstrip(".")
            host = f"{bare}:{port}"
        else:
            bare = host = host.rstrip(".")
        verdict = (host in self.hosts or bare in self.bare_hosts) and in_scope(origin + "/", self.hosts)
        if len(self._scheme_hosts) < 100_000:
            self._scheme_hosts[origin] = verdict
        return verdict

    def wanted(self, block: bytes) -> bool:
        """A 2xx HTTP response of HTML (or of no declared type) whose payload, decoded, holds one of the terms: a
        sitemap, a feed or an image is never an article, whatever words it holds."""
        head, _, body = block.partition(b"\r\n\r\n")
        status = head.split(b"\r\n", 1)[0].split(b" ", 2)
        if len(status) < 2 or not status[0].startswith(b"HTTP/") or not status[1].startswith(b"2"):
            return False
        fields = {}
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            fields[name.strip().lower()] = value.strip().lower()
        mime = fields.get(b"content-type", b"").split(b";", 1)[0].strip()
        if mime and mime not in HTML_TYPES:
            return False
        if b"chunked" in fields.get(b"transfer-encoding", b""):
            body = dechunk(body)
        for coding in reversed([c.strip() for c in fields.get(b"content-encoding", b"").split(b",") if c.strip()]):
            decoded = decode(coding, body, self.max_bytes)
            if decoded is None:
                break  # undecodable: the terms are looked for in what there is
            body = decoded
        hay = body.lower()
        return not self.terms or any(term in hay for term in self.terms)


def dechunk(data: bytes) -> bytes:
    """A chunked body's payload (what arrived of it, when it is cut short)."""
    out, position = [], 0
    while True:
        line_end = data.find(b"\r\n", position)
        if line_end < 0:
            break
        try:
            size = int(data[position:line_end].split(b";")[0].strip() or b"0", 16)
        except ValueError:
            break
        if size == 0:
            break
        out.append(data[line_end + 2:line_end + 2 + size])
        position = line_end + 2 + size + 2
    return b"".join(out)


def decode(coding: bytes, data: bytes, limit: int) -> bytes | None:
    """One content-coding undone, at most ``limit`` bytes of output (a bomb stays small); None if unknown or bad."""
    try:
        if coding in (b"gzip", b"x-gzip", b"deflate"):
            wbits = 47 if coding != b"deflate" or data[:1] == b"\x78" else -15  # deflate: zlib framing or raw
            return zlib.decompressobj(wbits).decompress(data, limit)
        if coding == b"br":
            import brotli

            return brotli.Decompressor().process(data, output_buffer_limit=limit)
        if coding == b"zstd":
            try:
                from compression import zstd  # type: ignore[import-not-found]
            except ImportError:
                from backports import zstd  # type: ignore[no-redef]
            out = b""
            while data and len(out) < limit:  # a body may be several frames, one after another
                decompressor = zstd.ZstdDecompressor()
                out += decompressor.decompress(data, max_length=limit - len(out))
                if not decompressor.eof:
                    break
                data = decompressor.unused_data
            return out
        if coding == b"identity":
            return data
    except Exception:  # noqa: BLE001 - a corrupt stream is just no decoded text
        return None
    return None


# -- readers: (url, offset, status line, header lines, block) of the response records on an outlet's host --

def _fastwarc_records(stream: BinaryIO, prefilter: Prefilter, result: ScanResult) -> Iterator[Found]:
    from fastwarc.warc import ArchiveIterator, WarcRecordType

    def on_outlet(record) -> bool:
        result.records += 1
        if not prefilter.on_outlet(record.headers.get("WARC-Target-URI", "")):
            return False
        if record.content_length > prefilter.max_bytes:
            result.too_large += 1
            return False
        return True

    for record in ArchiveIterator(stream, record_types=WarcRecordType.response, parse_http=False,
                                  func_filter=on_outlet, fsspec_args=False):
        result.on_outlet += 1
        block = record.reader.read()
        yield Found(record.headers.get("WARC-Target-URI", ""), record.stream_pos,
                        record.headers.status_line_bytes, list(record.headers.items_bytes()), block)


def _checked_records(stream: BinaryIO, prefilter: Prefilter, result: ScanResult) -> Iterator[Found]:
    """:mod:`crawler.archive.framing`'s reader: each record's framing checked, damage reported and read past."""
    from crawler.archive.framing import read_records

    def want(rec_type: bytes, uri: bytes, length: int) -> bool:
        if rec_type != b"response":
            return False
        result.records += 1
        if not prefilter.on_outlet(uri.decode("utf-8", "replace")):
            return False
        if length > prefilter.max_bytes:
            result.too_large += 1
            return False
        result.on_outlet += 1
        return True

    def on_damage(offset: int, event: str, why: str, url: str) -> None:
        result.damage(getattr(stream, "name", "source"), offset, event, why, url,
                      bool(url) and prefilter.on_outlet(url))

    for record in read_records(stream, want, on_damage):
        yield Found(record.header(b"WARC-Target-URI").decode("utf-8", "replace"), record.offset,
                    record.status_line, record.headers, record.block)


def _warcio_records(stream: BinaryIO, prefilter: Prefilter, result: ScanResult) -> Iterator[Found]:
    from warcio.archiveiterator import ArchiveIterator

    iterator = ArchiveIterator(stream, no_record_parse=True, arc2warc=False)
    for record in iterator:
        if record.rec_type != "response":
            continue
        result.records += 1
        url = record.rec_headers.get_header("WARC-Target-URI") or ""
        if not prefilter.on_outlet(url):
            continue
        if (record.length or 0) > prefilter.max_bytes:
            result.too_large += 1
            continue
        result.on_outlet += 1
        headers = [(k.encode("utf-8"), v.encode("utf-8")) for k, v in record.rec_headers.headers]
        block = record.raw_stream.read()  # before get_record_offset(), which reads the record to its end
        yield Found(url, iterator.get_record_offset(), record.rec_headers.protocol.encode("utf-8"), headers, block)


READER_FUNCTIONS: dict[str, Callable[[BinaryIO, Prefilter, ScanResult], Iterator[Found]]] = {
    "checked": _checked_records, "fastwarc": _fastwarc_records, "warcio": _warcio_records}


class CountingStream:
    """A binary stream that counts what was read through it and checks that it starts like a WARC file."""

    def __init__(self, raw: BinaryIO, name: str) -> None:
        self.raw, self.name, self.count = raw, name, 0
        try:
            self._head = raw.read(64 * 1024)
        except BaseException:  # a server that stalls (or Ctrl-C) before the first bytes: its socket is closed
            raw.close()
            raise
        if not looks_like_warc(self._head):
            raw.close()
            raise NotAWarc(f"{name}: not a WARC file (it does not start with a WARC record)")

    def read(self, size: int = -1) -> bytes:
        if self._head:
            if size is None or size < 0 or size >= len(self._head):
                data, self._head = self._head, b""
                if size is None or size < 0:
                    data += self.raw.read()
                elif size > len(data):
                    data += self.raw.read(size - len(data))
            else:
                data, self._head = self._head[:size], self._head[size:]
        else:
            data = self.raw.read(size) if size is not None else self.raw.read()
        self.count += len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        """A local file can: after a record that lies about its length, its reader looks back for the next."""
        try:
            return bool(self.raw.seekable())
        except (AttributeError, OSError, ValueError):
            return False

    def seek(self, offset: int) -> int:
        self._head = b""
        return self.raw.seek(offset)

    def tell(self) -> int:
        return self.count

    def close(self) -> None:
        self.raw.close()


def open_source(source: str, timeout: float) -> CountingStream:
    """A local file, or an HTTP(S) URL read as it arrives; OSError (with the reason) when it cannot be opened,
    :class:`NotAWarc` when it is no WARC file."""
    if source.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            response = urllib.request.urlopen(urllib.request.Request(source, headers={"Accept-Encoding": "identity"}),
                                              timeout=timeout)
        except urllib.error.HTTPError as exc:
            raise OSError(f"{source}: HTTP {exc.code} {exc.reason}") from None
        except (urllib.error.URLError, ValueError) as exc:
            raise OSError(f"{source}: cannot be fetched ({getattr(exc, 'reason', exc)})") from None
        return CountingStream(response, source)
    return CountingStream(open(source, "rb"), source)


def looks_like_warc(head: bytes) -> bool:
    """Whether the first bytes of a file are a WARC record (plain, or in a gzip member; empty members before it,
    which some writers leave, are passed over)."""
    while head[:2] == b"\x1f\x8b":
        inflater = zlib.decompressobj(31)
        try:
            out = inflater.decompress(head, 64)
        except zlib.error:
            return False
        if out or not inflater.eof:
            head = out
            break
        head = inflater.unused_data
    return head.startswith(b"WARC/")


def scan_stream(stream: BinaryIO, source: str, prefilter: Prefilter, write: Callable[[bytes], None],
                result: ScanResult, seen: set[str], reader: str = "fastwarc") -> None:
    """Read one source (already opened, e.g. a :class:`CountingStream`) and ``write`` what the topic may want:
    each kept record's bytes as a gzip member, then its ``metadata`` record. A source that breaks off or turns
    to garbage is noted in ``result.damaged`` and what was kept before stays."""
    try:
        for found in READER_FUNCTIONS[reader](stream, prefilter, result):
            if not prefilter.wanted(found.block):
                continue
            if found.url in seen:
                result.repeated += 1
                continue
            seen.add(found.url)
            result.kept += 1
            result.urls.append(found.url)
            write(gzip.compress(found.record_bytes(), compresslevel=6, mtime=0))
            write(gzip.compress(provenance_record(found, source), compresslevel=6, mtime=0))
    except BaseException as exc:  # noqa: BLE001 - a reader failure (FastWARC's panics are BaseExceptions) is
        if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):  # damage in that source, never fatal
            raise
        result.damaged.append(f"{source}: read stopped ({type(exc).__name__}: {exc})")


def provenance_record(found: Found, source: str) -> bytes:
    """The ``metadata`` record naming where a kept record was found (source file or URL, offset there)."""
    record_id = (found.header(b"WARC-Record-ID") or b"").decode("latin-1")
    body = (f"via: scan-warc\r\nsource: {source}\r\noffset: {found.offset}\r\n").encode("utf-8")
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    head = (f"WARC/1.1\r\nWARC-Type: metadata\r\nWARC-Target-URI: {found.url}\r\n"
            f"WARC-Date: {now}\r\nWARC-Record-ID: <urn:uuid:{uuid.uuid4()}>\r\n"
            + (f"WARC-Concurrent-To: {record_id}\r\n" if record_id else "")
            + f"Content-Type: application/warc-fields\r\nContent-Length: {len(body)}\r\n\r\n").encode("utf-8")
    return head + body + b"\r\n\r\n"
