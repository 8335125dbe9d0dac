"""Where the replay finds a request's record: offsets of the response and revisit records by (method, URL).

Offsets come from the archive's ``index.cdxj`` for the files it covers (no scan of those at start), and from one
bounded scan of the record headers for the others (:func:`crawler.archive.records.scan`). Matching is by method
and URL, exact first, then canonicalized; several records of one URL are served in recorded order, the last one
repeating; when several crawl runs answered a URL, the newest run's records are served (see ``_latest_run``).
No Scrapy here: :class:`ReplayIndex` is plain data the download handler reads.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from scrapy.exceptions import NotConfigured
from w3lib.url import canonicalize_url

from crawler.archive import cdxj
from crawler.archive.records import RESYNC_WINDOW, Damage, scan
from crawler.archive.writer import runs_of, warc_files

logger = logging.getLogger(__name__)

DEFAULT_PORTS = {"http": 80, "https": 443}


def replay_key(url: str) -> str:
    """The canonical form used for the second matching pass: the host in lower case and without the trailing
    dot of a fully qualified name (``WWW.X.COM.`` is the host ``www.x.com``, as a crawl's request for it says)."""
    try:
        parts = urlsplit(url.strip())
        scheme = parts.scheme.lower()
        host = (parts.hostname or "").lower().rstrip(".")
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
    status: int | None = None  # the HTTP status, when the index or the record's first bytes say it


def replay_files(source: Path) -> list[Path]:
    """The WARC files of a REPLAY_FROM source; NotConfigured saying why when it has none (naming the crawl's
    ``warc/`` folder when the source is a topic folder, the likely mix-up)."""
    if not source.exists():
        raise NotConfigured(f"REPLAY_FROM={source}: no such file or directory")
    files = warc_files(source)
    if not files:
        hint = f" (a crawl keeps its archive in {source / 'warc'})" if warc_files(source / "warc") else ""
        raise NotConfigured(f"REPLAY_FROM={source}: no WARC file (*.warc.gz, *.warc) in it{hint}")
    if not any(_starts_like_warc(path) for path in files):
        named = files[0] if len(files) == 1 else f"none of its {len(files)} files"
        raise NotConfigured(f"REPLAY_FROM={source}: {named} is not a WARC file (no WARC/1.x record at its start)")
    return files


def _starts_like_warc(path: Path) -> bool:
    """Whether the file's first record begins as a WARC record does, gzipped per record or not: what a file named
    .warc.gz holds can be anything (a download that failed, an HTML error page)."""
    import zlib

    try:
        with open(path, "rb") as stream:
            head = stream.read(64 * 1024)
    except OSError:
        return False
    if head[:2] == b"\x1f\x8b":
        try:
            head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, 16)
        except zlib.error:
            return False
    return head.startswith(b"WARC/")


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
        self._runs: dict[tuple[str, str, str], list[RecordPointer]] = {}
        self._run_of = runs_of(files)  # which crawl run wrote each file
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
        index = cdxj.find_cdxj(self.source)
        if index is None:
            return set()
        index_time = index.stat().st_mtime
        by_name = {path.name: path for path in files if path.stat().st_mtime <= index_time}
        order = {path: number for number, path in enumerate(files)}
        pointers: list[tuple[str, RecordPointer]] = []
        try:
            with open(index, encoding="utf-8") as fh:
                for line in fh:
                    parsed = cdxj.parse_line(line)
                    # a torn line is skipped; its file is scanned only if it is missing from the index
                    if parsed is None or "offset" not in parsed.fields:
                        continue
                    entry = parsed.fields
                    if entry.get("filename") not in by_name:
                        continue
                    mime = entry.get("mime", "")
                    if mime == "warc/revisit":
                        kind = "revisit"
                    elif entry.get("status") and mime != "application/warc-fields":
                        kind = "response"
                    else:
                        continue  # metadata and resource records are not answers to requests
                    digest = cdxj.payload_digest(entry)
                    pointers.append((str(entry.get("method") or "GET").upper(), RecordPointer(
                        by_name[entry["filename"]], int(entry["offset"]), kind, entry.get("url", ""), "", digest,
                        date=parsed.timestamp, status=_status(entry.get("status")))))
        except (OSError, UnicodeDecodeError, KeyError, ValueError) as exc:
            logger.warning("replay: cannot use %s (%s); scanning the WARC files instead", index, exc)
            return set()
        pointers.sort(key=lambda found: (order[found[1].path], found[1].offset))  # recorded order
        for method, pointer in pointers:
            self._register(method, pointer)
        logger.info("replay: %d records located through %s", len(pointers), index)
        # A file the index has no line of (a crawl killed before it indexed its file) is scanned, however old.
        return {pointer.path for _, pointer in pointers}

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
                        found.get("WARC-Date"), found.get("WARC-Truncated"), _http_status(found.block_start)))
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

    def capture(self, method: str, url: str, which: str | int) -> tuple[RecordPointer, int, int] | None:
        """Versions: one of a URL's records across every run, in recorded order, with its place and their number:
        ``"first"`` its first answer with content (2xx), or the record at place ``which``; None when there is none
        (then :meth:`lookup` decides). A later version's re-check asks for the record after the one served last."""
        pointers = self.exact.get((method, url)) or self.canonical.get((method, replay_key(url)))
        if not pointers:
            return None
        if which == "first":
            which = next((n for n, p in enumerate(pointers) if p.status is not None and 200 <= p.status < 300), -1)
        if not isinstance(which, int) or not 0 <= which < len(pointers):
            return None
        return pointers[which], which, len(pointers)

    def _next(self, served_key: tuple[str, str, str], pointers: list[RecordPointer]) -> RecordPointer:
        pointers = self._latest_run(served_key, pointers)
        served = self._served[served_key]
        self._served[served_key] = served + 1
        return pointers[min(served, len(pointers) - 1)]

    def _latest_run(self, served_key: tuple[str, str, str], pointers: list[RecordPointer]) -> list[RecordPointer]:
        """The records of a URL from the newest crawl run that answered it with content (not a 304).

        An archive of scheduled runs holds a listing once per run, and an article again when a killed run's
        article was fetched by the next one; the archive's text files follow the newest answer, so replay serves
        that run's records (in their recorded order, a retry's 503 then its 200 included)."""
        chosen = self._runs.get(served_key)
        if chosen is None:
            runs: dict[str, list[RecordPointer]] = {}
            for pointer in pointers:
                runs.setdefault(self._run_of.get(pointer.path, str(pointer.path)), []).append(pointer)
            chosen = next((found for found in reversed(list(runs.values()))
                           if any(p.status != 304 for p in found)), pointers)
            self._runs[served_key] = chosen
        return chosen

    def original_of(self, revisit: RecordPointer, refers_to_uri: str | None = None,
                    refers_to_date: str | None = None) -> RecordPointer | None:
        uri, date = refers_to_uri or revisit.refers_to_uri, refers_to_date or revisit.refers_to_date
        if uri and date:
            found = self.by_uri_date.get((uri, _second(date)))
            if found:
                return found
        return self.by_digest.get(revisit.digest or "")


def _status(value) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _http_status(block_start: bytes | None) -> int | None:
    """The status of an HTTP response from its first bytes (``HTTP/1.1 304 Not Modified``)."""
    parts = (block_start or b"").split(b" ", 2)
    return _status(parts[1]) if len(parts) > 1 and parts[0].startswith(b"HTTP/") else None


def _second(date: str) -> str:
    """A WARC-Date or CDXJ timestamp cut to the second (``YYYYMMDDhhmmss``), the precision CDXJ keeps."""
    return "".join(c for c in date if c.isdigit())[:14]


_INDEXES: dict[str, ReplayIndex] = {}


def shared_index(source: str, use_cdxj: bool = True, resync_window: int = RESYNC_WINDOW) -> ReplayIndex:
    """One index per source per process (the http and https handlers share it, and its serving order)."""
    key = str(Path(source).resolve())
    if key not in _INDEXES:
        _INDEXES[key] = ReplayIndex(source, use_cdxj, resync_window)
    return _INDEXES[key]
