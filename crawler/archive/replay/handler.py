"""The replay's download handler: http(s) requests answered from the REPLAY_FROM archive, never the network.

A handler rather than a middleware, so the rest of Scrapy (robots.txt, redirects, retries, decompression,
cookies) works exactly as in a live crawl, and there is no network handler to open a connection.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers, Request, Response
from scrapy.responsetypes import responsetypes

from crawler.archive.replay.copy import RecordCopier
from crawler.archive.replay.index import shared_index
from crawler.archive.replay.record import ReplayError, read_record
from crawler.contracts import Meta

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

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
        if self.stats.get_value("replay/records") is None:  # the http and https handlers share one index
            self.stats.set_value("replay/records", len(self.index))
            logger.info("replaying %d records from %s", len(self.index), self.index.source)
        self.copier = self._copier(crawler)
        # Closed with the spider, not with the handler (at engine_stopped): the stats file and the report are
        # written at spider_closed, and they count the copies.
        crawler.signals.connect(self._close_copier, signal=signals.spider_closed)

    @staticmethod
    def _copier(crawler: Crawler) -> RecordCopier | None:
        run = getattr(crawler, "topic_run", None)
        if run is None or not crawler.settings.getbool("REPLAY_COPY_RECORDS"):
            return None
        return RecordCopier(run.paths.warc_dir, run.paths.index, Path(crawler.settings["REPLAY_FROM"]),
                            crawler.settings.get("WARC_PREFIX"), crawler.settings.getint("WARC_MAX_SIZE"))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ReplayDownloadHandler":
        return cls(crawler)

    async def download_request(self, request: Request) -> Response:
        which = request.meta.get(Meta.REPLAY_CAPTURE)
        chosen = self.index.capture(request.method, request.url, which) if which is not None else None
        if chosen is not None:  # versions: a chosen one of the URL's records (crawler.fetch.versions)
            pointer, place, count = chosen
            request.meta[Meta.REPLAY_SERVED] = (place, count)
        else:
            pointer = self.index.lookup(request.method, request.url)
        if pointer is None:
            self.stats.inc_value("replay/miss")
            logger.debug("replay miss: %s %s", request.method, request.url)
            raise IgnoreRequest(f"not in the replay archive: {request.url}")
        maxsize = int(request.meta.get("download_maxsize", self.maxsize) or 0)
        original = None
        try:
            served = read_record(pointer, self.verify, maxsize)
            body, truncated, cut = served.body, served.truncated, served.cut
            if pointer.record_type == "revisit":
                original = self.index.original_of(pointer, served.refers_to_uri, served.refers_to_date)
                if original is None:
                    raise ReplayError(f"{pointer.path} offset {pointer.offset}: revisit of an unknown record")
                first = read_record(original, self.verify, maxsize)
                body, truncated, cut = first.body, truncated or first.truncated, cut or first.cut
        except ReplayError as exc:
            self.stats.inc_value("replay/error")
            logger.error("replay: %s", exc)
            raise IgnoreRequest(str(exc)) from exc
        self.stats.inc_value("replay/hit")
        if truncated:
            request.meta[Meta.TRUNCATED] = truncated
            if cut:
                self.stats.inc_value("replay/truncated_oversize")
                logger.warning("replay: %s offset %d: over DOWNLOAD_MAXSIZE (%d bytes), served truncated: %s",
                               pointer.path, pointer.offset, maxsize, request.url)
        warc_file, offset = pointer.path.name, pointer.offset
        if self.copier is not None and not self.copier.own(pointer.path):
            before = len(self.copier.copied) - self.copier.reused
            copy = self.copier.copy(pointer.path, pointer.offset, served.stored_length,
                                    (pointer.url, pointer.date, pointer.digest))
            warc_file, offset = copy.warc_file, copy.offset
            if original is not None:
                self.copier.copy(original.path, original.offset, first.stored_length,
                                 (original.url, original.date, original.digest))
            self.stats.inc_value("replay/records_copied", len(self.copier.copied) - self.copier.reused - before)
        request.meta[Meta.WARC] = {"file": warc_file, "record_id": served.record_id, "offset": offset,
                                   "date": pointer.date, "source": [pointer.path.name, pointer.offset]}
        scrapy_headers = Headers()
        for name, value in served.headers:
            if name.lower() != "transfer-encoding":
                scrapy_headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=scrapy_headers, url=request.url, body=body)
        return cls(url=request.url, status=served.status, headers=scrapy_headers, body=body, request=request,
                   flags=["replay"], protocol=served.protocol)

    def _close_copier(self, spider=None) -> None:
        if self.copier is not None:
            lines = self.copier.close()
            if lines:
                self.stats.set_value("warc/index_lines", lines)
            self.copier = None

    async def close(self) -> None:
        self._close_copier()
