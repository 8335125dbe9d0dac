"""Offline replay: every request is answered from WARC files (``-s REPLAY_FROM=<file or directory>``).

Replay is a download handler for http and https, so the rest of Scrapy (robots.txt, redirects, retries,
decompression, cookies) works exactly as in a live crawl, and no network connection can be opened: there is no
network handler to open one. The WARC files are scanned once for record headers and offsets; bodies are read
lazily from disk when a request asks for them, so memory does not grow with the archive.

Matching is by method and URL, exact first, then canonicalized (scheme and host case, default port, fragment,
sorted query). When a URL has several records (a 503 that was retried, then a 200), successive requests get
them in recorded order, the last one repeating.
"""

from __future__ import annotations

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

from crawler.archive.recorder import WARC_META
from crawler.archive.writer import warc_files
from crawler.extensions.oversize import TRUNCATED_META

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


class ReplayIndex:
    """Offsets of the response records of some WARC files, by (method, URL)."""

    def __init__(self, source: str | Path) -> None:
        self.source = Path(source)
        if not self.source.exists():
            raise NotConfigured(f"REPLAY_FROM: {self.source} does not exist")
        self.exact: dict[tuple[str, str], list[RecordPointer]] = defaultdict(list)
        self.canonical: dict[tuple[str, str], list[RecordPointer]] = defaultdict(list)
        self.by_digest: dict[str, RecordPointer] = {}
        self.by_uri_date: dict[tuple[str, str], RecordPointer] = {}
        self.errors: list[str] = []
        self._served: dict[tuple[str, str, str], int] = defaultdict(int)
        files = warc_files(self.source)
        if not files:
            raise NotConfigured(f"REPLAY_FROM: no WARC files in {self.source}")
        for path in files:
            self._scan(path)

    def _scan(self, path: Path) -> None:
        methods: dict[str, str] = {}
        pending: list[RecordPointer] = []
        offset = 0
        end = 0
        try:
            with open(path, "rb") as fh:
                iterator = ArchiveIterator(fh)
                for record in iterator:
                    offset = iterator.get_record_offset()
                    if record.format != "warc":
                        raise ValueError("not a WARC record")
                    headers = record.rec_headers
                    if record.rec_type == "request" and record.http_headers is not None:
                        concurrent = headers.get_header("WARC-Concurrent-To")
                        if concurrent:
                            methods[concurrent] = record.http_headers.protocol.split(" ")[0].upper()
                    elif record.rec_type in ("response", "revisit"):
                        pending.append(RecordPointer(
                            path, offset, record.rec_type, headers.get_header("WARC-Target-URI") or "",
                            headers.get_header("WARC-Record-ID") or "", headers.get_header("WARC-Payload-Digest"),
                            headers.get_header("WARC-Refers-To-Target-URI"),
                            headers.get_header("WARC-Refers-To-Date"), headers.get_header("WARC-Date"),
                            headers.get_header("WARC-Truncated"),
                        ))
                    record.raw_stream.read()
                    end = offset + iterator.get_record_length()
            size = path.stat().st_size
            if end < size:  # warcio stops quietly at a truncated gzip member: say so
                offset = end
                raise ValueError(f"{size - end} bytes at the end are not a complete record (truncated?)")
        except Exception as exc:  # corrupt gzip, truncated record, not a WARC at all
            message = f"{path}: unreadable WARC data after offset {offset} ({type(exc).__name__}: {exc})"
            logger.error("%s; the %d records before it are still served", message, len(pending))
            self.errors.append(message)
        for pointer in pending:
            method = methods.get(pointer.record_id, "GET")
            self.exact[(method, pointer.url)].append(pointer)
            self.canonical[(method, replay_key(pointer.url))].append(pointer)
            if pointer.record_type == "response":
                if pointer.digest:
                    self.by_digest.setdefault(pointer.digest, pointer)
                if pointer.date:
                    self.by_uri_date[(pointer.url, pointer.date)] = pointer

    def __len__(self) -> int:
        return sum(len(v) for v in self.exact.values())

    def lookup(self, method: str, url: str) -> RecordPointer | None:
        """The next record for a request, in recorded order, the last one repeating."""
        for table, key, kind in (
            (self.exact, (method, url), "exact"),
            (self.canonical, (method, replay_key(url)), "canonical"),
        ):
            pointers = table.get(key)
            if pointers:
                served = self._served[(kind, *key)]
                self._served[(kind, *key)] += 1
                return pointers[min(served, len(pointers) - 1)]
        return None

    def original_of(self, revisit: RecordPointer) -> RecordPointer | None:
        if revisit.refers_to_uri and revisit.refers_to_date:
            found = self.by_uri_date.get((revisit.refers_to_uri, revisit.refers_to_date))
            if found:
                return found
        return self.by_digest.get(revisit.digest or "")


