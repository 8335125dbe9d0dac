"""Offline replay: every request is answered from WARC files (``-s REPLAY_FROM=<file or directory>``).

Replay is a download handler for http and https, so the rest of Scrapy (robots.txt, redirects, retries,
decompression, cookies) works exactly as in a live crawl, and no network connection can be opened: there is no
network handler to open one. Only the middlewares that shape the request sent to a server (default headers,
credentials, proxy, timeout) are left out, as nothing is sent.

Record offsets come from the archive's ``index.cdxj`` (next to the WARC files or one level up, as a topic
directory keeps it) for the files it covers, and from one scan of the record headers for the others
(:func:`crawler.archive.records.scan`: bounded memory, damaged regions reported and read past); bodies are read
lazily from disk when a request asks for them, so memory does not grow with the archive, and a payload over
``DOWNLOAD_MAXSIZE`` is served cut there, flagged as a live oversize response is. A record's own headers (its
ID, a revisit's original, ``WARC-Truncated``) are read when it is served.

Matching is by method and URL, exact first, then canonicalized (scheme and host case, default port, fragment,
sorted query). When a URL has several records (a 503 that was retried, then a 200), successive requests get
them in recorded order, the last one repeating.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
from collections import defaultdict
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from w3lib.url import canonicalize_url
from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import ChunkedDataReader
from warcio.recordloader import ArcWarcRecordLoader
from warcio.statusandheaders import StatusAndHeaders

from crawler.archive.recorder import WARC_META
from crawler.archive.records import RESYNC_WINDOW, Damage, scan
from crawler.archive.writer import warc_files
from crawler.items import TRUNCATED_META

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


class ReplayError(Exception):
    """A WARC record that cannot be served; the message names the file and offset."""


def replay_key(url: str) -> str:
    """The canonical form used for the second matching pass."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower()
        port = parts.port
    except ValueError:
        return url
    netloc = host if port in (None, DEFAULT_PORTS.get(scheme)) else f"{host}:{port}"
    return canonicalize_url(urlunsplit((scheme, netloc, parts.path or "/", parts.query, "")))


@dataclass(frozen=True)
class RecordPointer:
    """Where a response (or revisit) record sits, and what it says about itself."""

    path: Path
    offset: int
    record_type: str
    url: str
    record_id: str
    digest: str | None
    refers_to_uri: str | None = None
    refers_to_date: str | None = None
    date: str | None = None
    truncated: str | None = None  # WARC-Truncated: the payload is only the start of what the server sent


def replay_files(source: Path) -> list[Path]:
    """The WARC files of a REPLAY_FROM source; NotConfigured saying why when it has none (naming the crawl's
    ``warc/`` folder when the source is a topic folder, the likely mix-up)."""
    if not source.exists():
        raise NotConfigured(f"REPLAY_FROM={source}: no such file or directory")
    files = warc_files(source)
    if not files:
        hint = f" (a crawl keeps its archive in {source / 'warc'})" if warc_files(source / "warc") else ""
        raise NotConfigured(f"REPLAY_FROM={source}: no WARC file (*.warc.gz, *.warc) in it{hint}")
    return files


