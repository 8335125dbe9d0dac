"""A response that arrives slower than ``MINRATE_BYTES_PER_SEC`` bytes per second is given up early.

``DOWNLOAD_TIMEOUT`` bounds a whole download, so a server that trickles a page a byte at a time keeps a
download slot of its outlet for the full timeout, and every retry costs as much again. Scrapy has no minimum
transfer rate, and a downloader middleware cannot see bytes in flight; the ``bytes_received`` signal can: it
fires for every chunk with its request, and a handler that raises ``StopDownload`` ends that download.

The rate is the bytes of the body received since the response's headers, divided by the time since then; it is
judged once ``MINRATE_GRACE`` seconds have passed (a slow start on a fast page is normal), at each chunk
that arrives; the chunk that completes a body of announced length is never judged (a short page whose bytes
came late is whole). A download dropped this way fails (``StopDownload(fail=True)``: the request's errback, counted as
an error of its outlet) and is not retried in this run: a server that is this slow now will most likely be as
slow a moment later, and retrying would cost the grace period again; the next run tries the URL again
(``SETTLED_ERROR_RETRY_RUNS``). A server that sends nothing at all is not seen here (no chunk arrives): the download
timeout ends it. Counted in ``download/too_slow``.

Settings: ``MINRATE_BYTES_PER_SEC`` (bytes per second; 0 turns this off), ``MINRATE_GRACE`` (seconds).
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured, StopDownload
from scrapy.http import Request

from crawler.contracts import Meta

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)



class MinimumRate:
    """Stops downloads whose body arrives slower than ``min_rate`` bytes/s once ``grace`` seconds have passed."""

    def __init__(self, crawler: Crawler, min_rate: float, grace: float) -> None:
        self.stats = crawler.stats
        self.min_rate = min_rate
        self.grace = grace

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "MinimumRate":
        min_rate = crawler.settings.getfloat("MINRATE_BYTES_PER_SEC")
        if min_rate <= 0:
            raise NotConfigured("MINRATE_BYTES_PER_SEC is 0")
        extension = cls(crawler, min_rate, crawler.settings.getfloat("MINRATE_GRACE"))
        crawler.signals.connect(extension.headers_received, signal=signals.headers_received)
        crawler.signals.connect(extension.bytes_received, signal=signals.bytes_received)
        return extension

    def headers_received(self, headers: Any, body_length: Any, request: Request, spider: Any) -> None:
        request.meta[Meta.MINRATE_STARTED] = time.monotonic()  # a new response (a retry, a redirect hop) starts anew
        request.meta[Meta.MINRATE_RECEIVED] = 0
        request.meta[Meta.MINRATE_LENGTH] = body_length if isinstance(body_length, int) and body_length >= 0 else None

    def bytes_received(self, data: bytes, request: Request, spider: Any) -> None:
        started = request.meta.get(Meta.MINRATE_STARTED)
        if started is None:
            return
        received = request.meta[Meta.MINRATE_RECEIVED] = request.meta.get(Meta.MINRATE_RECEIVED, 0) + len(data)
        elapsed = time.monotonic() - started
        if elapsed < self.grace or received >= self.min_rate * elapsed:
            return
        length = request.meta.get(Meta.MINRATE_LENGTH)
        if length is not None and received >= length:
            return
        request.meta.pop(Meta.MINRATE_STARTED, None)
        self.stats.inc_value("download/too_slow")
        logger.warning("too slow: %d bytes in %.1f s, under MINRATE_BYTES_PER_SEC (%g bytes/s); given up: %s",
                       received, elapsed, self.min_rate, request.url)
        raise StopDownload(fail=True)
