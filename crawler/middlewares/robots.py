"""robots.txt, obeyed with care: capped in size and rules, a server error or a redirect off the host disallowing
the host for the run, and its Sitemap lines kept for discovery."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import StopDownload
from scrapy.http import Request, Response

from crawler.compat import RobotsTxtHooks, robots_sitemaps
from crawler.contracts import Meta
from crawler.middlewares.guard import RefusedRedirect

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

ROBOTS_FORBIDDEN = "Forbidden by robots.txt"  # the message of Scrapy's RobotsTxtMiddleware refusal (test_compat)


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


class OutletRobotsMiddleware(RobotsTxtHooks):
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
                self.crawler.stats.inc_value("robotstxt/too_many_redirects")
                raise RefusedRedirect(f"robots.txt redirected more than {self.max_redirects} times: {hops[0]}")
            if self.max_size:
                request.meta["download_maxsize"] = 0  # the download is stopped past max_size, below
            return
        await super().process_request(request)

    def _headers_received(self, headers: object, body_length: object, request: Request, spider: object) -> None:
        if self._is_robots_request(request):
            request.meta[Meta.ROBOTS_RECEIVED] = 0

    def _bytes_received(self, data: bytes, request: Request, spider: object) -> None:
        if Meta.ROBOTS_RECEIVED not in request.meta:
            return
        request.meta[Meta.ROBOTS_RECEIVED] += len(data)
        if request.meta[Meta.ROBOTS_RECEIVED] > self.max_size:
            del request.meta[Meta.ROBOTS_RECEIVED]
            request.meta[Meta.TRUNCATED] = "length"  # archived as cut; the spider never reads robots.txt
            raise StopDownload(fail=False)

    async def parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        if response.status >= 500:
            logger.warning("robots.txt of %s answered %d: not crawling that host in this run",
                           netloc, response.status)
            self.crawler.stats.inc_value("robotstxt/unavailable")
            self.settle(netloc, _DisallowAll())
            return
        body = capped_robots(response.body, self.max_size, self.max_rules)
        stopped = response.request is not None and response.request.meta.get(Meta.TRUNCATED) == "length"
        if body is not response.body or stopped:
            logger.warning("robots.txt of %s is over %d bytes or %d rules: parsing its first %d bytes (%d received%s)",
                           netloc, self.max_size, self.max_rules, len(body), len(response.body),
                           ", download stopped" if stopped else "")
            self.crawler.stats.inc_value("robotstxt/truncated")
            response = response.replace(body=body)
        await super().parse_robots(response, netloc, request)
        self.sitemaps[netloc] = robots_sitemaps(self.parser_of(netloc))

    def robots_error(self, exc: Exception, netloc: str) -> None:
        if isinstance(exc, RefusedRedirect):
            logger.warning("robots.txt of %s redirects where the crawl does not follow (%s): not crawling that "
                           "host in this run", netloc, exc)
            self.crawler.stats.inc_value("robotstxt/redirect_refused")
            self.settle(netloc, _DisallowAll())
            return
        super().robots_error(exc, netloc)

    def sitemaps_of(self, url: str) -> list[str]:
        """The Sitemap lines of the robots.txt of ``url``'s host (empty until that file is parsed)."""
        return self.sitemaps.get(urlsplit(url).netloc, [])