class ReplayIndex:
    """Offsets of the response records of some WARC files, by (method, URL)."""

    def __init__(self, source: str | Path, use_cdxj: bool = True, resync_window: int = RESYNC_WINDOW) -> None:
        self.source = Path(source)
        self.resync_window = resync_window
        files = replay_files(self.source)
        self.exact: dict[tuple[str, str], list[RecordPointer]] = defaultdict(list)
        self._registered: list[tuple[str, RecordPointer]] = []  # in recorded order, for the canonical table
        self._canonical: dict[tuple[str, str], list[RecordPointer]] | None = None
        self.by_digest: dict[str, RecordPointer] = {}
        self.by_uri_date: dict[tuple[str, str], RecordPointer] = {}
        self.errors: list[str] = []
        self._served: dict[tuple[str, str, str], int] = defaultdict(int)
        indexed = self._from_cdxj(files) if use_cdxj else set()
        for path in files:
            if path not in indexed:
                self._scan(path)

    def _from_cdxj(self, files: list[Path]) -> set[Path]:
        """Register the records of the files a CDXJ index covers; returns those files.

        A file newer than the index (or absent from it) is left to the scan: its lines may be missing.
        """
        index = find_cdxj(self.source)
        if index is None:
            return set()
        index_time = index.stat().st_mtime
        by_name = {path.name: path for path in files if path.stat().st_mtime <= index_time}
        order = {path: number for number, path in enumerate(files)}
        pointers: list[tuple[str, RecordPointer]] = []
        try:
            with open(index, encoding="utf-8") as fh:
                for line in fh:
                    entry = _cdxj_entry(line)
                    if entry is None or entry.get("filename") not in by_name:
                        continue
                    mime = entry.get("mime", "")
                    if mime == "warc/revisit":
                        kind = "revisit"
                    elif entry.get("status") and mime != "application/warc-fields":
                        kind = "response"
                    else:
                        continue  # metadata and resource records are not answers to requests
                    digest = entry.get("digest") or None
                    if digest and ":" not in digest:
                        digest = "sha1:" + digest
                    pointers.append((str(entry.get("method") or "GET").upper(), RecordPointer(
                        by_name[entry["filename"]], int(entry["offset"]), kind, entry.get("url", ""), "", digest,
                        date=line.split(" ", 2)[1])))
        except (OSError, UnicodeDecodeError, KeyError, ValueError) as exc:
            logger.warning("replay: cannot use %s (%s); scanning the WARC files instead", index, exc)
            return set()
        pointers.sort(key=lambda found: (order[found[1].path], found[1].offset))  # recorded order
        for method, pointer in pointers:
            self._register(method, pointer)
        logger.info("replay: %d records located through %s", len(pointers), index)
        return set(by_name.values())

    def _register(self, method: str, pointer: RecordPointer) -> None:
        self.exact[(method, pointer.url)].append(pointer)
        self._registered.append((method, pointer))
        self._canonical = None
        if pointer.record_type == "response":
            if pointer.digest:
                self.by_digest.setdefault(pointer.digest, pointer)
            if pointer.date:
                self.by_uri_date[(pointer.url, _second(pointer.date))] = pointer

    def _scan(self, path: Path) -> None:
        """Register the response and revisit records of one file, from their headers alone (a request's method
        from the first bytes of its block); damage is logged with its file, offset and bytes skipped, and the
        records on both sides of it are served."""
        methods: dict[str, str] = {}
        pending: list[RecordPointer] = []
        try:
            for found in scan(path, peek=16, resync_window=self.resync_window):
                if isinstance(found, Damage):
                    logger.error("replay: %s", found)
                    self.errors.append(str(found))
                    continue
                if found.rec_type == "request":
                    concurrent = found.get("WARC-Concurrent-To")
                    if concurrent and found.block_start:
                        methods[concurrent] = found.block_start.split(b" ", 1)[0].decode("latin-1").upper()
                elif found.rec_type in ("response", "revisit"):
                    pending.append(RecordPointer(
                        path, found.offset, found.rec_type, found.get("WARC-Target-URI") or "",
                        found.get("WARC-Record-ID") or "", found.get("WARC-Payload-Digest"),
                        found.get("WARC-Refers-To-Target-URI"), found.get("WARC-Refers-To-Date"),
                        found.get("WARC-Date"), found.get("WARC-Truncated")))
        except OSError as exc:
            message = f"{path}: cannot read ({exc})"
            logger.error("replay: %s", message)
            self.errors.append(message)
        for pointer in pending:
            self._register(methods.get(pointer.record_id, "GET"), pointer)

    def __len__(self) -> int:
        return sum(len(v) for v in self.exact.values())

    @property
    def canonical(self) -> dict[tuple[str, str], list[RecordPointer]]:
        """Records by (method, canonical URL); built on the first request the exact table misses, as most
        replays (a crawl's own archive) never need it."""
        if self._canonical is None:
            self._canonical = defaultdict(list)
            for method, pointer in self._registered:
                self._canonical[(method, replay_key(pointer.url))].append(pointer)
        return self._canonical

    def lookup(self, method: str, url: str) -> RecordPointer | None:
        """The next record for a request, in recorded order, the last one repeating."""
        pointers = self.exact.get((method, url))
        if pointers:
            return self._next(("exact", method, url), pointers)
        key = (method, replay_key(url))
        pointers = self.canonical.get(key)
        return self._next(("canonical", *key), pointers) if pointers else None

    def _next(self, served_key: tuple[str, str, str], pointers: list[RecordPointer]) -> RecordPointer:
        served = self._served[served_key]
        self._served[served_key] = served + 1
        return pointers[min(served, len(pointers) - 1)]

    def original_of(self, revisit: RecordPointer, refers_to_uri: str | None = None,
                    refers_to_date: str | None = None) -> RecordPointer | None:
        uri, date = refers_to_uri or revisit.refers_to_uri, refers_to_date or revisit.refers_to_date
        if uri and date:
            found = self.by_uri_date.get((uri, _second(date)))
            if found:
                return found
        return self.by_digest.get(revisit.digest or "")


