"""The coverage spider: one topic, every outlet, every discovery path.

Thin on purpose: it turns the topic into first requests, hands each discovery response to the matching
function of ``crawler.discovery``, and turns candidates into article requests (scope, date window, query hints
for priority, de-duplication). Parsing lives in the discovery modules; everything after the fetch lives in the
pipelines.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Iterable

import scrapy
from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.spidermiddlewares.httperror import HttpError

from crawler.distributed import release_lease
from crawler.discovery.candidates import Candidate, DiscoveryError
from crawler.discovery.feeds import autodiscover_feeds, parse_feed
from crawler.discovery.search import parse_search, search_url
from crawler.discovery.sections import parse_section
from crawler.discovery.sitemaps import child_may_hold_window, parse_sitemap
from crawler.extensions.oversize import TRUNCATED_META
from crawler.items import ArticleItem
from crawler.middlewares import OutletRobotsMiddleware
from crawler.paths import paths_for
from crawler.query import slug_text
from crawler.rebuild import rebuild_state
from crawler.lock import TopicLock
from crawler.state import open_state
from crawler.topic import Outlet, Topic, load_topic
from crawler.urls import canonical_url, in_scope, normalize_url
from pipelines.textfiles import write_atomic

logger = logging.getLogger(__name__)

DISCOVERY_PRIORITY = 100
HINT_PRIORITY = {2: 20, 1: 10, 0: 0}


def keep_topic_copy(topic: Topic, target: Path) -> None:
    """Keep the topic file next to its archive, so the archive explains itself (reports read the window)."""
    if not topic.path:
        return
    text = Path(topic.path).read_text(encoding="utf-8")  # valid UTF-8: TOML requires it and the topic loaded
    if target.exists() and target.read_text(encoding="utf-8", errors="replace") == text:
        return
    write_atomic(target.parent, target.name, text)  # a temporary name of its own: workers start together


VIA_PREFERENCE = ("sitemap", "feed", "search", "section")


class CoverageSpider(scrapy.Spider):
    """``scrapy crawl coverage -a topic=topics/x.toml``: finds and fetches a story's articles on every outlet."""

    name = "coverage"

    def __init__(self, topic: str | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not topic:
            raise ValueError("the coverage spider needs a topic file: scrapy crawl coverage -a topic=FILE.toml")
        self.topic_path = topic
        self.topic: Topic | None = None
        self.topic_name: str | None = None
        self._seen: set[str] = set()
        self._found_via: dict[str, set[str]] = {}  # every discovery path that listed a URL

    @classmethod
    def from_crawler(cls, crawler, *args: Any, **kwargs: Any) -> "CoverageSpider":
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.topic = load_topic(spider.topic_path, topics_dir=crawler.settings.get("TOPICS_DIR"))
        spider.topic_name = spider.topic.name
        spider.section_pages = crawler.settings.getint("SECTION_MAX_PAGES", 5)
        paths = paths_for(crawler.settings, spider).create()
        distributed = bool(crawler.settings.get("DISTRIBUTED"))
        spider.lock = TopicLock(paths.lock).acquire() if not distributed else None  # workers share a topic
        if not distributed and not paths.state.exists() and paths.manifest.exists():
            logger.warning("%s is missing: rebuilding it from the manifest and the WARC index", paths.state)
            rebuild_state(paths, crawler.settings.getint("NEAR_DUPLICATE_NUM_PERM", 128),
                          crawler.settings.getint("NEAR_DUPLICATE_SHINGLE", 3))
        keep_topic_copy(spider.topic, paths.root / "topic.toml")
        spider.archive_state = open_state(paths.state)  # not `state`: Scrapy keeps JOBDIR data there
        spider.refresh_after = crawler.settings.getfloat("REFRESH_AFTER_DAYS") or None
        spider.error_runs = crawler.settings.getint("ERROR_RETRY_RUNS", 3)
        if spider.lock is not None:
            crawler.signals.connect(spider.lock.release, signal=signals.spider_closed)
        return spider

    # -- helpers --
    def _meta(self, outlet: Outlet, kind: str, **extra: Any) -> dict[str, Any]:
        return {"outlet": outlet.slug, "kind": kind, "outlet_hosts": sorted(outlet.hosts), **extra}

    def _discovery_request(self, url: str, callback, outlet: Outlet, kind: str, priority: int = DISCOVERY_PRIORITY,
                           **extra: Any) -> Request:
        """A feed, sitemap or listing page request, conditional on what an earlier run saw. The home page is
        always fetched in full: it leads to the robots.txt sitemaps and autodiscovered feeds."""
        etag, last_modified = self.archive_state.validators(url) if kind != "home" else (None, None)
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return Request(url, callback=callback, errback=self.discovery_error, priority=priority, headers=headers,
                       meta=self._meta(outlet, kind, handle_httpstatus_list=[304], **extra))

    def _unchanged(self, response: Response, outlet: Outlet) -> bool:
        """True for a 304 (this branch ends here); otherwise remember the page's validators."""
        if response.status == 304:
            self._stat(outlet, "discovery_unchanged")
            return True
        etag = response.headers.get(b"ETag")
        last_modified = response.headers.get(b"Last-Modified")
        if etag or last_modified:
            self.archive_state.save_validators(response.request.url if response.request else response.url,
                                       etag.decode("latin-1") if etag else None,
                                       last_modified.decode("latin-1") if last_modified else None)
        return False

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

    def _outlet(self, response: Response) -> Outlet:
        slug = response.meta["outlet"]
        assert self.topic is not None
        return next(o for o in self.topic.outlets if o.slug == slug)

    def _stat(self, outlet: Outlet, event: str, count: int = 1) -> None:
        self.crawler.stats.inc_value(f"coverage/{outlet.slug}/{event}", count)

    def _discovery_failed(self, outlet: Outlet, url: str, error: Exception) -> None:
        logger.warning("discovery: %s", error)
        self._stat(outlet, "discovery_errors")

    def _robots(self) -> OutletRobotsMiddleware | None:
        for middleware in self.crawler.engine.downloader.middleware.middlewares:
            if isinstance(middleware, OutletRobotsMiddleware):
                return middleware
        return None

    # -- first requests --
    async def start(self) -> AsyncIterator[Request]:
        assert self.topic is not None
        for outlet in self.topic.outlets:
            yield self._discovery_request(outlet.url, self.parse_home, outlet, "home", DISCOVERY_PRIORITY + 10)
            for url in outlet.feeds:
                yield self._feed_request(outlet, url)
            for url in outlet.sitemaps:
                yield self._sitemap_request(outlet, url)
            for url in outlet.sections:
                yield self._discovery_request(url, self.parse_section, outlet, "section", section_page=1)
            if outlet.search:
                try:
                    url = search_url(outlet.search, self.topic.query.text)
                except DiscoveryError as exc:
                    self._discovery_failed(outlet, outlet.search, exc)
                else:
                    yield self._discovery_request(url, self.parse_search, outlet, "search", section_page=1)

    def _feed_request(self, outlet: Outlet, url: str) -> Request:
        return self._discovery_request(url, self.parse_feed, outlet, "feed")

    def _sitemap_request(self, outlet: Outlet, url: str) -> Request:
        return self._discovery_request(url, self.parse_sitemap, outlet, "sitemap")

    # -- discovery callbacks --
    def parse_home(self, response: Response) -> Iterable[Request]:
        """The home page: feed autodiscovery, robots.txt sitemaps, and its own article links."""
        outlet = self._outlet(response)
        if self._unchanged(response, outlet):
            return
        if not outlet.feeds and hasattr(response, "text"):
            for url in autodiscover_feeds(response.body, response.url):
                if in_scope(url, outlet.hosts):
                    yield self._feed_request(outlet, url)
        if not outlet.sitemaps:
            robots = self._robots()
            for url in robots.sitemaps_of(outlet.url) if robots else []:
                yield self._sitemap_request(outlet, url)
        if hasattr(response, "text"):
            page = parse_section(response.body, response.url, outlet.hosts)
            yield from self._follow(outlet, page.candidates)

    def parse_sitemap(self, response: Response) -> Iterable[Request]:
        outlet = self._outlet(response)
        if self._unchanged(response, outlet):
            return
        try:
            result = parse_sitemap(response.body, response.url)
        except DiscoveryError as exc:
            self._discovery_failed(outlet, response.url, exc)
            return
        assert self.topic is not None
        for child in result.children:
            if child_may_hold_window(child, self.topic.since, self.topic.until):
                yield self._sitemap_request(outlet, child.url)
            else:
                self._stat(outlet, "sitemaps_skipped")
        yield from self._follow(outlet, result.entries)

    def parse_feed(self, response: Response) -> Iterable[Request]:
        outlet = self._outlet(response)
        if self._unchanged(response, outlet):
            return
        try:
            candidates = parse_feed(response.body, response.url)
        except DiscoveryError as exc:
            self._discovery_failed(outlet, response.url, exc)
            return
        yield from self._follow(outlet, candidates)

    def parse_section(self, response: Response, parse=parse_section, callback_name: str = "parse_section"):
        outlet = self._outlet(response)
        if self._unchanged(response, outlet) or not hasattr(response, "text"):
            return
        page = parse(response.body, response.url, outlet.hosts)
        yield from self._follow(outlet, page.candidates)
        number = response.meta.get("section_page", 1)
        if page.next_page and number < self.section_pages and in_scope(page.next_page, outlet.hosts):
            yield self._discovery_request(page.next_page, getattr(self, callback_name), outlet,
                                          response.meta["kind"], section_page=number + 1,
                                          guessed_page=page.next_guessed)

    def parse_search(self, response: Response):
        yield from self.parse_section(response, parse=parse_search, callback_name="parse_search")

    def discovery_error(self, failure) -> None:
        request = failure.request
        release_lease(self.crawler, request)
        slug = request.meta.get("outlet", "unknown")
        if request.meta.get("guessed_page") and failure.check(HttpError):
            self.crawler.stats.inc_value(f"coverage/{slug}/section_guess_missed")
            logger.debug("no listing page at the guessed %s", request.url)
            return
        self.crawler.stats.inc_value(f"coverage/{slug}/errors")
        logger.warning("could not fetch %s (%s)", request.url, failure.getErrorMessage())

    # -- candidates to article requests --
    def _follow(self, outlet: Outlet, candidates: Iterable[Candidate]) -> Iterable[Request]:
        assert self.topic is not None
        for candidate in candidates:
            url = normalize_url(candidate.url)
            if url is None or not in_scope(url, outlet.hosts):
                continue
            url = canonical_url(url)
            self._found_via.setdefault(url, set()).add(candidate.via)
            if url in self._seen:
                continue
            self._seen.add(url)
            self._stat(outlet, "discovered")
            if self._already_done(url):
                self._stat(outlet, "archived_earlier")
                continue
            if candidate.outside(self.topic.since, self.topic.until):
                self._stat(outlet, "skipped_out_of_window")
                continue
            score = self.topic.query.hint_score(candidate.title or "", candidate.summary or "", slug_text(url))
            yield Request(
                url, callback=self.parse_article, errback=self.article_error, priority=HINT_PRIORITY[score],
                meta=self._meta(outlet, "article", via=candidate.via, hint_title=candidate.title,
                                budget=self.topic.max_pages_per_outlet),
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
            return
        warc = response.meta.get("warc") or {}
        yield ArticleItem(
            url=response.request.url if not response.meta.get("redirect_urls") else response.meta["redirect_urls"][0],
            final_url=response.url,
            outlet=outlet.name,
            outlet_slug=outlet.slug,
            via=self._best_via(response),
            html=response.body,
            status=response.status,
            fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            content_type=content_type or None,
            warc_file=warc.get("file"),
            warc_record_id=warc.get("record_id"),
            hint_title=response.meta.get("hint_title"),
        )

    def article_error(self, failure) -> None:
        request = failure.request
        release_lease(self.crawler, request)
        slug = request.meta.get("outlet", "unknown")
        if failure.check(IgnoreRequest) and not failure.check(HttpError):
            return  # refused by robots.txt, the budget or a guard: not an error of the outlet
        self.crawler.stats.inc_value(f"coverage/{slug}/errors")
        response = getattr(failure.value, "response", None)
        warc = request.meta.get("warc") or {}
        self.archive_state.record_outcome(request.meta.get("redirect_urls", [request.url])[0], kind="article", outlet=slug,
                                  outcome="error", status=response.status if response is not None else None,
                                  warc_file=warc.get("file"), record_id=warc.get("record_id"),
                                  fetched_at=datetime.now(timezone.utc).isoformat(timespec="seconds"))
        logger.info("article not fetched: %s (%s)", request.url, failure.getErrorMessage())
