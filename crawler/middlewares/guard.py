"""The request guard: requests a news crawl must never send are refused before anything else sees them."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy.exceptions import CannotResolveHostError, IgnoreRequest
from scrapy.http import Request
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.error import DNSLookupError

from crawler.contracts import Kind, Meta
from crawler.resolver import refused as refused_names
from crawler.urls.hosts import in_scope, is_private_host, same_host
from crawler.urls.normal import MAX_URL_LENGTH

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


class Refused(IgnoreRequest):
    """A request the crawl never sends, whichever run asks: not on the outlet, a private address, a non-HTTP
    scheme, an over-long URL (a budget or a pause is not this: those end with the run)."""


class OverBudget(IgnoreRequest):
    """An article request over its outlet's ``max_pages_per_outlet`` in this run: it waits for a later run."""


class RefusedRedirect(Refused):
    """A redirect hop the crawl does not follow: another site, a private address, a non-HTTP scheme, or more
    robots.txt hops than ``ROBOTS_MAX_REDIRECTS``."""


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
        hosts = request.meta.get(Meta.OUTLET_HOSTS)
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
        budget = request.meta.get(Meta.BUDGET)
        if budget is None or request.meta.get(Meta.KIND) != Kind.ARTICLE or request.meta.get(Meta.BUDGET_COUNTED):
            return
        outlet = request.meta.get(Meta.OUTLET, "")
        if self.pages_sent.get(outlet, 0) >= budget:
            self.stats.inc_value(f"coverage/{outlet}/over_budget")
            raise OverBudget(f"fetch budget of {outlet} ({budget} pages) used up")
        self.pages_sent[outlet] = self.pages_sent.get(outlet, 0) + 1
        request.meta[Meta.BUDGET_COUNTED] = True