def _read_record(pointer: RecordPointer, verify: bool) -> tuple[int, list[tuple[str, str]], bytes, str]:
    """Status, headers and payload bytes (transfer framing removed, content encoding kept) of one record."""
    try:
        with open(pointer.path, "rb") as fh:
            fh.seek(pointer.offset)
            record = next(iter(ArchiveIterator(fh, check_digests=verify)))
            http = record.http_headers
            raw = record.raw_stream.read()
            if verify and record.digest_checker.passed is False:
                raise ReplayError(f"{pointer.path} offset {pointer.offset}: digest mismatch "
                                  f"({'; '.join(record.digest_checker.problems)})")
    except ReplayError:
        raise
    except Exception as exc:
        raise ReplayError(f"{pointer.path} offset {pointer.offset}: unreadable record ({exc})") from exc
    headers = list(http.headers) if http else []
    if any(k.lower() == "transfer-encoding" and "chunked" in v.lower() for k, v in headers):
        raw = ChunkedDataReader(BytesIO(raw), raise_exceptions=False).read()
    status = int(http.get_statuscode() or 200) if http else 200
    protocol = http.protocol if http else "HTTP/1.1"
    return status, headers, raw, protocol


class ReplayDownloadHandler:
    """Answers http(s) requests from the REPLAY_FROM archive; a miss is dropped and counted."""

    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.verify = crawler.settings.getbool("REPLAY_VERIFY_DIGESTS", True)
        self.index = shared_index(crawler.settings.get("REPLAY_FROM"))
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
        try:
            status, headers, body, protocol = _read_record(pointer, self.verify)
            if pointer.record_type == "revisit":
                original = self.index.original_of(pointer)
                if original is None:
                    raise ReplayError(f"{pointer.path} offset {pointer.offset}: revisit of an unknown record")
                _, _, body, _ = _read_record(original, self.verify)
        except ReplayError as exc:
            self.stats.inc_value("replay/error")
            logger.error("replay: %s", exc)
            raise IgnoreRequest(str(exc)) from exc
        self.stats.inc_value("replay/hit")
        if pointer.truncated:
            request.meta[TRUNCATED_META] = pointer.truncated
        request.meta[WARC_META] = {"file": pointer.path.name, "record_id": pointer.record_id,
                                   "offset": pointer.offset}
        scrapy_headers = Headers()
        for name, value in headers:
            if name.lower() != "transfer-encoding":
                scrapy_headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=scrapy_headers, url=request.url, body=body)
        return cls(url=request.url, status=status, headers=scrapy_headers, body=body, request=request,
                   flags=["replay"], protocol=protocol)

    async def close(self) -> None:
        return None


_INDEXES: dict[str, ReplayIndex] = {}


def shared_index(source: str) -> ReplayIndex:
    """One index per source per process (the http and https handlers share it, and its serving order)."""
    key = str(Path(source).resolve())
    if key not in _INDEXES:
        _INDEXES[key] = ReplayIndex(source)
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
        # A replay is as fast as the disk: politeness delays protect live servers only.
        for name, value in (("DOWNLOAD_DELAY", 0), ("AUTOTHROTTLE_ENABLED", False),
                            ("CONCURRENT_REQUESTS_PER_DOMAIN", 64), ("CONCURRENT_REQUESTS", 64),
                            ("RETRY_BACKOFF_BASE", 0)):
            if (settings.getpriority(name) or 0) <= SETTINGS_PRIORITIES["project"]:
                settings.set(name, value, priority="spider")
