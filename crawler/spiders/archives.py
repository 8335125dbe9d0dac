"""Web archives as sources of the coverage crawl: the Wayback Machine's and Common Crawl's CDX indexes list an
outlet's captures in the window, and each capture that passes the live candidates' rules is fetched from the
archive (``crawler.spiders.captures``) and handed to the pipelines as the article's copy.

Every exchange with an archive is a Scrapy request (``crawler.discovery.cdx`` says why no CDX client library):
it waits its turn in the archive's own download slot (``ARCHIVES_DELAY``, one at a time; 429 and ``Retry-After``
are honoured by the retry middleware as for any server), the WARC recorder keeps it, and a replay answers it
from the WARC without contacting the archive.

One article, many sources: captures are held until every index query of the run has answered, then the one
closest after the article's publication (its URL's date, else the earliest) is fetched and every other capture
the indexes named goes into the item's ``also_in``. The live copy wins: a URL the live crawl listed is not
fetched from an archive. Failures are counted per source (``archives/<source>/<event>``) and kept for the report
(``archives/failed_captures``); none is fatal.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from protego import Protego
from scrapy.http import Request, Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from crawler.contracts import Kind, Meta, Source
from crawler.middlewares import OutletRobotsMiddleware
from crawler.discovery.candidates import Candidate, DiscoveryError
from crawler.discovery.cdx import (Capture, Collection, Dialect, capture_datetime, cdx_query_url, choose_collections,
                                   collapse, parse_cdx, parse_collinfo, parse_num_pages, wayback_raw_url)
from crawler.spiders.captures import CDX_PRIORITY, CaptureFetcher
from crawler.topic import Outlet, Topic
from crawler.urls.dates import date_from_url
from crawler.urls.hosts import host_of, in_scope
from crawler.urls.normal import canonical_url, normalize_url
from crawler.urls.shapes import looks_like_article

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

MAX_CDX_PAGES = 50
MAX_LISTINGS = 20  # archived feeds and sitemaps read per outlet host
MAX_FAILURES_KEPT = 200
INDEX_WAIT_SECONDS = 600  # a live copy waits this long at most for the indexes (a lost answer never blocks it)
SLOTS = {source: f"archive-{source}" for source in (Source.WAYBACK, Source.COMMONCRAWL)}


def archive_slots(settings) -> dict[str, dict[str, Any]]:
    """The archives' download slots (``DOWNLOAD_SLOTS`` entries): one request at a time each, ARCHIVES_DELAY
    apart, whatever the outlets' own politeness."""
    delay = settings.getfloat("ARCHIVES_DELAY")
    return {slot: {"concurrency": 1, "delay": delay, "randomize_delay": False} for slot in SLOTS.values()}


def query_hosts(outlet: Outlet) -> list[str]:
    """The hosts to ask an index for (``matchType=domain`` covers subdomains, so a ``www.`` host is asked as its
    bare twin, and a host below another listed one not at all)."""
    bare = sorted({host.removeprefix("www.") for host in outlet.hosts}, key=len)
    kept: list[str] = []
    for host in bare:
        if not any(host.endswith("." + other) for other in kept):
            kept.append(host)
    return kept


