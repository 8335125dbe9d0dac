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
from scrapy.exceptions import CannotResolveHostError, DownloadTimeoutError, IgnoreRequest, StopDownload
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError
from twisted.internet.error import TimeoutError as TxTimeoutError

from crawler.compression import TruncatedBodyMiddleware, complete_stream  # noqa: F401 - settings name this path
from crawler.items import TRUNCATED_META
from crawler.resolver import refused as refused_names
from crawler.urls import in_scope, is_private_host, same_host

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

MAX_URL_LENGTH = 8192
ROBOTS_FORBIDDEN = "Forbidden by robots.txt"  # the message of Scrapy's RobotsTxtMiddleware refusal (test_compat)


class Refused(IgnoreRequest):
    """A request the crawl never sends, whichever run asks: not on the outlet, a private address, a non-HTTP
    scheme, an over-long URL (a budget or a pause is not this: those end with the run)."""


class RefusedRedirect(Refused):
    """A redirect hop the crawl does not follow: another site, a private address, a non-HTTP scheme, or more
    robots.txt hops than ``ROBOTS_MAX_REDIRECTS``."""


_ROBOTS_RECEIVED_META = "_robots_received"


class _DisallowAll:
    """Stands in for a robots.txt whose rules could not be read: the server failed (5xx), or the file redirects
    where the crawl does not follow."""

    def allowed(self, url: str, user_agent: str) -> bool:
        return False

    def sitemaps(self) -> list[str]:
        return []


def _is_rule(line: bytes) -> bool:
    return line.lstrip()[:9].lower().startswith((b"allow", b"disallow"))


def capped_robots(body: bytes, max_size: int, max_rules: int) -> bytes:
    """The part of a robots.txt that is parsed: its first ``max_size`` bytes (ending at a line break, so no rule
    is read half), without the Allow/Disallow lines past the first ``max_rules`` (0: no limit on either).

    Returns ``body`` itself when nothing is cut."""
    cut = body
    if max_size and len(cut) > max_size:
        cut = cut[:max_size]
        cut = cut[:cut.rfind(b"\n") + 1] if b"\n" in cut else b""
    if max_rules:
        lines = cut.splitlines(keepends=True)
        rules = 0
        kept = []
        for line in lines:
            if _is_rule(line):
                rules += 1
                if rules > max_rules:
                    continue
            kept.append(line)
        if rules > max_rules:
            cut = b"".join(kept)
    return cut


class OutletRobotsMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, plus:

    - the parsed file's Sitemap lines are kept for discovery;
    - a robots.txt answered with a server error (5xx) disallows the host for this run, as search engines do,
      instead of allowing everything;
    - only the first ``ROBOTS_MAX_SIZE`` bytes and ``ROBOTS_MAX_RULES`` rules are parsed (Google reads
      500 KiB): every request is checked against the parsed rules, and a 13 MB file of 300 000 rules would cost
      a noticeable fraction of a second of CPU per request. The download itself stops soon after that size
      (the rest is never read; the WARC record says ``WARC-Truncated: length``), whatever DOWNLOAD_MAXSIZE;
    - its redirects are followed on its own host (or www. twin, either scheme: ``http://x/robots.txt`` to
      ``https://www.x/robots.txt``), for at most ``ROBOTS_MAX_REDIRECTS`` hops (RFC 9309 asks for at least
      five). One that leads elsewhere is not followed (RequestGuardMiddleware refuses the hop) and the host is
      not crawled in this run: the site says its rules are somewhere the crawl will not go, and a careful crawler
      does not guess them as "allow everything". Listing the other host in the outlet's ``domains`` does not
      change this; the file must be served on the host itself.
    """

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        self.sitemaps: dict[str, list[str]] = {}
        self.max_size = crawler.settings.getint("ROBOTS_MAX_SIZE")
        self.max_rules = crawler.settings.getint("ROBOTS_MAX_RULES")
        self.max_redirects = crawler.settings.getint("ROBOTS_MAX_REDIRECTS")
        if self.max_size:
            crawler.signals.connect(self._headers_received, signal=signals.headers_received)
            crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    @staticmethod
    def _is_robots_request(request: Request) -> bool:
        """A robots.txt request made by this middleware (or a redirect hop of one)."""
        first = (request.meta.get("redirect_urls") or [request.url])[0]
        return bool(request.meta.get("dont_obey_robotstxt")) and urlsplit(first).path == "/robots.txt"

    async def process_request(self, request: Request) -> None:
        if self._is_robots_request(request):
            hops = request.meta.get("redirect_urls") or []
            if len(hops) > self.max_redirects:
                self._stats.inc_value("robotstxt/too_many_redirects")
                raise RefusedRedirect(f"robots.txt redirected more than {self.max_redirects} times: {hops[0]}")
            if self.max_size:
                request.meta["download_maxsize"] = 0  # the download is stopped past max_size, below
            return
        await super().process_request(request)

    def _headers_received(self, headers: object, body_length: object, request: Request, spider: object) -> None:
        if self._is_robots_request(request):
            request.meta[_ROBOTS_RECEIVED_META] = 0

    def _bytes_received(self, data: bytes, request: Request, spider: object) -> None:
        if _ROBOTS_RECEIVED_META not in request.meta:
            return
        request.meta[_ROBOTS_RECEIVED_META] += len(data)
        if request.meta[_ROBOTS_RECEIVED_META] > self.max_size:
            del request.meta[_ROBOTS_RECEIVED_META]
            request.meta[TRUNCATED_META] = "length"  # archived as cut; the spider never reads robots.txt
            raise StopDownload(fail=False)

    def _disallow(self, netloc: str) -> None:
        parser_deferred = self._parsers[netloc]
        self._parsers[netloc] = _DisallowAll()  # type: ignore[assignment]
        parser_deferred.callback(self._parsers[netloc])  # type: ignore[union-attr]

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            logger.warning("robots.txt of %s answered %d: not crawling that host in this run",
                           netloc, response.status)
            self._stats.inc_value("robotstxt/unavailable")
            self._disallow(netloc)
            return
        body = capped_robots(response.body, self.max_size, self.max_rules)
        stopped = response.request is not None and response.request.meta.get(TRUNCATED_META) == "length"
        if body is not response.body or stopped:
            logger.warning("robots.txt of %s is over %d bytes or %d rules: parsing its first %d bytes (%d received%s)",
                           netloc, self.max_size, self.max_rules, len(body), len(response.body),
                           ", download stopped" if stopped else "")
            self._stats.inc_value("robotstxt/truncated")
            response = response.replace(body=body)
        await super()._parse_robots(response, netloc, request)
        parser = self._parsers.get(netloc)
        found = list(getattr(getattr(parser, "rp", None), "sitemaps", []) or [])
        self.sitemaps[netloc] = [str(url) for url in found]

    def _robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, RefusedRedirect):
            logger.warning("robots.txt of %s redirects where the crawl does not follow (%s): not crawling that "
                           "host in this run", netloc, exc)
            self._stats.inc_value("robotstxt/redirect_refused")
            self._disallow(netloc)
            return
        super()._robots_error(exc, netloc)

    def sitemaps_of(self, url: str) -> list[str]:
        """The Sitemap lines of the robots.txt of ``url``'s host (empty until that file is parsed)."""
        return self.sitemaps.get(urlsplit(url).netloc, [])


