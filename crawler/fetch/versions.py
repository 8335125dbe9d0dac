"""Versions across scheduled runs: kept articles are asked for again on a decaying schedule, conditionally.

News articles are edited after publication (headlines rewritten, paragraphs added, corrections appended), and
which edits were made is often what the people who study coverage want to know. Each kept article is tracked in
the store (``TrackedArticle``); at the start of a run every one whose next point of ``VERSIONS_SCHEDULE`` (hours
after its first capture: 1, 6, 24, 72, 168) has passed is requested again with the validators its newest
capture sent (``If-None-Match``/``If-Modified-Since``). Several points passed since the last run cost one request;
after the last point an article is not asked for again. The check is claimed in the store before it is
requested (compare and set), so in a distributed crawl only one worker asks.

What the answer becomes:

- 304: the recorder writes a ``revisit`` record of the server-not-modified profile referring to the newest
  capture (``Meta.REFERS_TO``); nothing else happens (``versions/not_modified``).
- 404 or 410, or a redirect that ends on the outlet's home page: the article is recorded as removed (its last
  version stays; the report lists it) (``versions/removed``).
- 200: the page goes to the pipelines as an article; ``pipelines.versions`` compares its cleaned title and text
  with the newest version's and either drops it (an ad slot or a timestamp changed; an identical payload was
  already written as an identical-payload-digest revisit) or passes it on as the next version.

A replay reproduces the versions an archive holds instead of following the schedule: an article is served its URL's
first answer with content (``Meta.REPLAY_CAPTURE``), and once that is settled (written, unchanged, not modified)
the next record of the URL is asked for as a re-check, until the URL's records are all served.

``VERSIONS_NOW`` replaces the clock the schedule is judged by (read in :func:`clock` only), so tests and a
catch-up run can look at the archive as of another moment. ``VERSIONS_ENABLED`` unset: on when the topic's
window reaches into the last 7 days (or has no end), since articles of an old story are rarely edited.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from datetime import date, datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any, AsyncIterator, Iterable, Iterator
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Request, Response

from crawler.contracts import Kind, Meta
from crawler.run import topic_run
from crawler.signals import text_file_written
from crawler.spiders.builder import capture_time
from crawler.store import TopicStore, TrackedArticle
from pipelines.versions import Unchanged

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from crawler.topic import Topic

logger = logging.getLogger(__name__)

RECENT_DAYS = 7  # VERSIONS_ENABLED unset: on for topics whose window reaches this close to today
GONE_STATUSES = (404, 410)


def clock(settings: Any) -> datetime:
    """Now, for the versions schedule: ``VERSIONS_NOW`` when set (ISO 8601, UTC when it names no zone)."""
    value = settings.get("VERSIONS_NOW")
    if not value:
        return datetime.now(timezone.utc)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    moment = moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
    if not 1970 <= moment.year <= 9000:  # the schedule adds and subtracts days and hours: keep clear of the ends
        raise ValueError(f"VERSIONS_NOW out of range: {value}")
    return moment


def versions_enabled(settings: Any, topic: Topic, now: datetime) -> bool:
    """``VERSIONS_ENABLED``, or unset: whether the topic's window ends within the last 7 days (or never)."""
    value = settings.get("VERSIONS_ENABLED")
    if value is not None and value != "":
        return settings.getbool("VERSIONS_ENABLED")
    if settings.get("REPLAY_FROM"):
        return True  # a replay reproduces the versions the archive holds, however old the story
    until: date | None = topic.until
    return until is None or until >= (now - timedelta(days=RECENT_DAYS)).date()


def points_passed(article: TrackedArticle, schedule: list[float], now: datetime) -> int:
    """How many points of the schedule (hours after the first capture) lie behind ``now``."""
    try:
        first = datetime.fromisoformat(article.first_captured.replace("Z", "+00:00"))
    except ValueError:
        return len(schedule)
    first = first if first.tzinfo else first.replace(tzinfo=timezone.utc)
    age = (now - first).total_seconds() / 3600
    return sum(1 for hours in schedule if hours <= age)