def _second(date: str) -> str:
    """A WARC-Date or CDXJ timestamp cut to the second (``YYYYMMDDhhmmss``), the precision CDXJ keeps."""
    return "".join(c for c in date if c.isdigit())[:14]


def _cdxj_entry(line: str) -> dict | None:
    try:
        fields = json.loads(line.split(" ", 2)[2])
    except (IndexError, ValueError):
        return None  # a torn line is skipped; its file is scanned only if it is missing from the index
    return fields if isinstance(fields, dict) and "offset" in fields else None


def find_cdxj(source: Path) -> Path | None:
    """The ``index.cdxj`` beside the WARC file(s), or one level up (a topic directory's layout)."""
    base = source if source.is_dir() else source.parent
    for candidate in (base / "index.cdxj", base.parent / "index.cdxj"):
        if candidate.is_file():
            return candidate
    return None


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


def _read_record(pointer: RecordPointer, verify: bool, maxsize: int = 0) -> ServedRecord:
    """Status, headers and payload bytes (transfer framing removed, content encoding kept) of one record.

    The record block is read whole, hashed once for its digest, then its HTTP headers parsed by warcio's own
    loader: warcio's verifying reader would hash it twice (block and payload). A payload over ``maxsize`` bytes
    (0: no limit) is cut there and marked ``truncated = "length"``, as a live download is; a block declaring more
    than ``maxsize`` plus :data:`HTTP_HEAD_ROOM` is not read past that, and its digest cannot be checked."""
    try:
        with open(pointer.path, "rb") as fh:
            fh.seek(pointer.offset)
            start = fh.read(7)
            if not start.startswith((b"\x1f\x8b\x08", b"WARC/1.")):  # zeros or text: not for warcio's reader
                raise ValueError("no WARC record at this offset (stale index?)")
            fh.seek(pointer.offset)
            record = next(iter(ArchiveIterator(fh, no_record_parse=True)))
            rec = record.rec_headers
            # Bytes at a wrong offset can pass for an old ARC header: only a WARC record for this URL is served.
            if record.format != "warc":
                raise ValueError("no WARC record at this offset (stale index?)")
            if record.rec_type not in ("response", "revisit"):
                raise ValueError(f"a {record.rec_type} record where a response was expected (stale index?)")
            if pointer.url and rec.get_header("WARC-Target-URI") != pointer.url:
                raise ValueError(f"a record for {rec.get_header('WARC-Target-URI')} where one for {pointer.url} "
                                 "was expected (stale index?)")
            limit = maxsize + HTTP_HEAD_ROOM if maxsize else 0
            whole = not limit or (record.length or 0) <= limit
            block = record.raw_stream.read() if whole else record.raw_stream.read(limit)
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
                        rec.get_header("WARC-Refers-To-Date"), cut)


_HTTP_LOADER = ArcWarcRecordLoader(verify_http=False)


