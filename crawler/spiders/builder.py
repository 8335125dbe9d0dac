"""The coverage spider's requests, built from an outlet and what discovery knows: a discovery page (conditional
on the validators an earlier run kept), an article (its priority from the query's hint score, its meta from the
candidate), a candidate again from a frontier entry an earlier run left pending.

Plain functions of values: the spider (and its ``Follower``) decide what to request, these say how it looks.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Callable

from scrapy.http import Request

from crawler.contracts import Kind, Meta
from crawler.discovery.candidates import Candidate
from crawler.query import Query, slug_text
from crawler.store import FrontierEntry
from crawler.topic import Outlet

DISCOVERY_PRIORITY = 100
HINT_PRIORITY = {2: 20, 1: 10, 0: 0}
RESUMED_PRIORITY = 30  # added to a candidate left pending by an earlier run: it goes before new ones


def outlet_meta(outlet: Outlet, kind: Kind, **extra: Any) -> dict[str, Any]:
    """The meta every request of an outlet carries (its slug, its hosts for the guard, its kind)."""
    return {Meta.OUTLET: outlet.slug, Meta.KIND: kind, Meta.OUTLET_HOSTS: sorted(outlet.hosts), **extra}


def discovery_request(url: str, callback: Callable, errback: Callable, outlet: Outlet, kind: Kind,
                      validators: tuple[str | None, str | None], priority: int = DISCOVERY_PRIORITY,
                      extra: dict[str, Any] | None = None) -> Request:
    """A feed, sitemap or listing page request, conditional on the (ETag, Last-Modified) an earlier run saw;
    ``extra``: its place in its chain (``Meta.SECTION_PAGE``, ``Meta.SITEMAP_DEPTH``, ...)."""
    etag, last_modified = validators
    headers = {}
    if etag:
        headers["If-None-Match"] = etag
    if last_modified:
        headers["If-Modified-Since"] = last_modified
    return Request(url, callback=callback, errback=errback, priority=priority, headers=headers,
                   meta=outlet_meta(outlet, kind, handle_httpstatus_list=[304], **(extra or {})))


def article_request(url: str, candidate: Candidate, outlet: Outlet, query: Query, budget: int | None,
                    callback: Callable, errback: Callable, resumed: int | None = None) -> Request:
    """The request of an article candidate: the more of the query its title, summary and URL words hint at, the
    sooner it goes; one an earlier run left pending (``resumed``: its priority then) goes before new ones."""
    score = query.hint_score(candidate.title or "", candidate.summary or "", slug_text(url))
    priority = HINT_PRIORITY[score] if resumed is None else max(resumed, HINT_PRIORITY[score]) + RESUMED_PRIORITY
    evidence = (candidate.published or candidate.lastmod) and (
        candidate.published.isoformat() if candidate.published else None,
        candidate.lastmod.isoformat() if candidate.lastmod else None)
    return Request(url, callback=callback, errback=errback, priority=priority,
                   meta=outlet_meta(outlet, Kind.ARTICLE, **{Meta.VIA: candidate.via, Meta.HINT_TITLE: candidate.title,
                                                              Meta.BUDGET: budget, Meta.EVIDENCE: evidence or None}))


def pending_candidate(entry: FrontierEntry) -> Candidate:
    """The candidate an article entry of the frontier was stored from."""
    return Candidate(entry.url, via=entry.via or "section", title=entry.title, published=_day(entry.published),
                     lastmod=_day(entry.lastmod))


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