def parse_schedule(values: list[Any]) -> list[float]:
    """Hours after first capture, ascending; ValueError for one that is not a positive, finite number of hours."""
    hours = sorted(float(value) for value in values)
    if any(not math.isfinite(h) or h <= 0 or h > 24 * 365 * 100 for h in hours):
        raise ValueError(f"VERSIONS_SCHEDULE: hours must be positive finite numbers: {values}")
    return hours


class NotModified(IgnoreRequest):
    """A re-checked article answered 304: its newest version stands."""


class Removed(IgnoreRequest):
    """A re-checked article is gone (404, 410, or sent home): recorded as removed."""


class VersionChecksMiddleware:
    """Adds the due re-checks of kept articles to the start requests (spider middleware, see the module docstring).

    Stats: ``versions/checks`` (requested), ``versions/check_taken`` (another worker claimed it first)."""

    def __init__(self, crawler: Crawler, store: TopicStore, topic: Topic, schedule: list[float],
                 now: datetime) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.store = store
        self.topic = topic
        self.schedule = schedule
        self.now = now
        self.replay = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "VersionChecksMiddleware":
        run = getattr(crawler, "topic_run", None)
        if run is None:
            raise NotConfigured("no topic")
        now = clock(crawler.settings)
        if not versions_enabled(crawler.settings, run.topic, now):
            raise NotConfigured("VERSIONS_ENABLED is off (or the topic's window ended more than 7 days ago)")
        middleware = cls(crawler, run.store, run.topic, parse_schedule(crawler.settings.getlist("VERSIONS_SCHEDULE")),
                         now)
        middleware.replay = bool(crawler.settings.get("REPLAY_FROM"))
        if middleware.replay:
            crawler.signals.connect(middleware.file_written, signal=text_file_written)
            crawler.signals.connect(middleware.item_dropped, signal=signals.item_dropped)
        return middleware

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for request in start:
            yield self._first_answer(request)
        for request in [] if self.replay else self.due_requests():
            yield request

    def process_spider_output(self, response: Response, result: Iterable[Any]) -> Iterator[Any]:
        return (self._first_answer(element) for element in result)

    async def process_spider_output_async(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for element in result:
            yield self._first_answer(element)

    def _first_answer(self, element: Any) -> Any:
        """Replay: an article's first request is served its URL's first answer with content, not the newest."""
        if (self.replay and isinstance(element, Request) and element.meta.get(Meta.KIND) == Kind.ARTICLE
                and not element.meta.get(Meta.RECHECK)):
            element.meta.setdefault(Meta.REPLAY_CAPTURE, "first")
        return element

    def file_written(self, item: Any) -> None:
        replay_next(self.crawler, item.url, item.final_url, item.replay_served)

    def item_dropped(self, item: Any, exception: BaseException, **kwargs: Any) -> None:
        if isinstance(exception, Unchanged):
            replay_next(self.crawler, item.url, item.final_url, getattr(item, "replay_served", None))

    def due_requests(self) -> list[Request]:
        """The re-checks due now, each claimed in the store first."""
        spider = self.crawler.spider
        outlets = {outlet.slug: outlet for outlet in self.topic.outlets}
        requests = []
        for article in self.store.tracked_articles():
            outlet = outlets.get(article.outlet)
            passed = points_passed(article, self.schedule, self.now)
            if outlet is None or article.removed or passed <= article.checks:
                continue
            if not self.store.claim_check(article.url, article.checks, passed):
                self.stats.inc_value("versions/check_taken")
                continue
            self.stats.inc_value("versions/checks")
            requests.append(recheck_request(article, outlet, spider.parse_article, spider.article_error))
        return requests


def recheck_request(article: TrackedArticle, outlet: Any, callback: Any, errback: Any) -> Request:
    """A kept article asked for again: conditional on its newest capture's validators, carrying what is known of it
    (``Meta.RECHECK``) and the record a 304 refers to (``Meta.REFERS_TO``). Not filtered as a duplicate (the URL
    was fetched before, on purpose) and not counted against the outlet's page budget."""
    headers = {}
    if article.etag:
        headers["If-None-Match"] = article.etag
    if article.last_modified:
        headers["If-Modified-Since"] = article.last_modified
    meta = {Meta.OUTLET: outlet.slug, Meta.KIND: Kind.ARTICLE, Meta.OUTLET_HOSTS: sorted(outlet.hosts),
            Meta.VIA: "recheck", Meta.RECHECK: dataclasses.asdict(article)}
    if article.record_id and article.warc_date:
        meta[Meta.REFERS_TO] = {"uri": article.request_url, "date": article.warc_date, "record_id": article.record_id}
    return Request(article.request_url, callback=callback, errback=errback, headers=headers, meta=meta,
                   dont_filter=True)


def replay_next(crawler: Crawler, key: str, url: str, served: tuple[int, int] | None) -> None:
    """Replay: ask for the record of ``url`` after the one just served, as a re-check of the article kept under
    ``key`` (nothing when that was its last record)."""
    if not served or served[0] + 1 >= served[1] or crawler.engine is None:
        return
    spider = crawler.spider
    request = Request(url, callback=spider.parse_article, errback=spider.article_error, dont_filter=True, meta={
        Meta.OUTLET: None, Meta.KIND: Kind.ARTICLE, Meta.VIA: "recheck", Meta.RECHECK: {"url": key},
        Meta.REPLAY_CAPTURE: served[0] + 1})
    tracked = topic_run(crawler).store.tracked(key)
    outlet = next((o for o in topic_run(crawler).topic.outlets if tracked and o.slug == tracked.outlet), None)
    if outlet is None:
        return
    request.meta.update({Meta.OUTLET: outlet.slug, Meta.OUTLET_HOSTS: sorted(outlet.hosts)})
    crawler.engine.crawl(request)


class VersionAnswersMiddleware:
    """Downloader middleware: notes the validators of every article response (``Meta.VALIDATORS``: the first
    re-check is conditional on them) and ends a re-check that answers 304 (not modified) or is gone (removed).

    Stats: ``versions/not_modified``, ``versions/removed``."""

    def __init__(self, stats: Any, store: TopicStore, now: datetime) -> None:
        self.stats = stats
        self.store = store
        self.now = now  # the run's moment (VERSIONS_NOW or the clock at start): removals are dated by it
        self.crawler: Crawler | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "VersionAnswersMiddleware":
        run = getattr(crawler, "topic_run", None)
        if run is None:
            raise NotConfigured("no topic")
        if not versions_enabled(crawler.settings, run.topic, clock(crawler.settings)):
            raise NotConfigured("VERSIONS_ENABLED is off")
        middleware = cls(crawler.stats, run.store, clock(crawler.settings))
        middleware.crawler = crawler if crawler.settings.get("REPLAY_FROM") else None  # replay: the next record
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        if request.meta.get(Meta.KIND) == Kind.ARTICLE and response.status == 200:
            request.meta[Meta.VALIDATORS] = (_header(response, b"ETag"), _header(response, b"Last-Modified"))
        recheck = request.meta.get(Meta.RECHECK)
        if not recheck:
            return response
        if response.status == 304:
            self.stats.inc_value("versions/not_modified")
            if self.crawler is not None:
                replay_next(self.crawler, recheck["url"], request.url, request.meta.get(Meta.REPLAY_SERVED))
            raise NotModified(f"not modified since its last capture: {request.url}")
        reason = (str(response.status) if response.status in GONE_STATUSES
                  else "redirected home" if _sent_home(request, response) else None)
        if reason is None:
            return response
        current = self.store.tracked(recheck["url"])
        if current is not None:
            self.store.track(dataclasses.replace(current, removed=reason,
                                                 removed_at=capture_time((request.meta.get(Meta.WARC) or {}).get("date"))
                                                 or self.now.isoformat(timespec="seconds")))
        self.stats.inc_value("versions/removed")
        logger.info("article removed (%s): %s", reason, request.url)
        raise Removed(f"removed ({reason}): {request.url}")


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _sent_home(request: Request, response: Response) -> bool:
    """Whether the page now redirects to its site's home page (a common way of taking an article down)."""
    if not request.meta.get("redirect_urls"):
        return False
    parts = urlsplit(response.url)
    return parts.path in ("", "/") and not parts.query
