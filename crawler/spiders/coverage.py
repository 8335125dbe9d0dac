"""The coverage spider: one topic, every outlet, every discovery path.

Thin on purpose: it turns the topic into first requests, hands each discovery response to the matching
function of ``crawler.discovery``, and turns candidates into article requests (scope, de-duplication, what an
earlier run settled, the date window). Parsing lives in the discovery modules; how a request looks in
``builder``; the frontier rules (stored before requested, articles held for their outlet's listings) in
``frontier``; "already settled by an earlier run" in ``crawler.fetch.settled``; everything after the fetch in the
pipelines.
"""

from __future__ import annotations

import json
import logging
from typing import Any, AsyncIterator, Iterable

import scrapy
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.cluster.scheduler import release_lease
from crawler.contracts import Kind, Meta, Outcome
from crawler.discovery.candidates import DiscoveryError
from crawler.discovery.feeds import autodiscover_feeds, parse_feed
from crawler.discovery.search import parse_search, search_url
from crawler.discovery.sections import parse_section as parse_listing
from crawler.discovery.sitemaps import children_to_follow, parse_sitemap
from crawler.fetch.settled import SettledMiddleware
from crawler.items import ArticleItem
from crawler.middlewares import ROBOTS_FORBIDDEN, OutletRobotsMiddleware, OverBudget, Refused
from crawler.run import TopicRun
from crawler.spiders.archives import ArchiveSources, archive_slots
from crawler.spiders.articles import (article_item, content_type_of, is_readable, record_cut, record_failure,
                                      record_not_html, record_refused)
from crawler.spiders.builder import DISCOVERY_PRIORITY, discovery_request, pending_candidate
from crawler.spiders.follow import Follower
from crawler.spiders.frontier import Frontier
from crawler.store import FrontierEntry, TopicStore
from crawler.topic import Outlet, Topic
from crawler.urls.hosts import in_scope
from crawler.urls.normal import canonical_url

logger = logging.getLogger(__name__)
HELD_CHECK_SECONDS = 1.0  # in a cluster: how often held article requests look whether their listings are read


class MissingTopic(ValueError):
    """``scrapy crawl coverage`` without ``-a topic=FILE``."""