class ArchiveSources(CaptureFetcher):
    """One run's web-archive sources (see the module docstring): built by the coverage spider when the topic names
    any, asked for its first requests (``start``) and for the ``also_in`` of live copies."""

    def __init__(self, crawler: Crawler, topic: Topic, seen_live: set[str], next_arrival) -> None:
        settings = crawler.settings
        self.crawler, self.topic, self.stats = crawler, topic, crawler.stats
        self.seen_live = seen_live  # canonical URLs the live crawl listed (the Follower's ``seen``)
        self.next_arrival = next_arrival
        self.wayback_cdx = settings.get("ARCHIVES_WAYBACK_CDX_URL")
        self.wayback_replay = settings.get("ARCHIVES_WAYBACK_REPLAY_URL")
        self.cc_index = settings.get("ARCHIVES_COMMONCRAWL_INDEX_URL")
        self.cc_data = settings.get("ARCHIVES_COMMONCRAWL_DATA_URL").rstrip("/") + "/"
        self.max_captures = settings.getint("ARCHIVES_MAX_CAPTURES_PER_OUTLET")
        self.user_agent = settings.get("USER_AGENT")
        after = settings.getint("ARCHIVES_AFTER_DAYS")
        self.after_days = after
        self.last_day = topic.until + timedelta(days=after) if topic.until else None
        self.in_flight = 0  # index requests sent and not answered yet
        self.held: dict[str, list[tuple[str, Outlet, Capture, dict[str, Any]]]] = {}  # canonical URL -> captures
        self.captures: dict[str, list[dict[str, str]]] = {}  # canonical URL -> every capture the indexes named
        self.robots: dict[str, Protego | None] = {}  # host -> its archived robots.txt (archives_only)
        self.collections: list[Collection] | None = None
        self.listed: dict[str, Candidate] = {}  # canonical URL -> what an archived feed or sitemap said of it
        self.released: set[str] = set()  # canonical URLs whose capture was requested
        self.waiting: list[Deferred] = []  # live copies waiting for the indexes (with_captures)
        self.failures: list[dict[str, Any]] = []

    # -- bookkeeping --
    def _stat(self, source: str, event: str, count: int = 1) -> None:
        self.stats.inc_value(f"archives/{source}/{event}", count)

    def _failed(self, source: str, url: str, outlet: str, why: str) -> None:
        self._stat(source, "failed")
        logger.warning("%s: %s not read (%s)", source, url, why)
        if len(self.failures) < MAX_FAILURES_KEPT:
            self.failures.append({"source": str(source), "outlet": outlet, "url": url, "why": why})
            self.stats.set_value("archives/failed_captures", list(self.failures))

    def also_in(self, url: str, source: str, captured_at: str | None) -> list[dict[str, str]]:
        """The other captures the indexes named for an article (not the copy of ``source`` at ``captured_at``)."""
        return [c for c in self.captures.get(canonical_url(normalize_url(url) or url), [])
                if not (c["source"] == source and c["captured_at"] == captured_at)]

    async def with_captures(self, items: list) -> list:
        """Live copies with the captures the indexes named (``also_in``), once every index query has answered."""
        if items and self.in_flight > 0:
            from twisted.internet import reactor  # the installed one (importing it at module level would install one)
            waiter: Deferred = Deferred()
            waiter.addTimeout(INDEX_WAIT_SECONDS, reactor, onTimeoutCancel=lambda value, timeout: None)
            self.waiting.append(waiter)
            await maybe_deferred_to_future(waiter)
        for item in items:
            item.also_in = list(self.captures.get(canonical_url(normalize_url(item.url) or item.url), []))
        return items

    def dropped(self, request: Request) -> None:
        """An index request the scheduler dropped (a duplicate): answered, as far as the count goes."""
        if request.meta.get(Meta.KIND) == Kind.CDX:
            self.in_flight -= 1
            for request in self._released():
                self.crawler.engine.crawl(request)

    def _outlet(self, slug: str) -> Outlet:
        return next(o for o in self.topic.outlets if o.slug == slug)

    def _request(self, url: str, callback, source: str, kind: Kind, info: dict[str, Any], priority: int,
                 headers: dict[str, str] | None = None, statuses=()) -> Request:
        if kind == Kind.CDX:
            self.in_flight += 1
        meta = {Meta.OUTLET: SLOTS[source], Meta.KIND: kind, Meta.ARCHIVE: dict(info, source=str(source)),
                "download_slot": SLOTS[source], "dont_obey_robotstxt": True, "autothrottle_dont_adjust_delay": True,
                "referrer_policy": "no-referrer",
                "handle_httpstatus_list": list(statuses)}
        return Request(url, callback=callback, errback=self.error, priority=priority, headers=headers, meta=meta,
                       dont_filter=kind == Kind.CAPTURE)

    def _answered(self, response: Response) -> dict[str, Any]:
        self.in_flight -= 1
        info = response.meta[Meta.ARCHIVE]
        if response.meta.get("retry_times"):  # answered after 429s, 5xx or timeouts (retry/* has the reasons)
            self._stat(info["source"], "retried", response.meta["retry_times"])
        return info

    # -- start, robots.txt as archived, Common Crawl's collections --
    def start(self) -> list[Request]:
        requests: list[Request] = []
        if Source.WAYBACK in self.topic.archives:
            for outlet in self.topic.outlets:
                requests += [self._robots_request(outlet, host) if self.topic.archives_only else
                             self._pages_request(Source.WAYBACK, self.wayback_cdx, Dialect.IA, outlet, host)
                             for host in query_hosts(outlet)]
        if Source.COMMONCRAWL in self.topic.archives:
            requests.append(self._request(self.cc_index, self.parse_collinfo, Source.COMMONCRAWL, Kind.CDX, {},
                                          CDX_PRIORITY + 5))
        return requests

    def _robots_request(self, outlet: Outlet, host: str) -> Request:
        """The outlet's robots.txt as the Wayback Machine archived it at the window's end (archives_only: the
        outlet is not asked for its own)."""
        stamp = (self.topic.until or datetime.now(timezone.utc).date()).strftime("%Y%m%d") + "235959"
        url = wayback_raw_url(self.wayback_replay, stamp, f"http://{host}/robots.txt")
        return self._request(url, self.parse_robots, Source.WAYBACK, Kind.CDX, {"outlet": outlet.slug, "host": host},
                             CDX_PRIORITY + 10, statuses=(404, 403, 410))

    def parse_robots(self, response: Response) -> list[Request]:
        info = self._answered(response)
        self.robots[info["host"]] = None
        if response.status == 200:
            self.robots[info["host"]] = Protego.parse(response.body.decode("utf-8", "replace"))
            self._stat(Source.WAYBACK, "robots_archived")
        outlet = self._outlet(info["outlet"])
        return [self._pages_request(Source.WAYBACK, self.wayback_cdx, Dialect.IA, outlet, info["host"])]

    def parse_collinfo(self, response: Response) -> list[Request]:
        self._answered(response)
        try:
            collections = parse_collinfo(response.body, response.url)
        except DiscoveryError as error:
            self._stat(Source.COMMONCRAWL, "cdx_errors")
            self._failed(Source.COMMONCRAWL, response.url, "", str(error))
            return self._released()
        self.collections = choose_collections(collections, self.topic.since, self.topic.until, self.after_days)
        self._stat(Source.COMMONCRAWL, "collections", len(self.collections))
        logger.info("commoncrawl: collections for the window: %s", ", ".join(c.id for c in self.collections) or "none")
        return [self._pages_request(Source.COMMONCRAWL, c.cdx_api, Dialect.PYWB, outlet, host, c)
                for outlet in self.topic.outlets for host in query_hosts(outlet)
                for c in self.collections] or self._released()

    # -- the indexes --
    def _pages_request(self, source: str, base: str, dialect: Dialect, outlet: Outlet, host: str,
                       collection: Collection | None = None) -> Request:
        url = cdx_query_url(base, host, dialect, self.topic.since, self.last_day, num_pages=True)
        info = {"outlet": outlet.slug, "host": host, "base": base, "dialect": str(dialect),
                "collection": collection.id if collection else None}
        return self._request(url, self.parse_num_pages, source, Kind.CDX, info, CDX_PRIORITY)

    def parse_num_pages(self, response: Response) -> list[Request]:
        info = self._answered(response)
        pages = min(parse_num_pages(response.body), MAX_CDX_PAGES)
        return [self._page_request(info, page if pages > 1 else None) for page in range(pages)] or self._released()

    def _page_request(self, info: dict[str, Any], page: int | None) -> Request:
        url = cdx_query_url(info["base"], info["host"], Dialect(info["dialect"]), self.topic.since, self.last_day,
                            page=page)
        return self._request(url, self.parse_cdx, info["source"], Kind.CDX, dict(info, page=page), CDX_PRIORITY,
                             statuses=(404,))

    def parse_cdx(self, response: Response) -> list[Request]:
        info = self._answered(response)
        source = info["source"]
        self._stat(source, "cdx_queries")
        if response.status == 404 and b"no captures" not in response.body[:200].lower():
            self._stat(source, "cdx_errors")
            self._failed(source, response.url, info["outlet"], "the index answered 404")
            return self._released()
        try:
            page = parse_cdx(response.body, response.url)
        except DiscoveryError as error:
            self._stat(source, "cdx_errors")
            self._failed(source, response.url, info["outlet"], str(error))
            return self._released()
        if page.malformed:
            self._stat(source, "cdx_malformed_lines", page.malformed)
            self._failed(source, response.url, info["outlet"], f"{page.malformed} malformed CDX line(s) skipped")
        outlet = self._outlet(info["outlet"])
        captures = collapse([c for c in page.captures if c.is_page])
        self._stat(source, "captures_listed", len(captures))
        for capture in captures:
            key = self._wanted(source, outlet, capture)
            if key is not None:
                self.held.setdefault(key, []).append((source, outlet, capture, info))
        listings = [c for c in collapse([c for c in page.captures if c.is_listing]) if in_scope(c.url, outlet.hosts)]
        if source == Source.WAYBACK:  # archived feeds and sitemaps: read before the captures are released
            return [self._listing_request(outlet, c) for c in listings[:MAX_LISTINGS]] or self._released()
        return self._released()

    def _wanted(self, source: str, outlet: Outlet, capture: Capture) -> str | None:
        """The capture's canonical URL when it may be fetched: the live candidates' rules (scope, the shape of an
        article, its URL's own date; robots.txt as archived is asked when the captures are released)."""
        url = normalize_url(capture.url)
        if url is None or not in_scope(url, outlet.hosts):
            self._stat(source, "offsite")
            return None
        if not capture.is_redirect and not looks_like_article(url):
            self._stat(source, "not_article")
            return None
        candidate = Candidate(url, via=source, published=date_from_url(url),
                              lastmod=capture_datetime(capture.timestamp).date())
        if candidate.outside(self.topic.since, self.topic.until):
            self._stat(source, "out_of_window")
            return None
        key = canonical_url(url)
        self.captures.setdefault(key, []).append({"source": str(source), "url": capture.url,
                                                   "captured_at": capture_datetime(capture.timestamp).isoformat()})
        return key

    def _released(self) -> list[Request]:
        """Once every index query has answered: one capture per article (the closest after its publication, the
        live copy winning), at most ARCHIVES_MAX_CAPTURES_PER_OUTLET per outlet and archive."""
        if self.in_flight > 0:
            return []
        waiting, self.waiting = self.waiting, []
        for waiter in waiting:
            if not waiter.called:
                waiter.callback(None)
        return self.release_all()

    def release_all(self) -> list[Request]:
        """Every held capture's request now (also when the spider goes idle with an index query lost)."""
        held, self.held = self.held, {}
        order = {str(source): n for n, source in enumerate(self.topic.archives)}
        chosen = []
        for key, options in held.items():
            if key in self.seen_live:
                self._stat(options[0][0], "live_copy")
                continue
            if key in self.listed and self.listed[key].outside(self.topic.since, self.topic.until):
                self._stat(options[0][0], "dated_outside_by_listing")
                continue
            published = date_from_url(key)
            after = [o for o in options if published is None or capture_datetime(o[2].timestamp).date() >= published]
            chosen.append(min(after or options, key=lambda o: (o[2].is_redirect, o[2].timestamp, order[o[0]])))
        budget: dict[tuple[str, str], int] = {}
        requests = []
        for source, outlet, capture, info in sorted(chosen, key=lambda o: o[2].timestamp):
            used = budget.get((source, outlet.slug), 0)
            if used >= self.max_captures:
                self._stat(source, "over_budget")
                continue
            if not self._robots_allow(capture.url):
                self._stat(source, "robots_forbidden")
                continue
            budget[(source, outlet.slug)] = used + 1
            self.released.add(canonical_url(normalize_url(capture.url) or capture.url))
            request = self._capture_request(source, outlet, capture, info)
            if request is not None:
                requests.append(request)
        return requests

    def _robots_allow(self, url: str) -> bool:
        """robots.txt as the Wayback Machine archived it (archives_only), else the live one, when the live crawl
        has read it by the time the captures are released."""
        if self.topic.archives_only:
            robots = self.robots.get(host_of(url).removeprefix("www."))
            return robots is None or robots.can_fetch(url, self.user_agent)
        live = self.crawler.get_downloader_middleware(OutletRobotsMiddleware)
        parser = live.parser_of(urlsplit(url).netloc) if live is not None else None
        return parser is None or parser.allowed(url, self.user_agent)

    def error(self, failure) -> list[Request]:
        request = failure.request
        info = request.meta.get(Meta.ARCHIVE) or {}
        source = info.get("source", "archive")
        if request.meta.get(Meta.KIND) == Kind.CDX:
            self.in_flight -= 1
        response = getattr(failure.value, "response", None)
        status = response.status if response is not None else None
        if status == 429:
            self._stat(source, "rate_limited")
        elif status is not None and status >= 500:
            self._stat(source, "server_errors")
        self._stat(source, "cdx_errors" if request.meta.get(Meta.KIND) == Kind.CDX else "capture_errors")
        why = f"HTTP {status}" if status is not None else failure.getErrorMessage()[:200]
        self._failed(source, info.get("url") or request.url, info.get("outlet", ""), why)
        if request.callback == self.parse_num_pages:  # an index that does not page: asked once, unpaged
            return [self._page_request(info, None)]
        if request.callback == self.parse_robots:
            self.robots[info["host"]] = None
            return [self._pages_request(Source.WAYBACK, self.wayback_cdx, Dialect.IA, self._outlet(info["outlet"]),
                                        info["host"])]
        return self._released()