class ReplayDownloadHandler:
    """Answers http(s) requests from the REPLAY_FROM archive; a miss is dropped and counted."""

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.verify = crawler.settings.getbool("REPLAY_VERIFY_DIGESTS")
        self.maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        self.index = shared_index(crawler.settings.get("REPLAY_FROM"), crawler.settings.getbool("REPLAY_USE_INDEX"),
                                  crawler.settings.getint("REPLAY_RESYNC_WINDOW"))
        logger.info("replaying %d records from %s", len(self.index), self.index.source)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ReplayDownloadHandler":
        return cls(crawler)

    async def download_request(self, request: Request) -> Response:
        pointer = self.index.lookup(request.method, request.url)
        if pointer is None:
            self.stats.inc_value("replay/miss")
            logger.debug("replay miss: %s %s", request.method, request.url)
            raise IgnoreRequest(f"not in the replay archive: {request.url}")
        maxsize = int(request.meta.get("download_maxsize", self.maxsize) or 0)
        try:
            served = _read_record(pointer, self.verify, maxsize)
            body, truncated, cut = served.body, served.truncated, served.cut
            if pointer.record_type == "revisit":
                original = self.index.original_of(pointer, served.refers_to_uri, served.refers_to_date)
                if original is None:
                    raise ReplayError(f"{pointer.path} offset {pointer.offset}: revisit of an unknown record")
                first = _read_record(original, self.verify, maxsize)
                body, truncated, cut = first.body, truncated or first.truncated, cut or first.cut
        except ReplayError as exc:
            self.stats.inc_value("replay/error")
            logger.error("replay: %s", exc)
            raise IgnoreRequest(str(exc)) from exc
        self.stats.inc_value("replay/hit")
        if truncated:
            request.meta[TRUNCATED_META] = truncated
            if cut:
                self.stats.inc_value("replay/truncated_oversize")
                logger.warning("replay: %s offset %d: over DOWNLOAD_MAXSIZE (%d bytes), served truncated: %s",
                               pointer.path, pointer.offset, maxsize, request.url)
        request.meta[WARC_META] = {"file": pointer.path.name, "record_id": served.record_id,
                                   "offset": pointer.offset, "date": pointer.date}
        scrapy_headers = Headers()
        for name, value in served.headers:
            if name.lower() != "transfer-encoding":
                scrapy_headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=scrapy_headers, url=request.url, body=body)
        return cls(url=request.url, status=served.status, headers=scrapy_headers, body=body, request=request,
                   flags=["replay"], protocol=served.protocol)

    async def close(self) -> None:
        return None


_INDEXES: dict[str, ReplayIndex] = {}


def shared_index(source: str, use_cdxj: bool = True, resync_window: int = RESYNC_WINDOW) -> ReplayIndex:
    """One index per source per process (the http and https handlers share it, and its serving order)."""
    key = str(Path(source).resolve())
    if key not in _INDEXES:
        _INDEXES[key] = ReplayIndex(source, use_cdxj, resync_window)
    return _INDEXES[key]


def use_bundled_public_suffix_list() -> None:
    """Make the cookies middleware use tldextract's bundled suffix list instead of downloading it."""
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)


class ReplayAddon:
    """Switches http/https downloads to :class:`ReplayDownloadHandler` when REPLAY_FROM is set."""

    @classmethod
    def update_pre_crawler_settings(cls, settings: BaseSettings) -> None:
        use_bundled_public_suffix_list()

    def update_settings(self, settings: BaseSettings) -> None:
        if not settings.get("REPLAY_FROM"):
            return
        handler = "crawler.archive.replay.ReplayDownloadHandler"
        settings.set("DOWNLOAD_HANDLERS", {"http": handler, "https": handler, "ftp": None, "s3": None},
                     priority="addon")
        # Middlewares that only shape the request sent to a server (default headers, credentials, proxy,
        # timeout): a replay sends none, and matches records by method and URL alone. (The Referer middleware
        # stays: the redirect middlewares warn on every run without it.)
        from scrapy.downloadermiddlewares.defaultheaders import DefaultHeadersMiddleware
        from scrapy.downloadermiddlewares.downloadtimeout import DownloadTimeoutMiddleware
        from scrapy.downloadermiddlewares.httpauth import HttpAuthMiddleware
        from scrapy.downloadermiddlewares.httpproxy import HttpProxyMiddleware

        for middleware in (DefaultHeadersMiddleware, DownloadTimeoutMiddleware, HttpAuthMiddleware,
                           HttpProxyMiddleware):
            settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", middleware, None)
        # A replay is as fast as the disk: politeness delays protect live servers only.
        for name, value in (("DOWNLOAD_DELAY", 0), ("AUTOTHROTTLE_ENABLED", False),
                            ("CONCURRENT_REQUESTS_PER_DOMAIN", 64), ("CONCURRENT_REQUESTS", 64),
                            ("RETRY_BACKOFF_BASE", 0)):
            if (settings.getpriority(name) or 0) <= SETTINGS_PRIORITIES["project"]:
                settings.set(name, value, priority="spider")
