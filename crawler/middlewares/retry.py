"""Retries that wait: ``Retry-After`` when the server sends one, an exponential backoff with jitter otherwise, on
the outlet's download slot so one failing outlet slows down and the others go on."""

from __future__ import annotations

import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError
from twisted.internet.error import TimeoutError as TxTimeoutError

from crawler.compat import drop_waiting_requests, hold_download_slot
from crawler.contracts import Meta
from crawler.resolver import refused as refused_names

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def retry_after_seconds(response: Response, now: float | None = None) -> float | None:
    """The delay a ``Retry-After`` header asks for (seconds or an HTTP date), if any."""
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text).timestamp()
    except (TypeError, ValueError):
        return None
    return max(0.0, when - (now if now is not None else time.time()))


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retry middleware, waiting before each retry: ``Retry-After`` when the server sends it,
    otherwise an exponential backoff with jitter (BACKOFF_BASE * 2^n, capped at BACKOFF_MAX).

    The wait is applied to the outlet's download slot, so one failing outlet slows down and the others go on.

    A ``Retry-After`` longer than BACKOFF_MAX, or than what is left of the run (CLOSESPIDER_TIMEOUT, when
    set), ends the outlet's run: that response is not retried, and the outlet's other requests (waiting in the
    downloader or made later) are dropped, each counted in ``coverage/<outlet>/retry_after_exceeded``. Their
    URLs are not marked as done, so the next run asks again.

    A timeout is retried at most BACKOFF_TIMEOUT_RETRIES times (each costs a whole DOWNLOAD_TIMEOUT), and a name the
    resolver refused (a private address) never: asking again gives the same answer.
    """

    def __init__(self, settings, crawler: Crawler | None = None) -> None:
        super().__init__(settings)
        self.crawler = crawler  # type: ignore[assignment]
        self.base = settings.getfloat("BACKOFF_BASE")
        self.cap = settings.getfloat("BACKOFF_MAX")
        self.timeout_retries = settings.getint("BACKOFF_TIMEOUT_RETRIES")
        self.run_limit = settings.getfloat("CLOSESPIDER_TIMEOUT")
        self.started = time.monotonic()
        self.stopped: dict[str, float] = {}  # outlet -> the Retry-After that ended its run

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "BackoffRetryMiddleware":
        middleware = cls(crawler.settings, crawler)
        crawler.signals.connect(middleware.spider_opened, signal=signals.spider_opened)
        return middleware

    def spider_opened(self, spider) -> None:
        self.started = time.monotonic()  # CLOSESPIDER_TIMEOUT counts from here

    @staticmethod
    def _outlet_of(request: Request) -> str:
        return request.meta.get(Meta.OUTLET) or urlparse_cached(request).hostname or ""

    def longest_wait(self) -> float:
        """The longest Retry-After still worth waiting for: BACKOFF_MAX, or less when the run ends sooner."""
        if self.run_limit > 0:
            return min(self.cap, max(0.0, self.run_limit - (time.monotonic() - self.started)))
        return self.cap

    def process_request(self, request: Request) -> None:
        outlet = self._outlet_of(request)
        if outlet in self.stopped:
            self._drop(outlet)
            raise IgnoreRequest(f"{outlet} asked for a pause longer than this run: {request.url[:300]}")

    def _drop(self, outlet: str) -> None:
        self.crawler.stats.inc_value(f"coverage/{outlet}/retry_after_exceeded")

    async def process_response(self, request: Request, response: Response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        wait = retry_after_seconds(response)
        if wait is not None and wait > self.longest_wait() or self._outlet_of(request) in self.stopped:
            self._stop_outlet(request, wait or 0.0)
            return response
        reason = f"{response.status}"
        new_request = get_retry_request(
            request, reason=reason, spider=self.crawler.spider, max_retry_times=request.meta.get(
                "max_retry_times", self.max_retry_times), priority_adjust=self.priority_adjust,
            stats_base_key="retry",
        )
        if new_request is None:
            return response
        retries = new_request.meta.get("retry_times", 1)
        if wait is None:
            wait = min(self.cap, self.base * (2 ** (retries - 1))) * random.uniform(0.75, 1.25)
        wait = min(wait, self.cap)
        self._delay_slot(request, wait)
        if wait > 0:  # this retry waits its turn; the outlet's other requests are held by the slot above
            from twisted.internet import reactor, task

            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        return new_request

    def process_exception(self, request: Request, exception: Exception) -> Request | None:
        if isinstance(exception, (CannotResolveHostError, DNSLookupError)) and \
                (urlparse_cached(request).hostname or "").lower() in refused_names:
            return None
        if isinstance(exception, (DownloadTimeoutError, TxTimeoutError)) and not request.meta.get("dont_retry"):
            limit = min(request.meta.get("max_retry_times", self.max_retry_times), self.timeout_retries)
            return get_retry_request(request, reason=exception, spider=self.crawler.spider, max_retry_times=limit,
                                     priority_adjust=self.priority_adjust, stats_base_key="retry")
        return super().process_exception(request, exception)

    def _stop_outlet(self, request: Request, wait: float) -> None:
        """No more requests to this outlet in this run, including those already waiting in the downloader (one
        already sent when the answer came, possible without a DOWNLOAD_DELAY, is not recalled: its answer is
        taken as it is, not retried)."""
        outlet = self._outlet_of(request)
        self._drop(outlet)
        if outlet not in self.stopped:
            self.stopped[outlet] = wait
            logger.warning("%s asks to wait %.0f s before the next request (Retry-After), longer than %.0f s: "
                           "no more requests to it in this run", outlet, wait, self.longest_wait())
        engine = self.crawler.engine
        if engine is not None:
            drop_waiting_requests(engine.downloader, lambda queued: self._outlet_of(queued) == outlet,
                                  lambda queued: self._dropped(outlet, queued))

    def _dropped(self, outlet: str, request: Request) -> IgnoreRequest:
        """The failure of a waiting request of a stopped outlet, counted."""
        self._drop(outlet)
        return IgnoreRequest(f"{outlet} asked for a pause longer than this run: {request.url[:300]}")

    def _delay_slot(self, request: Request, seconds: float) -> None:
        """Hold the outlet's slot for ``seconds`` (the downloader will not send to it before then)."""
        if self.crawler is not None and self.crawler.engine is not None:
            hold_download_slot(self.crawler.engine.downloader, request, seconds)
