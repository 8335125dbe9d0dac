"""The WARC recorder: every HTTP exchange of a crawl becomes a request record and a response record.

It is a downloader middleware placed closer to the network than decompression and redirects, so it sees each
redirect hop and the body exactly as the server encoded it (gzip, br, ...), with every header the server sent,
repeated ones included. Scrapy hands bodies over without their transfer framing; when the server used
``Transfer-Encoding: chunked`` the body is written back as a single chunk so the stored HTTP message keeps the
original headers and stays a valid chunked message (the content is byte-identical, only chunk boundaries differ).

A response cut at ``DOWNLOAD_MAXSIZE`` (see ``crawler.extensions.oversize``) is written with
``WARC-Truncated: length`` and never serves as the original of a later revisit.

A payload already archived for the same URL (this run or an earlier one of the topic) becomes a ``revisit``
record (identical-payload-digest profile) instead of a second copy. A 304 to a request that names the capture
it confirms (``Meta.REFERS_TO``: a kept article asked for again, ``crawler.fetch.versions``) becomes a ``revisit``
record of the server-not-modified profile referring to that capture.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket
import time
from datetime import datetime, timezone
from http import HTTPStatus
from io import BytesIO
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import scrapy
import warcio
from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response
from scrapy.utils.defer import deferred_from_coro
from warcio.statusandheaders import StatusAndHeaders
from warcio.timeutils import datetime_to_iso_date

from crawler import __version__
from crawler.archive.index import add_to_index
from crawler.archive.writer import RotatingWarcWriter, recover_directory
from crawler.compat import keep_connection_headers
from crawler.contracts import Meta
from crawler.paths import paths_for, topic_name_of
from crawler.state import open_state
from crawler.store import PayloadRef

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

SERVER_NOT_MODIFIED = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"


def warc_enabled(settings) -> bool:
    """WARC_ENABLED=None means on for live crawls and off when replaying an archive."""
    value = settings.get("WARC_ENABLED")
    if value is None or value == "":
        return not settings.get("REPLAY_FROM")
    return settings.getbool("WARC_ENABLED")


def payload_digest(payload: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode("ascii")


def warc_date(timestamp: float) -> str:
    return datetime_to_iso_date(
        datetime.fromtimestamp(timestamp, timezone.utc).replace(tzinfo=None), use_micros=True
    )


def _header_pairs(headers) -> list[tuple[str, str]]:
    pairs = []
    for name, values in headers.items():
        key = name.decode("latin-1") if isinstance(name, bytes) else str(name)
        for value in values:
            pairs.append((key, value.decode("latin-1") if isinstance(value, bytes) else str(value)))
    return pairs


def rechunk(body: bytes) -> bytes:
    """A body as one chunk plus the terminating chunk: valid framing for a ``chunked`` message."""
    if not body:
        return b"0\r\n\r\n"
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)


def request_http_headers(request: Request) -> StatusAndHeaders:
    parts = urlsplit(request.url)
    target = parts.path or "/"
    if parts.query:
        target += "?" + parts.query
    pairs = _header_pairs(request.headers)
    if not any(name.lower() == "host" for name, _ in pairs):
        pairs.insert(0, ("Host", parts.netloc))
    return StatusAndHeaders(f"{request.method} {target} HTTP/1.1", pairs, is_http_request=True)


def response_http_headers(response: Response) -> StatusAndHeaders:
    try:
        reason = HTTPStatus(response.status).phrase
    except ValueError:
        reason = "Unknown"
    protocol = response.protocol or "HTTP/1.1"
    if not protocol.upper().startswith("HTTP/"):
        protocol = "HTTP/1.1"
    return StatusAndHeaders(f"{response.status} {reason}", _header_pairs(response.headers), protocol=protocol)


def stored_payload(response: Response) -> bytes:
    chunked = any(v.lower().strip() == b"chunked" for v in response.headers.getlist(b"Transfer-Encoding"))
    return rechunk(response.body) if chunked else response.body


class WarcRecorderMiddleware:
    """Downloader middleware writing each exchange to the topic's WARC files (settings ``WARC_*``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.settings = crawler.settings
        self.stats = crawler.stats
        self.dedup = crawler.settings.getbool("WARC_DEDUP")
        self.writer: RotatingWarcWriter | None = None
        self.state = None
        self.failed = False
        self.recovered: list = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "WarcRecorderMiddleware":
        if not warc_enabled(crawler.settings):
            # No reason given: Scrapy logs a NotConfigured with one as a WARNING, and a replay (which records
            # nothing, its source being an archive already) or WARC_ENABLED=False is no problem to warn of.
            raise NotConfigured
        if not keep_connection_headers():
            logger.warning("this Scrapy version hides connection headers (Transfer-Encoding) from the WARC recorder")
        middleware = cls(crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_opened(self, spider: scrapy.Spider) -> None:
        """Recover what a killed crawl left, then open the writer; if that fails nothing may be fetched unarchived,
        so the crawl stops (finish reason ``warc_unavailable``) instead of going on without its WARC files."""
        try:
            self._open(spider)
        except Exception as exc:  # noqa: BLE001 - any cause: the one line names it
            self.failed = True
            logger.error("WARC recording cannot start (%s: %s); stopping the crawl", type(exc).__name__, exc)
            self.stats.set_value("warc/unavailable", 1)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="warc_unavailable"))

    def _open(self, spider: scrapy.Spider) -> None:
        paths = paths_for(self.settings, spider).create()
        for recovery in recover_directory(paths.warc_dir):
            if recovery.path.exists():
                self.recovered.append(recovery.path)  # indexed with this run's files when the spider closes
            logger.warning("recovered %s: %d records kept, %d bytes of torn tail cut",
                           recovery.path, recovery.records, recovery.cut_bytes)
            self.stats.inc_value("warc/files_recovered")
            self.stats.inc_value("warc/records_recovered", recovery.records)
            if recovery.cut_bytes:
                self.stats.inc_value("warc/torn_records_cut")
                self.stats.inc_value("warc/torn_bytes_cut", recovery.cut_bytes)
        run = getattr(self.crawler, "topic_run", None)  # a crawl without a topic (another spider) has none
        self.state = run.store if run is not None else open_state(paths.state)
        info = {
            "software": f"presswarc/{__version__} (Scrapy {scrapy.__version__}; warcio {warcio.__version__})"
            if hasattr(warcio, "__version__") else f"presswarc/{__version__} (Scrapy {scrapy.__version__})",
            "hostname": socket.gethostname(),
            "isPartOf": topic_name_of(spider),
            "description": f"presswarc crawl of topic {topic_name_of(spider)}",
            "http-header-user-agent": self.settings.get("USER_AGENT"),
            "robots": "obey" if self.settings.getbool("ROBOTSTXT_OBEY") else "ignore",
        }
        if self.settings.get("WARC_OPERATOR"):
            info["operator"] = self.settings.get("WARC_OPERATOR")
        self.writer = RotatingWarcWriter(
            paths.warc_dir,
            prefix=self.settings.get("WARC_PREFIX"),
            max_size=self.settings.getint("WARC_MAX_SIZE"),
            info=info,
        )

    def spider_closed(self, spider: scrapy.Spider) -> None:
        if self.writer is None:
            return
        self.writer.close()
        if (self.writer.files_written or self.recovered) and self.settings.getbool("WARC_INDEX"):
            paths = paths_for(self.settings, spider)
            files = self.recovered + [self.writer.directory / name for name in self.writer.files_written]
            try:
                lines = add_to_index(paths.index, files)
            except Exception:  # the WARC files are safe; `scrapy reindex` can rebuild the index later
                logger.exception("could not update %s; run `scrapy reindex %s`", paths.index, paths.root)
                self.stats.inc_value("warc/index_errors")
            else:
                self.stats.set_value("warc/index_lines", lines)

    def process_request(self, request: Request) -> None:
        if self.failed:
            raise IgnoreRequest(f"not fetched: WARC recording is not available ({request.url})")
        request.meta.setdefault(Meta.WARC_SENT, time.time())

    def process_response(self, request: Request, response: Response) -> Response:
        if self.writer is None or response.url.startswith(("data:", "file:")):
            return response
        self.record_exchange(request, response)
        return response

    def record_exchange(self, request: Request, response: Response) -> None:
        """Write the request/response pair (or request/revisit) and note the record on ``request.meta``."""
        assert self.writer is not None
        builder = self.writer.builder
        url = request.url
        sent = request.meta.pop(Meta.WARC_SENT, time.time())
        payload = stored_payload(response)
        digest = payload_digest(payload)
        http_headers = response_http_headers(response)
        response_date = warc_date(time.time())
        warc_headers = {"WARC-Date": response_date}
        if response.ip_address is not None:
            warc_headers["WARC-IP-Address"] = str(response.ip_address)
        truncated = request.meta.get(Meta.TRUNCATED)
        if truncated:
            warc_headers["WARC-Truncated"] = truncated

        earlier = (self.state.find_payload(url, digest)
                   if (self.dedup and payload and self.state and not truncated) else None)
        confirmed = request.meta.get(Meta.REFERS_TO) if response.status == 304 else None
        if confirmed:
            record = builder.create_warc_record(url, "revisit", http_headers=http_headers, warc_headers_dict={
                **warc_headers, "WARC-Profile": SERVER_NOT_MODIFIED, "WARC-Refers-To": confirmed["record_id"],
                "WARC-Refers-To-Target-URI": confirmed["uri"], "WARC-Refers-To-Date": confirmed["date"]})
        elif earlier is not None:
            record = builder.create_revisit_record(
                url, digest=digest, refers_to_uri=earlier.url, refers_to_date=earlier.warc_date,
                http_headers=http_headers,
            )
            record.rec_headers.add_header("WARC-Refers-To", earlier.record_id)
            for name, value in warc_headers.items():
                record.rec_headers.replace_header(name, value)
        else:
            record = builder.create_warc_record(
                url, "response", payload=BytesIO(payload), length=len(payload),
                http_headers=http_headers, warc_headers_dict=warc_headers,
            )
        response_id = record.rec_headers.get_header("WARC-Record-ID")
        body = request.body or b""
        request_record = builder.create_warc_record(
            url, "request", payload=BytesIO(body), length=len(body),
            http_headers=request_http_headers(request),
            warc_headers_dict={"WARC-Date": warc_date(sent), "WARC-Concurrent-To": response_id},
        )
        try:
            _, response_at = self.writer.write([request_record, record])
        except OSError as exc:
            self.stats.inc_value("warc/write_errors")
            logger.error("cannot write WARC records to %s: %s; stopping the crawl", self.writer.directory, exc)
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="warc_write_error"))
            raise
        if truncated:
            self.stats.inc_value("warc/truncated_written")
        if earlier is None and self.state is not None and payload and not truncated:
            self.state.add_payload(PayloadRef(url, digest, response_id, response_date, response_at.warc_file))
            self.stats.inc_value("warc/responses_written")
        elif earlier is not None or confirmed:
            self.stats.inc_value("warc/revisits_written")
        self.stats.inc_value("warc/records_written", 2)
        self.stats.inc_value("warc/bytes_payload", len(payload))
        request.meta[Meta.WARC] = {
            "file": response_at.warc_file, "record_id": response_id, "offset": response_at.offset,
            "date": response_date,
        }
