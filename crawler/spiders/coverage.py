"""The coverage spider: one topic, every outlet, every discovery path.

Thin on purpose: it turns the topic into first requests, hands each discovery response to the matching
function of ``crawler.discovery``, and turns candidates into article requests (scope, date window, query hints
for priority, de-duplication). Parsing lives in the discovery modules; everything after the fetch lives in the
pipelines.
"""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timezone
from typing import Any, AsyncIterator, Iterable

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.cluster.scheduler import release_lease
from crawler.discovery.candidates import Candidate, DiscoveryError
from crawler.discovery.feeds import autodiscover_feeds, parse_feed
from crawler.discovery.search import parse_search, search_url
from crawler.discovery.sections import parse_section as parse_listing
from crawler.discovery.sitemaps import child_may_hold_window, child_recency, parse_sitemap
from crawler.items import TRUNCATED_META, ArticleItem
from crawler.middlewares import ROBOTS_FORBIDDEN, OutletRobotsMiddleware, Refused
from crawler.query import slug_text
from crawler.run import TopicRun
from crawler.store import FrontierEntry, TopicStore
from crawler.topic import Outlet, Topic
from crawler.urls.hosts import in_scope
from crawler.urls.normal import canonical_url, normalize_url

logger = logging.getLogger(__name__)

DISCOVERY_PRIORITY = 100
HINT_PRIORITY = {2: 20, 1: 10, 0: 0}
RESUMED_PRIORITY = 30  # added to a candidate left pending by an earlier run: it goes before new ones
MAX_REDIRECT_MEMORY_HOPS = 10
NOT_NOW = "not_now"  # request.meta: stored in the frontier, not requested in this run (over a discovery budget)


VIA_PREFERENCE = ("sitemap", "feed", "search", "section")


class MissingTopic(ValueError):
    """``scrapy crawl coverage`` without ``-a topic=FILE``."""


