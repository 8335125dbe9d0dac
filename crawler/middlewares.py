"""Downloader middlewares for a polite, safe crawl: robots.txt, request guards, retries with backoff.

Each is a small Scrapy component built by ``from_crawler`` that reads its own settings (see settings.py).
"""

from __future__ import annotations

import logging
import random
import time
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached

from crawler.compression import TruncatedBodyMiddleware, complete_stream  # noqa: F401 - settings name this path
from crawler.urls import in_scope, is_private_host

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 8192


class _DisallowAll:
    """Stands in for a robots.txt that could not be read because the server failed (5xx)."""

    def allowed(self, url: str, user_agent: str) -> bool:
        return False

    def sitemaps(self) -> list[str]:
        return []


class OutletRobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, plus: the parsed file's Sitemap lines are kept for discovery, and a
    robots.txt answered with a server error (5xx) disallows the host for this run, as search engines do,
    instead of allowing everything."""

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.sitemaps: dict[str, list[str]] = {}

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            logger.warning("robots.txt of %s answered %d: not crawling that host in this run",
                           netloc, response.status)
            self._stats.inc_value("robotstxt/unavailable")
            parser_deferred = self._parsers[netloc]
            self._parsers[netloc] = _DisallowAll()  # type: ignore[assignment]
            parser_deferred.callback(self._parsers[netloc])  # type: ignore[union-attr]
            return
        await super()._parse_robots(response, netloc, request)
        parser = self._parsers.get(netloc)
        found = list(getattr(getattr(parser, "rp", None), "sitemaps", []) or [])
        self.sitemaps[netloc] = [str(url) for url in found]

    def sitemaps_of(self, url: str) -> list[str]:
        """The Sitemap lines of the robots.txt of ``url``'s host (empty until that file is parsed)."""
        return self.sitemaps.get(urlsplit(url).netloc, [])


class RequestGuardMiddleware:
    """Refuses requests that a news crawl must never send: non-HTTP schemes, literal private/loopback hosts
    (unless ALLOW_PRIVATE_HOSTS), URLs over 8 KB, and redirect hops that leave the outlet's hosts.

    The refused redirect itself is still archived (the recorder sits closer to the network), only not followed.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.allow_private = crawler.settings.getbool("ALLOW_PRIVATE_HOSTS")
        self.pages_sent: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RequestGuardMiddleware":
        return cls(crawler)

    def _refuse(self, request: Request, reason: str) -> None:
        self.stats.inc_value(f"guard/{reason}")
        logger.debug("refused (%s): %s", reason, request.url[:300])
        raise IgnoreRequest(f"refused ({reason}): {request.url[:300]}")

    def process_request(self, request: Request) -> None:
        url = request.url
        scheme = urlparse_cached(request).scheme
        if scheme not in ("http", "https") and not url.startswith("data:"):
            self._refuse(request, "scheme")
        if len(url) > MAX_URL_LENGTH:
            self._refuse(request, "url_too_long")
        if not self.allow_private and is_private_host(url):
            self._refuse(request, "private_host")
        redirected_from = request.meta.get("redirect_urls")
        hosts = request.meta.get("outlet_hosts")
        if redirected_from and hosts and not in_scope(url, hosts):
            self.stats.inc_value("guard/offsite_redirect")
            logger.info("not following redirect from %s to another site: %s", redirected_from[-1], url[:300])
            raise IgnoreRequest(f"redirect leaves the outlet: {url[:300]}")
        self._check_budget(request)

    def _check_budget(self, request: Request) -> None:
        """Article requests of an outlet stop at its ``max_pages_per_outlet``; counted when first sent, so the
        scheduler's priorities (query hints first) decide which candidates use the budget."""
        budget = request.meta.get("budget")
        if budget is None or request.meta.get("kind") != "article" or request.meta.get("budget_counted"):
            return
        outlet = request.meta.get("outlet", "")
        if self.pages_sent.get(outlet, 0) >= budget:
            self.stats.inc_value(f"coverage/{outlet}/over_budget")
            raise IgnoreRequest(f"fetch budget of {outlet} used up")
        self.pages_sent[outlet] = self.pages_sent.get(outlet, 0) + 1
        request.meta["budget_counted"] = True


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
    otherwise an exponential backoff with jitter (RETRY_BACKOFF_BASE * 2^n, capped at RETRY_BACKOFF_MAX).

    The wait is applied to the outlet's download slot, so one failing outlet slows down and the others go on.
    """

    def __init__(self, settings, crawler: Crawler | None = None) -> None:
        super().__init__(settings)
        self.crawler = crawler
        self.base = settings.getfloat("RETRY_BACKOFF_BASE", 1.0)
        self.cap = settings.getfloat("RETRY_BACKOFF_MAX", 120.0)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "BackoffRetryMiddleware":
        middleware = cls(crawler.settings, crawler)
        middleware.crawler = crawler
        return middleware

    async def process_response(self, request: Request, response: Response):
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        reason = f"{response.status}"
        new_request = get_retry_request(
            request, reason=reason, spider=self.crawler.spider, max_retry_times=request.meta.get(
                "max_retry_times", self.max_retry_times), priority_adjust=self.priority_adjust,
            stats_base_key="retry",
        )
        if new_request is None:
            return response
        wait = retry_after_seconds(response)
        retries = new_request.meta.get("retry_times", 1)
        if wait is None:
            wait = min(self.cap, self.base * (2 ** (retries - 1))) * random.uniform(0.75, 1.25)
        wait = min(wait, self.cap)
        self._delay_slot(request, wait)
        if wait > 0:  # this retry waits its turn; the outlet's other requests are held by the slot above
            from twisted.internet import reactor, task

            await maybe_deferred_to_future(task.deferLater(reactor, wait, lambda: None))
        return new_request

    def _delay_slot(self, request: Request, seconds: float) -> None:
        """Hold the outlet's slot for ``seconds`` (the downloader will not send to it before then)."""
        if seconds <= 0 or self.crawler is None or self.crawler.engine is None:
            return
        downloader = self.crawler.engine.downloader
        key = request.meta.get("download_slot") or downloader.get_slot_key(request)
        slot = downloader.slots.get(key)
        if slot is not None and slot.delay:  # the downloader measures lastseen on the monotonic clock
            slot.lastseen = max(slot.lastseen, time.monotonic() + seconds - slot.delay)


class QuickMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's ``<meta http-equiv="refresh">`` redirects, without decoding every page to look for one.

    Scrapy decodes the whole body to read its first 4096 characters. Those fit in the first 16 KB of any
    ASCII-compatible encoding, so a page whose first 16 KB do not hold the word ``refresh`` has no such tag and
    is passed on as it is; one with NUL bytes there (UTF-16, UTF-32) gets Scrapy's full check.
    """

    def process_response(self, request: Request, response: Response) -> Request | Response:
        head = response.body[:16384]
        if b"\x00" not in head and b"refresh" not in head.lower():
            return response
        return super().process_response(request, response)
