"""Over-size responses are cut at ``DOWNLOAD_MAXSIZE`` and kept, flagged, instead of vanishing.

Scrapy cancels a download that announces or delivers more than ``DOWNLOAD_MAXSIZE`` bytes and nothing
downstream ever sees it: the archive would hold no trace that the page existed. This extension stops such a
download itself, one step earlier, through Scrapy's ``StopDownload`` signal protocol: the response then
carries its headers and the bytes that arrived (none when ``Content-Length`` already said too much), the
request is marked ``truncated = "length"`` (the WARC 1.1 reason), the WARC recorder writes the record with
``WARC-Truncated: length``, and the spider counts the page as truncated and writes no text from it.

Setting: ``OVERSIZE_TRUNCATE`` (default True; False leaves Scrapy's cancel as it is).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Request

from crawler.contracts import Meta

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class OversizeTruncation:
    """Stops a download at the size limit and marks the request, so the cut response is archived."""

    def __init__(self, crawler: Crawler, default_maxsize: int) -> None:
        self.stats = crawler.stats
        self.default_maxsize = default_maxsize

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "OversizeTruncation":
        if not crawler.settings.getbool("OVERSIZE_TRUNCATE"):
            raise NotConfigured("OVERSIZE_TRUNCATE is off")
        maxsize = crawler.settings.getint("DOWNLOAD_MAXSIZE")
        extension = cls(crawler, maxsize)
        crawler.signals.connect(extension.headers_received, signal=signals.headers_received)
        crawler.signals.connect(extension.bytes_received, signal=signals.bytes_received)
        return extension

    def maxsize(self, request: Request) -> int:
        return int(request.meta.get("download_maxsize", self.default_maxsize) or 0)

    def headers_received(self, headers: Any, body_length: Any, request: Request, spider: Any) -> None:
        request.meta[Meta.OVERSIZE_RECEIVED] = 0  # a new response (a retry, a redirect hop) starts its own count
        limit = self.maxsize(request)
        if limit and isinstance(body_length, int) and body_length > limit:
            self._stop(request, f"announced {body_length} bytes")

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        limit = self.maxsize(request)
        if not limit:
            return
        received = request.meta.get(Meta.OVERSIZE_RECEIVED, 0) + len(data)
        request.meta[Meta.OVERSIZE_RECEIVED] = received
        if received > limit:
            self._stop(request, f"received {received} bytes")

    def _stop(self, request: Request, why: str) -> None:
        request.meta[Meta.TRUNCATED] = "length"
        request.meta.pop(Meta.OVERSIZE_RECEIVED, None)
        self.stats.inc_value("download/truncated_oversize")
        logger.warning("over DOWNLOAD_MAXSIZE (%d bytes, %s): archived as truncated, not read: %s",
                       self.maxsize(request), why, request.url)
        raise StopDownload(fail=False)
