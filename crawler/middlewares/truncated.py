"""Responses cut short are flagged ``truncated``: a compressed body whose streams end early
(``crawler.compression``), or a body stopped at ``DOWNLOAD_MAXSIZE`` (``crawler.extensions.oversize``)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.http import Request, Response

from crawler.compression import complete_stream, decoded_codings
from crawler.contracts import Meta

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.statscollectors import StatsCollector

logger = logging.getLogger(__name__)


class TruncatedBodyMiddleware:
    """Flags a response ``truncated`` when its compressed body ends early, or when it was cut at
    ``DOWNLOAD_MAXSIZE`` (``crawler.extensions.oversize``).

    It sits just before decompression (590), where the body is still as it came over the wire; the flag stays
    on the decompressed response for the spider, and the recorder (890) has archived the raw bytes as they are.
    Stat: ``compression/truncated``.
    """

    def __init__(self, stats: StatsCollector, max_size: int) -> None:
        self.stats = stats
        self.max_size = max_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TruncatedBodyMiddleware":
        return cls(crawler.stats, crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(Meta.TRUNCATED) and "truncated" not in response.flags:
            response.flags.append("truncated")  # stopped at DOWNLOAD_MAXSIZE (crawler.extensions.oversize)
            return response
        if not response.body or request.method == "HEAD" or "truncated" in response.flags:
            return response
        codings = decoded_codings(response.headers.getlist(b"Content-Encoding"))
        max_size = int(request.meta.get("download_maxsize", self.max_size) or 0)
        if codings and not complete_stream(response.body, codings, max_size):
            response.flags.append("truncated")
            self.stats.inc_value("compression/truncated")
            logger.debug("compressed body (%s) ends before its stream: %s", ", ".join(codings), response.url)
        return response