class CoverageSpider(scrapy.Spider):
    """``scrapy crawl coverage -a topic=topics/x.toml``: finds and fetches a story's articles on every outlet.

    What discovery finds goes through the topic's frontier (``crawler.spiders.frontier``): every request a listing
    page leads to is stored before that page's validators, and article candidates wait while the outlet's other
    discovery pages are still in flight, so a feed read a moment later can still date them out of the window.
    """

    name = "coverage"

    def __init__(self, topic: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not topic:
            raise MissingTopic("the coverage spider needs a topic file: scrapy crawl coverage -a topic=FILE.toml")
        self.topic_path = topic
        self._arrivals = 0  # article pages handed to the pipelines, numbered in the order they came

    @classmethod
    def update_settings(cls, settings) -> None:
        """The web archives' download slots (ARCHIVES_DELAY), before the settings are frozen."""
        super().update_settings(settings)
        settings.set("DOWNLOAD_SLOTS", {**archive_slots(settings), **settings.getdict("DOWNLOAD_SLOTS")}, "spider")

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
        crawler.signals.connect(spider._opened, signal=signals.spider_opened)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._idle, signal=signals.spider_idle)
        return spider

    # -- the run this spider crawls for (crawler.run.TopicRun) and its components --
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

    def _opened(self, spider: scrapy.Spider) -> None:
        """The run's frontier and the follower of its candidates, once the run and the engine exist (before the
        first start request is read); the follower asks the settled middleware, when it is on."""
        self.frontier = Frontier(self.archive_state, self.crawler.stats, self.topic.since, self.topic.until,
                                 self.max_sitemaps)
        self.follower = Follower(self.topic, self.frontier, self.crawler.get_spider_middleware(SettledMiddleware),
                                 self.crawler.stats, self.parse_live_copy if self.topic.archives else self.parse_article,
                                 self.article_error)
        self.archives = ArchiveSources(self.crawler, self.topic, self.follower.seen, self._next_arrival) \
            if self.topic.archives else None
        if self.run.distributed:  # another worker may read the listing this one's held articles wait for
            from twisted.internet import task

            self._held_check = task.LoopingCall(self._release_read)
            self._held_check.start(HELD_CHECK_SECONDS, now=False)
            self.crawler.signals.connect(self._closed, signal=signals.spider_closed)

    def _release_read(self) -> None:
        import redis

        try:
            released = self.frontier.release_read()
        except redis.RedisError as exc:  # Redis is away: the worker's Redis handling says so, and stops it
            logger.debug("held article requests not looked at: %s", exc)
            return
        for request in released:
            self.crawler.engine.crawl(request)

    def _closed(self) -> None:
        if self._held_check.running:
            self._held_check.stop()

    def _next_arrival(self) -> int:
        self._arrivals += 1
        return self._arrivals - 1

    def _robots(self) -> OutletRobotsMiddleware | None:
        return self.crawler.get_downloader_middleware(OutletRobotsMiddleware)

    # -- helpers --
    def _outlet(self, response: Response) -> Outlet:
        return next(o for o in self.topic.outlets if o.slug == response.meta[Meta.OUTLET])

    def _stat(self, outlet: Outlet | str, event: str, count: int = 1) -> None:
        slug = outlet if isinstance(outlet, str) else outlet.slug
        self.crawler.stats.inc_value(f"coverage/{slug}/{event}", count)

    def _discovery_failed(self, outlet: Outlet, url: str, error: Exception) -> None:
        logger.warning("discovery: %s", error)
        self._stat(outlet, "discovery_errors")

    def _discovery_request(self, url: str, callback, outlet: Outlet, kind: Kind, priority: int = DISCOVERY_PRIORITY,
                           extra: dict[str, Any] | None = None) -> Request:
        """A feed, sitemap or listing page request, conditional on what an earlier run saw. The home page is
        always fetched in full: it leads to the robots.txt sitemaps and autodiscovered feeds."""
        validators = self.archive_state.validators(url, self.scope) if kind != Kind.HOME else (None, None)
        return discovery_request(url, callback, self.discovery_error, outlet, kind, validators, priority, extra)

    def _feed_request(self, outlet: Outlet, url: str) -> Request:
        return self._discovery_request(url, self.parse_feed, outlet, Kind.FEED)

    def _sitemap_request(self, outlet: Outlet, url: str, depth: int = 0) -> Request:
        return self._discovery_request(url, self.parse_sitemap, outlet, Kind.SITEMAP, extra={Meta.SITEMAP_DEPTH: depth})

    def _discovery(self, response: Response, produce) -> list[Request]:
        """Run one discovery callback under the frontier's rules (stored with the page's validators, then sent)."""
        outlet = self._outlet(response)
        return self.frontier.read_page(response, outlet.slug, lambda: produce(response, outlet), self.scope)

    def _request_dropped(self, request: Request, **kwargs: Any) -> None:
        if self.archives and Meta.ARCHIVE in request.meta:
            return self.archives.dropped(request)
        for held in self.frontier.discovery_done(request):
            self.crawler.engine.crawl(held)

    def _idle(self) -> None:
        """Nothing left in flight: whatever is still held (a count missed somewhere) is released now; then the
        frontier is read again for article candidates this spider never saw (``_recovered``)."""
        released = self.frontier.release_all() or (self.archives.release_all() if self.archives else []) \
            or self._recovered()
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
        entries = [] if self.topic.archives_only else [e for e in self.archive_state.pending()
                   if e.kind == Kind.ARTICLE and canonical_url(e.url) not in self.follower.seen]
        return self._resumed(entries, event="recovered") if entries else []

    # -- first requests --
    async def start(self) -> AsyncIterator[Request]:
        for request in self.archives.start() if self.archives else []:
            yield request
        for outlet in self.topic.outlets if not self.topic.archives_only else ():
            roots = [self._discovery_request(outlet.url, self.parse_home, outlet, Kind.HOME, DISCOVERY_PRIORITY + 10)]
            roots += [self._feed_request(outlet, url) for url in outlet.feeds]
            roots += [self._sitemap_request(outlet, url) for url in outlet.sitemaps]
            roots += [self._discovery_request(url, self.parse_section, outlet, Kind.SECTION,
                                              extra={Meta.SECTION_PAGE: 1}) for url in outlet.sections]
            if outlet.search:
                try:
                    url = search_url(outlet.search, self.topic.query.text)
                except DiscoveryError as exc:
                    self._discovery_failed(outlet, outlet.search, exc)
                else:
                    roots.append(self._discovery_request(url, self.parse_search, outlet, Kind.SEARCH,
                                                         extra={Meta.SECTION_PAGE: 1}))
            for request in self.frontier.sent(roots):
                yield request
        for request in self._resumed() if not self.topic.archives_only else []:
            yield request

    def _resumed(self, entries: list[FrontierEntry] | None = None, event: str = "resumed") -> list[Request]:
        """Requests for what earlier runs found and never settled, scheduled again under today's rules."""
        entries = self.frontier.pending_at_start() if entries is None else entries
        return self.frontier.resume(entries, self.topic.outlets, self._pending_requests, event)

    def _pending_requests(self, entry: FrontierEntry, outlet: Outlet) -> list[Request] | None:
        if entry.kind == Kind.ARTICLE:
            return list(self.follower.follow(outlet, [pending_candidate(entry)], resumed=entry.priority))
        callback = {Kind.SITEMAP: self.parse_sitemap, Kind.FEED: self.parse_feed, Kind.SECTION: self.parse_section,
                    Kind.SEARCH: self.parse_search, Kind.HOME: self.parse_home}.get(entry.kind)
        if callback is None or not in_scope(entry.url, outlet.hosts):
            return None
        if entry.kind == Kind.SITEMAP and not self.frontier.sitemap_allowed(outlet.slug):
            return None  # stays pending for a later run
        extra = json.loads(entry.extra) if entry.extra else {}
        return [self._discovery_request(entry.url, callback, outlet, Kind(entry.kind), priority=entry.priority,
                                        extra=extra)]

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
            yield from self.follower.follow(outlet, page.candidates)

    def parse_sitemap(self, response: Response) -> list[Request]:
        return self._discovery(response, self._sitemap_requests)

    def _sitemap_requests(self, response: Response, outlet: Outlet) -> Iterable[Request]:
        try:
            result = parse_sitemap(response.body, response.url, since=self.topic.since, until=self.topic.until,
                                   max_urls=self.max_urls_per_sitemap)
        except DiscoveryError as exc:
            self._discovery_failed(outlet, response.url, exc)
            return
        if result.skipped_urls:  # dated outside the window while streaming: discovered, not followed
            self._stat(outlet, "discovered", result.skipped_urls)
            self._stat(outlet, "skipped_out_of_window", result.skipped_urls)
            self.frontier.record_outside(outlet.slug, self.follower.on_outlet(outlet, result.skipped))
        if result.cut_urls:
            self._stat(outlet, "sitemap_urls_over_budget", result.cut_urls)
            logger.warning("%s lists more than %d URLs: the rest is not read (DISCOVERY_MAX_URLS_PER_SITEMAP)",
                           response.url, self.max_urls_per_sitemap)
        depth = response.meta.get(Meta.SITEMAP_DEPTH, 0) + 1
        wanted, offsite, outside = children_to_follow(result.children, outlet.hosts, self.topic.since,
                                                      self.topic.until)
        for event, count in (("sitemaps_offsite", offsite), ("sitemaps_skipped", outside)):
            if count:
                self._stat(outlet, event, count)
        if wanted and depth > self.max_depth:
            self._stat(outlet, "sitemaps_too_deep", len(wanted))
            logger.warning("%s: sitemap indexes nested deeper than %d are not followed (DISCOVERY_MAX_DEPTH)",
                           response.url, self.max_depth)
            wanted = []
        for child in wanted:  # newest first: the budget goes to them
            request = self._sitemap_request(outlet, child.url, depth)
            if not self.frontier.sitemap_allowed(outlet.slug):
                request.meta[Meta.NOT_NOW] = True  # stored in the frontier for a later run, not requested in this one
            yield request
        yield from self.follower.follow(outlet, result.entries)

    def parse_feed(self, response: Response) -> list[Request]:
        return self._discovery(response, self._feed_requests)

    def _feed_requests(self, response: Response, outlet: Outlet) -> Iterable[Request]:
        try:
            candidates = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._discovery_failed(outlet, response.url, exc)
            return
        yield from self.follower.follow(outlet, candidates)

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
        yield from self.follower.follow(outlet, page.candidates)
        number = response.meta.get(Meta.SECTION_PAGE, 1)
        if page.next_page and number < self.section_pages and in_scope(page.next_page, outlet.hosts):
            yield self._discovery_request(page.next_page, callback or self.parse_section, outlet,
                                          response.meta[Meta.KIND], extra={Meta.SECTION_PAGE: number + 1,
                                                                           Meta.GUESSED_PAGE: page.next_guessed})

    def discovery_error(self, failure) -> list[Request]:
        request = failure.request
        release_lease(self.crawler, request)
        slug = request.meta.get(Meta.OUTLET, "unknown")
        response = getattr(failure.value, "response", None)
        if response is not None and response.status in (404, 410):
            self.frontier.drop(request.url)  # gone: an earlier listing's link, not worth a retry
        if request.meta.get(Meta.GUESSED_PAGE) and failure.check(HttpError):
            self._stat(slug, "section_guess_missed")
            logger.debug("no listing page at the guessed %s", request.url)
        else:
            self._stat(slug, "errors")
            logger.warning("could not fetch %s (%s)", request.url, failure.getErrorMessage())
        return self.frontier.discovery_done(request)

    # -- article callbacks --
    def parse_article(self, response: Response) -> Iterable[ArticleItem]:
        outlet = self._outlet(response)
        self._stat(outlet, "fetched")
        if "truncated" in response.flags:
            oversize = record_cut(self.archive_state, response, outlet.slug)
            self._stat(outlet, "errors")
            self._stat(outlet, "truncated")
            logger.warning("article body cut short (%s), not kept: %s",
                           "over DOWNLOAD_MAXSIZE" if oversize else "incomplete compressed stream", response.url)
            return
        content_type = content_type_of(response)
        if not is_readable(content_type):
            self._stat(outlet, Outcome.NOT_HTML)
            record_not_html(self.archive_state, response, outlet.slug)
            return
        yield article_item(response, outlet, self.follower.best_via(response), content_type, self._next_arrival())

    async def parse_live_copy(self, response: Response) -> AsyncIterator[ArticleItem]:
        """``parse_article`` when the topic names archives: its items once their indexes have answered, so each
        lists the captures they named (``also_in``)."""
        for item in await self.archives.with_captures(list(self.parse_article(response))):
            yield item

    def article_error(self, failure) -> None:
        request = failure.request
        release_lease(self.crawler, request)
        slug = request.meta.get(Meta.OUTLET, "unknown")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            # Refused by robots.txt, the budget or a guard: not an error of the outlet. What no run will fetch
            # leaves the frontier; what a budget or a pause held back stays for the next run. robots.txt and the
            # budget are recorded (never settled), so the report lists them.
            message = failure.getErrorMessage()
            if failure.check(OverBudget):
                record_refused(self.archive_state, request, slug, Outcome.OVER_BUDGET, message)
            elif failure.check(Refused) or ROBOTS_FORBIDDEN in message:
                self.frontier.drop(request.url)
                if ROBOTS_FORBIDDEN in message:
                    self._stat(slug, Outcome.ROBOTS_FORBIDDEN)
                    record_refused(self.archive_state, request, slug, Outcome.ROBOTS_FORBIDDEN, message)
            return
        self._stat(slug, "errors")
        record_failure(self.archive_state, request, slug, getattr(failure.value, "response", None), failure.value)
        logger.info("article not fetched: %s (%s)", request.url, failure.getErrorMessage())