class CoverageSpider(scrapy.Spider):
    """``scrapy crawl coverage -a topic=topics/x.toml``: finds and fetches a story's articles on every outlet.

    What discovery finds goes through the topic's frontier (``TopicStore.settle_discovery``): every request a listing
    page leads to is stored before that page's validators, so a crash between a listing and its articles never
    hides them behind a later 304. Article candidates without date evidence wait while the outlet's other
    discovery pages are still in flight, so a feed read a moment later can still date them out of the window.
    """

    name = "coverage"

    def __init__(self, topic: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not topic:
            raise MissingTopic("the coverage spider needs a topic file: scrapy crawl coverage -a topic=FILE.toml")
        self.topic_path = topic
        self._seen: set[str] = set()
        self._found_via: dict[str, set[str]] = {}  # every discovery path that listed a URL
        self._evidence: dict[str, set[tuple[date | None, date | None]]] = {}  # (published, lastmod) per listing
        self._in_flight: dict[str, int] = {}  # discovery requests sent and not yet parsed, per outlet
        self._held: dict[str, list[Request]] = {}  # undated article requests waiting for those
        self._sitemaps_sent: dict[str, int] = {}
        self._arrivals = 0  # article pages handed to the pipelines, numbered in the order they came
        self._pending: list[FrontierEntry] | None = None  # the frontier at start (_pending_entries)
        self._pending_urls: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "CoverageSpider":
        """Settings only: the topic, its archive, lock and store are the crawl's ``TopicRun`` (crawler.run), built
        after the spider and before the engine."""
        spider = super().from_crawler(crawler, *args, **kwargs)
        settings = crawler.settings
        spider.section_pages = settings.getint("DISCOVERY_MAX_LISTING_PAGES")
        spider.max_depth = settings.getint("DISCOVERY_MAX_DEPTH")
        spider.max_sitemaps = settings.getint("DISCOVERY_MAX_SITEMAPS")
        spider.max_urls_per_sitemap = settings.getint("DISCOVERY_MAX_URLS_PER_SITEMAP")
        spider.refresh_after = settings.getfloat("REFRESH_AFTER_DAYS") or None
        spider.error_runs = settings.getint("ERROR_RETRY_RUNS")
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    # -- the run this spider crawls for (crawler.run.TopicRun) --
    @property
    def run(self) -> TopicRun:
        return self.crawler.topic_run

    @property
    def topic(self) -> Topic:
        return self.run.topic

    @property
    def topic_name(self) -> str:
        return self.run.topic.name

    @property
    def archive_state(self) -> TopicStore:  # not `state`: Scrapy keeps JOBDIR data there
        return self.run.store

    @property
    def scope(self) -> str:
        """What a listing is read for: a 304 only ends a branch read for the same window, since what another
        window skipped was never stored."""
        return f"{self.topic.since}..{self.topic.until}"

    # -- helpers --
    def _meta(self, outlet: Outlet, kind: str, **extra: Any) -> dict[str, Any]:
        return {"outlet": outlet.slug, "kind": kind, "outlet_hosts": sorted(outlet.hosts), **extra}

    def _discovery_request(self, url: str, callback, outlet: Outlet, kind: str, priority: int = DISCOVERY_PRIORITY,
                           **extra: Any) -> Request:
        """A feed, sitemap or listing page request, conditional on what an earlier run saw. The home page is
        always fetched in full: it leads to the robots.txt sitemaps and autodiscovered feeds."""
        etag, last_modified = self.archive_state.validators(url, self.scope) if kind != "home" else (None, None)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return Request(url, callback=callback, errback=self.discovery_error, priority=priority, headers=headers,
                       meta=self._meta(outlet, kind, handle_httpstatus_list=[304], **extra))

    def _already_done(self, url: str) -> bool:
        """Whether an earlier run settled this article (kept, off topic, ...), or gave up on it."""
        previous = self.archive_state.outcome_of(url)
        if previous is None:
            return False
        outcome, attempts, status, fetched_at = previous
        if outcome == "error":
            cap = 2 if status == 404 else self.error_runs
            return attempts >= cap
        if self.refresh_after and fetched_at:
            try:
                age = datetime.now(timezone.utc) - datetime.fromisoformat(fetched_at)
            except ValueError:
                return True
            return age.total_seconds() < self.refresh_after * 86400
        return True

    def _redirect_target(self, url: str) -> str | None:
        """Where an earlier run's redirects lead from ``url`` (the URL itself when it never redirected); None when
        they go round in a loop, or on past the hops a fetch would follow."""
        seen = {url}
        for _ in range(MAX_REDIRECT_MEMORY_HOPS):
            target = self.archive_state.redirect_of(url)
            if target is None:
                return url
            if target in seen:
                return None
            seen.add(target)
            url = target
        return None

    def _settled_by_redirect(self, url: str) -> bool:
        """Whether a URL that redirected to ``url`` (directly or over several hops) was settled."""
        seen, frontier = {url}, [url]
        for _ in range(MAX_REDIRECT_MEMORY_HOPS):
            frontier = [s for t in frontier for s in self.archive_state.redirect_sources(t) if s not in seen]
            if not frontier:
                return False
            if any(self._already_done(source) for source in frontier):
                return True
            seen.update(frontier)
        return False

    def _outlet(self, response: Response) -> Outlet:
        return self._outlet_named(response.meta["outlet"])

    def _outlet_named(self, slug: str) -> Outlet:
        assert self.topic is not None
        return next(o for o in self.topic.outlets if o.slug == slug)

    def _stat(self, outlet: Outlet | str, event: str, count: int = 1) -> None:
        slug = outlet if isinstance(outlet, str) else outlet.slug
        self.crawler.stats.inc_value(f"coverage/{slug}/{event}", count)

    def _discovery_failed(self, outlet: Outlet, url: str, error: Exception) -> None:
        logger.warning("discovery: %s", error)
        self._stat(outlet, "discovery_errors")

    def _robots(self) -> OutletRobotsMiddleware | None:
        return self.crawler.get_downloader_middleware(OutletRobotsMiddleware)

    # -- the frontier: what a discovery page led to is durable before the page counts as seen --
    def _entry(self, request: Request, found_on: str | None) -> FrontierEntry:
        meta = request.meta
        if meta["kind"] == "article":
            published, lastmod = meta.get("evidence") or (None, None)
            return FrontierEntry(request.url, meta["outlet"], "article", via=meta.get("via"),
                                 title=meta.get("hint_title"), published=published, lastmod=lastmod,
                                 priority=request.priority, found_on=found_on)
        extra = {k: meta[k] for k in ("section_page", "guessed_page", "sitemap_depth") if meta.get(k) is not None}
        return FrontierEntry(request.url, meta["outlet"], meta["kind"], priority=request.priority,
                             found_on=found_on, extra=json.dumps(extra) if extra else None)

    def _sent(self, requests: Iterable[Request]) -> list[Request]:
        """Count the discovery requests about to be scheduled as in flight for their outlet."""
        requests = list(requests)
        for request in requests:
            if request.meta.get("kind") != "article":
                slug = request.meta["outlet"]
                self._in_flight[slug] = self._in_flight.get(slug, 0) + 1
        return requests

    def _discovery(self, response: Response, produce) -> list[Request]:
        """Run one discovery callback: its requests are stored in the frontier together with the page's validators
        (one transaction), then scheduled; article candidates wait while the outlet has discovery in flight, and
        are released (or dropped, when a listing dated them outside the window) once it has none."""
        outlet = self._outlet(response)
        # Under the URL that was asked for: a redirected page is asked for there again, conditionally.
        page_url = (response.meta.get("redirect_urls") or [response.request.url if response.request else response.url])[0]
        try:
            if response.status == 304:
                self._stat(outlet, "discovery_unchanged")
                requests: list[Request] = []
                validators: tuple[str | None, str | None] = (None, None)
            else:
                requests = list(produce(response, outlet))
                validators = tuple(  # type: ignore[assignment]
                    value.decode("latin-1") if value else None
                    for value in (response.headers.get(b"ETag"), response.headers.get(b"Last-Modified")))
            self.archive_state.settle_discovery(page_url, [self._entry(r, page_url) for r in requests], *validators,
                                                scope=self.scope)
        finally:
            self._in_flight[outlet.slug] = self._in_flight.get(outlet.slug, 1) - 1
        return self._schedule(outlet.slug, requests)

    def _sitemap_allowed(self, outlet: Outlet) -> bool:
        """Whether this run's sitemap budget of the outlet (DISCOVERY_MAX_SITEMAPS) has room for one more."""
        if self._sitemaps_sent.get(outlet.slug, 0) >= self.max_sitemaps:
            self._stat(outlet, "sitemaps_over_budget")
            return False
        self._sitemaps_sent[outlet.slug] = self._sitemaps_sent.get(outlet.slug, 0) + 1
        return True

    def _schedule(self, slug: str, requests: list[Request]) -> list[Request]:
        requests = [r for r in requests if not r.meta.get(NOT_NOW)]
        self._sent(requests)
        ready = []
        for request in requests:
            if request.meta.get("kind") == "article" and self._in_flight.get(slug, 0) > 0:
                self._held.setdefault(slug, []).append(request)
                self._stat(slug, "held_for_dates")
            else:
                ready.append(request)
        if len(ready) < len(requests):
            logger.debug("%s: %d article request(s) held until the outlet's other listings are read", slug,
                         len(requests) - len(ready))
        if self._in_flight.get(slug, 0) <= 0:
            ready.extend(self._release(slug))
        return ready

    def _release(self, slug: str) -> list[Request]:
        """The held article requests of an outlet, less those a listing has since dated outside the window."""
        assert self.topic is not None
        released = []
        for request in self._held.pop(slug, []):
            if self._dated_outside(request.url):
                self._stat(slug, "skipped_out_of_window")
                logger.info("not fetched: a listing dates %s outside the window", request.url)
                self.archive_state.drop_pending(request.url)
                continue
            released.append(request)
        return released

    def _pending_entries(self) -> list[FrontierEntry]:
        """The frontier as this run found it, read once (the resume and the settled checks share it)."""
        if self._pending is None:
            self._pending = self.archive_state.pending()
            self._pending_urls = {entry.url for entry in self._pending}
        return self._pending

    def _settle_pending(self, url: str) -> None:
        """Take a settled URL off the frontier, if an earlier run left it there: a store write only for those,
        not for each of the many settled URLs a listing names again on every run."""
        self._pending_entries()
        if url in self._pending_urls:
            self._pending_urls.discard(url)
            self.archive_state.drop_pending(url)

    def _dated_outside(self, url: str, candidate: Candidate | None = None) -> bool:
        """Whether any listing (or ``candidate``) dates ``url`` outside the window: then it is not fetched, whichever
        listing answered first."""
        assert self.topic is not None
        dates = self._evidence.get(url, set()) | ({(candidate.published, candidate.lastmod)} if candidate else set())
        return any(Candidate(url, via="", published=published, lastmod=lastmod).outside(self.topic.since,
                                                                                      self.topic.until)
                   for published, lastmod in dates)

    def _discovery_done(self, request: Request) -> list[Request]:
        """A discovery request ended without its callback (failed, refused, dropped as a duplicate)."""
        slug = request.meta.get("outlet")
        if slug is None or request.meta.get("kind") == "article":
            return []
        self._in_flight[slug] = self._in_flight.get(slug, 1) - 1
        return self._release(slug) if self._in_flight[slug] <= 0 else []

    def _request_dropped(self, request: Request, **kwargs: Any) -> None:
        for held in self._discovery_done(request):
            self.crawler.engine.crawl(held)

    def _idle(self) -> None:
        """Nothing left in flight: whatever is still held (a count missed somewhere) is released now; then the
        frontier is read again for article candidates this spider never saw (``_recovered``)."""
        released = [r for slug in list(self._held) for r in self._release(slug)] or self._recovered()
        for request in released:
            self.crawler.engine.crawl(request)
        if released:
            raise DontCloseSpider

    def _recovered(self) -> list[Request]:
        """Article candidates still pending in the frontier that this spider has not seen in this run.

        In a cluster they are what another worker found and held (its listing's lease ended with the callback, its
        article requests were still waiting for the outlet's other listings) when it died: the frontier is the only
        place left that knows them, and the workers that survive read it at start only. A local run has seen every
        pending entry at start, so it finds none. Requests another worker did schedule meanwhile are dropped by the
        shared duplicate filter."""
        entries = [e for e in self.archive_state.pending()
                   if e.kind == "article" and canonical_url(e.url) not in self._seen]
        return self._resumed(entries, event="recovered") if entries else []

    # -- first requests --
    async def start(self) -> AsyncIterator[Request]:
        assert self.topic is not None
        for outlet in self.topic.outlets:
            roots = [self._discovery_request(outlet.url, self.parse_home, outlet, "home", DISCOVERY_PRIORITY + 10)]
            roots += [self._feed_request(outlet, url) for url in outlet.feeds]
            roots += [self._sitemap_request(outlet, url) for url in outlet.sitemaps]
            roots += [self._discovery_request(url, self.parse_section, outlet, "section", section_page=1)
                      for url in outlet.sections]
            if outlet.search:
                try:
                    url = search_url(outlet.search, self.topic.query.text)
                except DiscoveryError as exc:
                    self._discovery_failed(outlet, outlet.search, exc)
                else:
                    roots.append(self._discovery_request(url, self.parse_search, outlet, "search", section_page=1))
            for request in self._sent(roots):
                yield request
        for request in self._resumed():
            yield request

    def _resumed(self, entries: list[FrontierEntry] | None = None, event: str = "resumed") -> list[Request]:
        """Requests for what earlier runs found and never settled, scheduled again under today's rules."""
        callbacks = {"sitemap": self.parse_sitemap, "feed": self.parse_feed, "section": self.parse_section,
                     "search": self.parse_search, "home": self.parse_home}
        assert self.topic is not None
        slugs = {o.slug for o in self.topic.outlets}
        by_outlet: dict[str, list[Request]] = {}
        for entry in self._pending_entries() if entries is None else entries:
            if entry.outlet in slugs:
                outlet = self._outlet_named(entry.outlet)
            else:  # an outlet renamed in the topic file since: its URLs still say which one it is
                outlet = next((o for o in self.topic.outlets if in_scope(entry.url, o.hosts)), None)
                if outlet is None:
                    continue  # an outlet removed from the topic file: kept for the day it comes back
            if entry.kind == "article":
                candidate = Candidate(entry.url, via=entry.via or "section", title=entry.title,
                                      published=_day(entry.published), lastmod=_day(entry.lastmod))
                requests = list(self._follow(outlet, [candidate], resumed=entry.priority))
            elif entry.kind in callbacks and in_scope(entry.url, outlet.hosts):
                if entry.kind == "sitemap" and not self._sitemap_allowed(outlet):
                    continue  # stays pending for a later run
                extra = json.loads(entry.extra) if entry.extra else {}
                requests = [self._discovery_request(entry.url, callbacks[entry.kind], outlet, entry.kind,
                                                    priority=entry.priority, **extra)]
            else:
                continue
            if requests:
                self._stat(outlet, event, len(requests))
            by_outlet.setdefault(outlet.slug, []).extend(requests)
        resumed = []
        for slug, requests in by_outlet.items():
            resumed.extend(self._schedule(slug, requests))
        return resumed

    def _feed_request(self, outlet: Outlet, url: str) -> Request:
        return self._discovery_request(url, self.parse_feed, outlet, "feed")

    def _sitemap_request(self, outlet: Outlet, url: str, depth: int = 0) -> Request:
        return self._discovery_request(url, self.parse_sitemap, outlet, "sitemap", sitemap_depth=depth)

    # -- discovery callbacks --
    def parse_home(self, response: Response) -> list[Request]:
        return self._discovery(response, self._home_requests)

    def _home_requests(self, response: Response, outlet: Outlet) -> Iterable[Request]:
        """The home page: feed autodiscovery, robots.txt sitemaps, and its own article links."""
        if not outlet.feeds and hasattr(response, "text"):
            for url in autodiscover_feeds(response.body, response.url):
                if in_scope(url, outlet.hosts):
                    yield self._feed_request(outlet, url)
        if not outlet.sitemaps:
            robots = self._robots()
            for url in robots.sitemaps_of(outlet.url) if robots else []:
                if in_scope(url, outlet.hosts):
                    yield self._sitemap_request(outlet, url)
                else:
                    self._stat(outlet, "sitemaps_offsite")
        if hasattr(response, "text"):
            page = parse_listing(response.body, response.url, outlet.hosts)
            yield from self._follow(outlet, page.candidates)

    def parse_sitemap(self, response: Response) -> list[Request]:
        return self._discovery(response, self._sitemap_requests)

    def _sitemap_requests(self, response: Response, outlet: Outlet) -> Iterable[Request]:
        assert self.topic is not None
        try:
            result = parse_sitemap(response.body, response.url, since=self.topic.since, until=self.topic.until,
                                   max_urls=self.max_urls_per_sitemap)
        except DiscoveryError as exc:
            self._discovery_failed(outlet, response.url, exc)
            return
        if result.skipped_urls:  # dated outside the window while streaming: discovered, not followed
            self._stat(outlet, "discovered", result.skipped_urls)
            self._stat(outlet, "skipped_out_of_window", result.skipped_urls)
        if result.cut_urls:
            self._stat(outlet, "sitemap_urls_over_budget", result.cut_urls)
            logger.warning("%s lists more than %d URLs: the rest is not read (DISCOVERY_MAX_URLS_PER_SITEMAP)",
                           response.url, self.max_urls_per_sitemap)
        depth = response.meta.get("sitemap_depth", 0) + 1
        wanted = []
        for child in result.children:
            if not in_scope(child.url, outlet.hosts):
                self._stat(outlet, "sitemaps_offsite")
            elif child_may_hold_window(child, self.topic.since, self.topic.until):
                wanted.append(child)
            else:
                self._stat(outlet, "sitemaps_skipped")
        if wanted and depth > self.max_depth:
            self._stat(outlet, "sitemaps_too_deep", len(wanted))
            logger.warning("%s: sitemap indexes nested deeper than %d are not followed (DISCOVERY_MAX_DEPTH)",
                           response.url, self.max_depth)
            wanted = []
        wanted.sort(key=child_recency, reverse=True)  # the budget goes to the newest first
        for child in wanted:
            request = self._sitemap_request(outlet, child.url, depth)
            if not self._sitemap_allowed(outlet):
                request.meta[NOT_NOW] = True  # stored in the frontier for a later run, not requested in this one
            yield request
        yield from self._follow(outlet, result.entries)

    def parse_feed(self, response: Response) -> list[Request]:
        return self._discovery(response, self._feed_requests)

    def _feed_requests(self, response: Response, outlet: Outlet) -> Iterable[Request]:
        try:
            candidates = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._discovery_failed(outlet, response.url, exc)
            return
        yield from self._follow(outlet, candidates)

    def parse_section(self, response: Response) -> list[Request]:
        return self._discovery(response, self._section_requests)

    def parse_search(self, response: Response) -> list[Request]:
        return self._discovery(response, self._search_requests)

    def _search_requests(self, response: Response, outlet: Outlet) -> Iterable[Request]:
        return self._section_requests(response, outlet, parse=parse_search, callback=self.parse_search)

    def _section_requests(self, response: Response, outlet: Outlet, parse=parse_listing,
                          callback=None) -> Iterable[Request]:
        if not hasattr(response, "text"):
            return
        page = parse(response.body, response.url, outlet.hosts)
        yield from self._follow(outlet, page.candidates)
        number = response.meta.get("section_page", 1)
        if page.next_page and number < self.section_pages and in_scope(page.next_page, outlet.hosts):
            yield self._discovery_request(page.next_page, callback or self.parse_section, outlet,
                                          response.meta["kind"], section_page=number + 1,
                                          guessed_page=page.next_guessed)

    def discovery_error(self, failure) -> list[Request]:
        request = failure.request
        release_lease(self.crawler, request)
        slug = request.meta.get("outlet", "unknown")
        response = getattr(failure.value, "response", None)
        if response is not None and response.status in (404, 410):
            self.archive_state.drop_pending(request.url)  # gone: an earlier listing's link, not worth a retry
        if request.meta.get("guessed_page") and failure.check(HttpError):
            self.crawler.stats.inc_value(f"coverage/{slug}/section_guess_missed")
            logger.debug("no listing page at the guessed %s", request.url)
        else:
            self.crawler.stats.inc_value(f"coverage/{slug}/errors")
            logger.warning("could not fetch %s (%s)", request.url, failure.getErrorMessage())
        return self._discovery_done(request)

    # -- candidates to article requests --
    def _follow(self, outlet: Outlet, candidates: Iterable[Candidate], resumed: int | None = None
                ) -> Iterable[Request]:
        assert self.topic is not None
        for candidate in candidates:
            url = normalize_url(candidate.url)
            if url is None or not in_scope(url, outlet.hosts):
                continue
            url = canonical_url(url)
            self._found_via.setdefault(url, set()).add(candidate.via)
            if candidate.published is not None or candidate.lastmod is not None:
                self._evidence.setdefault(url, set()).add((candidate.published, candidate.lastmod))
            if url in self._seen:
                continue
            self._seen.add(url)
            self._stat(outlet, "discovered")
            target = self._redirect_target(url)
            if target is None:  # an earlier run's redirects go round in a loop: nothing to fetch there
                self._stat(outlet, "redirect_loop")
                self._settle_pending(url)
                continue
            if self._already_done(url) or (target != url and self._already_done(target)) \
                    or self._settled_by_redirect(target):
                self._stat(outlet, "archived_earlier")
                self._settle_pending(url)  # settled: no later run needs it either
                continue
            if target != url:
                if not in_scope(target, outlet.hosts):
                    self._stat(outlet, "redirected_offsite")
                    self._settle_pending(url)
                    continue
                if target in self._seen:
                    continue
                self._seen.add(target)
                self._stat(outlet, "redirect_remembered")
                url = target
            if self._dated_outside(url, candidate):
                self._stat(outlet, "skipped_out_of_window")
                if resumed is not None:
                    self._settle_pending(url)
                continue
            score = self.topic.query.hint_score(candidate.title or "", candidate.summary or "", slug_text(url))
            priority = HINT_PRIORITY[score] if resumed is None else max(resumed, HINT_PRIORITY[score]) + RESUMED_PRIORITY
            evidence = (candidate.published or candidate.lastmod) and (
                candidate.published.isoformat() if candidate.published else None,
                candidate.lastmod.isoformat() if candidate.lastmod else None)
            yield Request(
                url, callback=self.parse_article, errback=self.article_error, priority=priority,
                meta=self._meta(outlet, "article", via=candidate.via, hint_title=candidate.title,
                                budget=self.topic.max_pages_per_outlet, evidence=evidence or None),
            )

    def _best_via(self, response: Response) -> str:
        """The most specific discovery path that listed the article: a home page link counts as a section, and
        the feed or sitemap that also lists it (often read a moment later) gets the credit."""
        url = (response.meta.get("redirect_urls") or [response.request.url if response.request else response.url])[0]
        paths = self._found_via.get(canonical_url(url), set()) | {response.meta.get("via", "section")}
        return next(via for via in VIA_PREFERENCE if via in paths) if paths & set(VIA_PREFERENCE) else sorted(paths)[0]

    def parse_article(self, response: Response) -> Iterable[ArticleItem]:
        outlet = self._outlet(response)
        self._stat(outlet, "fetched")
        if "truncated" in response.flags:
            # Over DOWNLOAD_MAXSIZE it will be again next run (not retried); a cut stream may come whole next time.
            oversize = response.meta.get(TRUNCATED_META) == "length"
            self._stat(outlet, "errors")
            self._stat(outlet, "truncated")
            logger.warning("article body cut short (%s), not kept: %s",
                           "over DOWNLOAD_MAXSIZE" if oversize else "incomplete compressed stream", response.url)
            self.archive_state.record_outcome(response.meta.get("redirect_urls", [response.url])[0], kind="article",
                                              outlet=outlet.slug, outcome="too_large" if oversize else "error",
                                              status=response.status,
                                              fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
            return
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1").lower()
        if content_type and "html" not in content_type and "xml" not in content_type:
            self._stat(outlet, "not_html")
            self.archive_state.record_outcome(  # settled: a PDF or an image is not read as an article
                (response.meta.get("redirect_urls") or [response.url])[0], kind="article", outlet=outlet.slug,
                outcome="not_html", status=response.status, fetched_at=capture_time((response.meta.get("warc") or {})
                                                                                     .get("date")))
            return
        warc = response.meta.get("warc") or {}
        captured = capture_time(warc.get("date"))
        self._arrivals += 1
        yield ArticleItem(
            url=response.request.url if not response.meta.get("redirect_urls") else response.meta["redirect_urls"][0],
            final_url=response.url,
            outlet=outlet.name,
            outlet_slug=outlet.slug,
            via=self._best_via(response),
            html=response.body,
            status=response.status,
            fetched_at=captured or datetime.now(timezone.utc).isoformat(timespec="seconds"),
            content_type=content_type or None,
            warc_file=warc.get("file"),
            warc_record_id=warc.get("record_id"),
            hint_title=response.meta.get("hint_title"),
            arrival=self._arrivals - 1,
            captured_at=warc.get("date"),
            warc_offset=warc.get("offset"),
            capture_ref=tuple(warc["source"]) if warc.get("source") else None,
        )

    def article_error(self, failure) -> None:
        request = failure.request
        release_lease(self.crawler, request)
        slug = request.meta.get("outlet", "unknown")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # Refused by robots.txt, the budget or a guard: not an error of the outlet. What no run will fetch
            # leaves the frontier; what a budget or a pause held back stays for the next run.
            if failure.check(Refused) or ROBOTS_FORBIDDEN in failure.getErrorMessage():
                self.archive_state.drop_pending(request.url)
            return
        self.crawler.stats.inc_value(f"coverage/{slug}/errors")
        response = getattr(failure.value, "response", None)
        warc = request.meta.get("warc") or {}
        self.archive_state.record_outcome(request.meta.get("redirect_urls", [request.url])[0], kind="article", outlet=slug,
                                  outcome="error", status=response.status if response is not None else None,
                                  warc_file=warc.get("file"), record_id=warc.get("record_id"),
                                  fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        logger.info("article not fetched: %s (%s)", request.url, failure.getErrorMessage())


def capture_time(warc_date: str | None) -> str | None:
    """A WARC-Date (or a CDXJ timestamp) as the manifest's ``fetched_at``: ISO 8601 UTC to the second."""
    if not warc_date:
        return None
    digits = "".join(ch for ch in warc_date if ch.isdigit())[:14]
    if len(digits) < 14:
        return None
    return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}T{digits[8:10]}:{digits[10:12]}:{digits[12:14]}+00:00"


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