class RequestGuardMiddleware:
    """Refuses requests that a news crawl must never send: non-HTTP schemes, literal private/loopback hosts
    (unless GUARD_ALLOW_PRIVATE_HOSTS), URLs over 8 KB, and anything off the outlet's hosts.

    Every request that carries ``outlet_hosts`` (all the spider makes: home pages, feeds, sitemaps and their
    children, listings, articles) must be on them, each redirect hop included. A request without them
    (robots.txt, which Scrapy makes itself) may only be redirected to its own host or www. twin. Host names that
    resolve to private addresses are refused by the resolver (crawler.resolver); that failure comes back here
    to be counted (``guard/private_address``) and reported in one line.

    A refused redirect is still archived (the recorder sits closer to the network), only not followed.
    """

    def __init__(self, crawler: Crawler, allow_private: bool) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.allow_private = allow_private
        self.pages_sent: dict[str, int] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "RequestGuardMiddleware":
        return cls(crawler, crawler.settings.getbool("GUARD_ALLOW_PRIVATE_HOSTS"))

    def _refuse(self, request: Request, reason: str, message: str | None = None) -> None:
        self.stats.inc_value(f"guard/{reason}")
        logger.debug("refused (%s): %s", reason, request.url[:300])
        error = RefusedRedirect if request.meta.get("redirect_urls") else Refused
        raise error(message or f"refused ({reason}): {request.url[:300]}")

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
        if hosts and not in_scope(url, hosts) or not hosts and redirected_from and not same_host(
                url, redirected_from[0]):
            if redirected_from:
                logger.info("not following redirect from %s to another site: %s", redirected_from[-1], url[:300])
                self._refuse(request, "offsite_redirect", f"redirect leaves the outlet: {url[:300]}")
            self._refuse(request, "offsite", f"not on the outlet's hosts: {url[:300]}")
        self._check_budget(request)

    def process_exception(self, request: Request, exception: Exception) -> None:
        """A name the resolver refused: one clear line and an IgnoreRequest, instead of a DNS error."""
        if not isinstance(exception, (CannotResolveHostError, DNSLookupError)):
            return None
        host = (urlparse_cached(request).hostname or "").lower()
        address = refused_names.get(host)
        if address is None:
            return None
        logger.warning("refused: %s resolves to %s, a private address (GUARD_ALLOW_PRIVATE_HOSTS allows it): %s",
                       host, address, request.url[:300])
        self._refuse(request, "private_address", f"{host} resolves to a private address ({address})")

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
        return request.meta.get("outlet") or urlparse_cached(request).hostname or ""

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
        for slot in list(engine.downloader.slots.values()) if engine is not None else []:
            waiting = [(queued, deferred) for queued, deferred in slot.queue if self._outlet_of(queued) == outlet]
            for entry in waiting:
                slot.queue.remove(entry)
            for queued, deferred in waiting:
                self._drop(outlet)
                deferred.errback(IgnoreRequest(f"{outlet} asked for a pause longer than this run: "
                                               f"{queued.url[:300]}"))

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
