"""The coverage spider's frontier rules: what discovery found is durable before it is requested, and an article
waits while its outlet's listings are still being read.

Three rules, each for a crash or a listing that answers late:

- every request a discovery page leads to is stored in the topic's frontier together with the page's validators,
  in one transaction (``TopicStore.settle_discovery``), so a crash between a listing and its articles never hides
  them behind a later 304;
- an article request waits while its outlet has discovery requests in flight, so a feed read a moment later can
  still date it outside the window; it is then released, or dropped (and leaves the frontier) when a listing did.
  The count of those in flight is the store's (``TopicStore.add_listings_in_flight``), shared by a cluster's
  workers: a listing one worker queued is often read by another, and counted per worker the first would hold its
  outlet's articles until it ran out of work (with four workers, a quarter of the outlets waited a minute);
- a settled URL leaves the frontier, with a store write only when an earlier run left it there (the frontier is
  read once, at start), not for each of the many settled URLs a listing names again on every run.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from datetime import date
from typing import Callable, Iterable, Sequence

from scrapy.http import Request, Response

from crawler.contracts import Kind, Meta, Outcome, counts_as_listing
from crawler.discovery.candidates import Candidate
from crawler.store import FrontierEntry, TopicStore
from crawler.topic import Outlet
from crawler.urls.hosts import in_scope

logger = logging.getLogger(__name__)

EXTRA_META = (Meta.SECTION_PAGE, Meta.GUESSED_PAGE, Meta.SITEMAP_DEPTH)
"""The meta of a discovery request its frontier entry keeps (``extra``), so a later run asks for it the same way."""


def frontier_entry(request: Request, found_on: str | None) -> FrontierEntry:
    """The frontier entry of a request a discovery page (``found_on``) led to."""
    meta = request.meta
    if meta[Meta.KIND] == Kind.ARTICLE:
        published, lastmod = meta.get(Meta.EVIDENCE) or (None, None)
        return FrontierEntry(request.url, meta[Meta.OUTLET], Kind.ARTICLE, via=meta.get(Meta.VIA),
                             title=meta.get(Meta.HINT_TITLE), published=published, lastmod=lastmod,
                             priority=request.priority, found_on=found_on)
    extra = {k: meta[k] for k in EXTRA_META if meta.get(k) is not None}
    return FrontierEntry(request.url, meta[Meta.OUTLET], meta[Meta.KIND], priority=request.priority,
                         found_on=found_on, extra=json.dumps(extra) if extra else None)


class Frontier:
    """One run's view of the topic's frontier, per outlet: discovery requests in flight, article requests held
    for them, the dates listings gave each URL, and the entries earlier runs left pending."""

    def __init__(self, store: TopicStore, stats, since: date | None, until: date | None, max_sitemaps: int) -> None:
        self.store = store
        self.stats = stats
        self.since, self.until = since, until
        self.max_sitemaps = max_sitemaps
        self._sitemaps_sent: dict[str, int] = {}
        self._held: dict[str, list[Request]] = {}  # article requests waiting for those
        self._evidence: dict[str, set[tuple[date | None, date | None, str]]] = {}  # (published, lastmod, via)
        self._pending: list[FrontierEntry] | None = None  # the frontier at start (pending_at_start)
        self._pending_urls: set[str] = set()

    def _stat(self, slug: str, event: str, count: int = 1) -> None:
        self.stats.inc_value(f"coverage/{slug}/{event}", count)

    # -- what earlier runs left --
    def pending_at_start(self) -> list[FrontierEntry]:
        """The frontier as this run found it, read once (the resume and the settled checks share it)."""
        if self._pending is None:
            self._pending = self.store.pending()
            self._pending_urls = {entry.url for entry in self._pending}
        return self._pending

    def settle(self, url: str) -> None:
        """Take a settled URL off the frontier, if an earlier run left it there."""
        self.pending_at_start()
        if url in self._pending_urls:
            self._pending_urls.discard(url)
            self.store.drop_pending(url)

    def resume(self, entries: Iterable[FrontierEntry], outlets: Sequence[Outlet],
               requests_for: Callable[[FrontierEntry, Outlet], list[Request] | None], event: str) -> list[Request]:
        """Requests for what earlier runs found and never settled (``requests_for`` makes them under today's rules,
        None: not now), counted as ``event`` and scheduled like those of a page."""
        named = {o.slug: o for o in outlets}
        by_outlet: dict[str, list[Request]] = {}
        for entry in entries:
            # an outlet renamed in the topic file since: its URLs still say which one it is
            outlet = named.get(entry.outlet) or next((o for o in outlets if in_scope(entry.url, o.hosts)), None)
            if outlet is None:
                continue  # an outlet removed from the topic file: kept for the day it comes back
            requests = requests_for(entry, outlet)
            if requests is None:
                continue
            if requests:
                self._stat(outlet.slug, event, len(requests))
            by_outlet.setdefault(outlet.slug, []).extend(requests)
        return [request for slug, requests in by_outlet.items() for request in self.schedule(slug, requests)]

    def drop(self, url: str) -> None:
        """Take ``url`` off the frontier whatever left it there (refused, gone, dated outside the window)."""
        self.store.drop_pending(url)

    def sitemap_allowed(self, slug: str) -> bool:
        """Whether this run's sitemap budget of the outlet (DISCOVERY_MAX_SITEMAPS) has room for one more; one over
        it stays in the frontier for a later run."""
        if self._sitemaps_sent.get(slug, 0) >= self.max_sitemaps:
            self._stat(slug, "sitemaps_over_budget")
            return False
        self._sitemaps_sent[slug] = self._sitemaps_sent.get(slug, 0) + 1
        return True

    # -- dates --
    def note_dates(self, url: str, candidate: Candidate) -> None:
        """Remember the dates a listing gave ``url``: any listing's can rule it out of the window."""
        if candidate.published is not None or candidate.lastmod is not None:
            self._evidence.setdefault(url, set()).add((candidate.published, candidate.lastmod, candidate.via))

    def outside_by(self, url: str, candidate: Candidate | None = None) -> Candidate | None:
        """The listing's word (dates and via) by which ``url`` lies outside the window, if any listing (or
        ``candidate``) dates it so."""
        dates = self._evidence.get(url, set()) | (
            {(candidate.published, candidate.lastmod, candidate.via)} if candidate else set())
        return next((evidence for published, lastmod, via in sorted(dates, key=str)
                     if (evidence := Candidate(url, via=via, published=published, lastmod=lastmod)).outside(
                         self.since, self.until)), None)

    def dated_outside(self, url: str, candidate: Candidate | None = None) -> bool:
        """Whether any listing (or ``candidate``) dates ``url`` outside the window: then it is not fetched, whichever
        listing answered first."""
        return self.outside_by(url, candidate) is not None

    def record_outside(self, slug: str, evidence: Iterable[Candidate]) -> None:
        """Record articles a listing dated outside the window (``listed_out_of_window``, never settled), with the
        date and where it came from, for the report; a URL with an outcome already keeps it (no write each run)."""
        for candidate in evidence:
            if self.store.outcome_of(candidate.url) is not None:
                continue
            self.store.record_outcome(candidate.url, kind=Kind.ARTICLE, outlet=slug, outcome=Outcome.LISTED_OUT_OF_WINDOW,
                                      detail={"published": candidate.published and candidate.published.isoformat(),
                                              "lastmod": candidate.lastmod and candidate.lastmod.isoformat(),
                                              "date_source": candidate.via, "title": candidate.title})

    # -- discovery pages and what they led to --
    def sent(self, requests: Iterable[Request]) -> list[Request]:
        """Count the discovery requests about to be scheduled as in flight for their outlet."""
        requests = list(requests)
        for slug, count in Counter(r.meta[Meta.OUTLET] for r in requests if counts_as_listing(r.meta)).items():
            self.store.add_listings_in_flight(slug, count)
        return requests

    def _listings_read(self, slug: str) -> bool:
        """Whether every discovery request of the outlet sent so far (by any worker) is read, failed or dropped."""
        return self.store.listings_in_flight([slug])[slug] <= 0

    def read_page(self, response: Response, slug: str, produce: Callable[[], Iterable[Request]],
                  scope: str) -> list[Request]:
        """One discovery page of the outlet: the requests ``produce`` makes of it are stored together with the page's
        validators (one transaction), then scheduled. A 304 leads nowhere new (``discovery_unchanged``)."""
        # Under the URL that was asked for: a redirected page is asked for there again, conditionally.
        asked = response.request.url if response.request else response.url
        page_url = (response.meta.get("redirect_urls") or [asked])[0]
        try:
            if response.status == 304:
                self._stat(slug, "discovery_unchanged")
                requests: list[Request] = []
                validators: tuple[str | None, str | None] = (None, None)
            else:
                requests = list(produce())
                validators = tuple(  # type: ignore[assignment]
                    value.decode("latin-1") if value else None
                    for value in (response.headers.get(b"ETag"), response.headers.get(b"Last-Modified")))
            self.store.settle_discovery(page_url, [frontier_entry(r, page_url) for r in requests], *validators,
                                        scope=scope)
        finally:
            self.store.add_listings_in_flight(slug, -1)
        return self.schedule(slug, requests)

    def schedule(self, slug: str, requests: list[Request]) -> list[Request]:
        """The requests to hand to Scrapy now: article requests wait while the outlet has discovery in flight;
        those over a discovery budget (``Meta.NOT_NOW``) are stored only."""
        requests = [r for r in requests if not r.meta.get(Meta.NOT_NOW)]
        self.sent(requests)
        read = self._listings_read(slug)
        ready = []
        for request in requests:
            if request.meta.get(Meta.KIND) == Kind.ARTICLE and not read:
                self._held.setdefault(slug, []).append(request)
                self._stat(slug, "held_for_dates")
            else:
                ready.append(request)
        if len(ready) < len(requests):
            logger.debug("%s: %d article request(s) held until the outlet's other listings are read", slug,
                         len(requests) - len(ready))
        if read:
            ready.extend(self.release(slug))
        return ready

    def release(self, slug: str) -> list[Request]:
        """The held article requests of an outlet, less those a listing has since dated outside the window."""
        released = []
        for request in self._held.pop(slug, []):
            evidence = self.outside_by(request.url)
            if evidence is not None:
                self._stat(slug, "skipped_out_of_window")
                self.record_outside(slug, [evidence])
                logger.info("not fetched: a listing dates %s outside the window", request.url)
                self.store.drop_pending(request.url)
                continue
            released.append(request)
        return released

    def release_all(self) -> list[Request]:
        """Whatever is still held (a count missed somewhere), for a spider with nothing left in flight."""
        return [request for slug in list(self._held) for request in self.release(slug)]

    def discovery_done(self, request: Request) -> list[Request]:
        """A discovery request ended without its callback (failed, refused, dropped as a duplicate): the held
        article requests it was the last of its outlet to keep waiting."""
        if not counts_as_listing(request.meta):  # only what sent() counted is uncounted
            return []
        slug = request.meta[Meta.OUTLET]
        self.store.add_listings_in_flight(slug, -1)
        return self.release(slug) if self._listings_read(slug) else []

    def release_read(self) -> list[Request]:
        """The held article requests of the outlets whose listings are all read now, wherever they were read: in
        a cluster the last of them is often read by another worker, which only the shared count tells (polled by
        the spider)."""
        if not self._held:
            return []
        counts = self.store.listings_in_flight(list(self._held))
        return [request for slug, count in counts.items() if count <= 0 for request in self.release(slug)]
