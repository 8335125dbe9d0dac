"""Candidates to article requests: which of the URLs a listing names the coverage spider asks for, and where.

A candidate is followed when its URL is on the outlet, not seen before in this run, not settled by an earlier run
(``crawler.fetch.settled``: then it leaves the frontier; one that redirected is asked for at its remembered
target) and not dated outside the window by any listing. Every discovery path that listed a URL is remembered,
so the article is credited to the most specific one.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterable, Iterator

from scrapy.http import Request, Response

from crawler.contracts import Meta
from crawler.discovery.candidates import Candidate
from crawler.fetch.settled import SettledMiddleware, Verdict
from crawler.spiders.builder import article_request
from crawler.spiders.frontier import Frontier
from crawler.topic import Outlet, Topic
from crawler.urls.hosts import in_scope
from crawler.urls.normal import canonical_url, normalize_url

VIA_PREFERENCE = ("sitemap", "feed", "search", "section")


class Follower:
    """One run's candidates to article requests (see the module docstring)."""

    def __init__(self, topic: Topic, frontier: Frontier, settled: SettledMiddleware | None, stats,
                 callback: Callable, errback: Callable) -> None:
        self.topic = topic
        self.frontier = frontier
        self.settled = settled  # None when SETTLED_ENABLED is off: every URL is fetched as listed
        self.stats = stats
        self.callback, self.errback = callback, errback
        self.seen: set[str] = set()
        self.found_via: dict[str, set[str]] = {}  # every discovery path that listed a URL

    def _stat(self, outlet: Outlet, event: str | None) -> None:
        self.stats.inc_value(f"coverage/{outlet.slug}/{event}")

    def follow(self, outlet: Outlet, candidates: Iterable[Candidate], resumed: int | None = None) -> Iterator[Request]:
        """Article requests for the candidates a page listed (``resumed``: the priority of an entry an earlier run
        left pending in the frontier; one of those dated outside the window leaves it)."""
        for candidate in candidates:
            url = normalize_url(candidate.url)
            if url is None or not in_scope(url, outlet.hosts):
                continue
            url = canonical_url(url)
            self.found_via.setdefault(url, set()).add(candidate.via)
            self.frontier.note_dates(url, candidate)
            if url in self.seen:
                continue
            self.seen.add(url)
            self._stat(outlet, "discovered")
            verdict = self.settled.verdict(url, outlet.hosts) if self.settled else Verdict(url)
            if verdict.url is None:  # settled: no later run needs it either
                self._stat(outlet, verdict.reason)
                self.frontier.settle(url)
                continue
            if verdict.url != url:
                if verdict.url in self.seen:
                    continue
                self.seen.add(verdict.url)
                self._stat(outlet, verdict.reason)
                url = verdict.url
            evidence = self.frontier.outside_by(url, candidate)
            if evidence is not None:
                self._stat(outlet, "skipped_out_of_window")
                self.frontier.record_outside(outlet.slug, [replace(evidence, title=candidate.title)])
                if resumed is not None:
                    self.frontier.settle(url)
                continue
            yield article_request(url, candidate, outlet, self.topic.query, self.topic.max_pages_per_outlet,
                                  self.callback, self.errback, resumed)

    def on_outlet(self, outlet: Outlet, candidates: Iterable[Candidate]) -> Iterator[Candidate]:
        """The candidates on the outlet's hosts, under their canonical URLs (what the store records them as)."""
        for candidate in candidates:
            url = normalize_url(candidate.url)
            if url is not None and in_scope(url, outlet.hosts):
                yield replace(candidate, url=canonical_url(url))

    def best_via(self, response: Response) -> str:
        """The most specific discovery path that listed the article: a home page link counts as a section, and
        the feed or sitemap that also lists it (often read a moment later) gets the credit."""
        url = (response.meta.get("redirect_urls") or [response.request.url if response.request else response.url])[0]
        paths = self.found_via.get(canonical_url(url), set()) | {response.meta.get(Meta.VIA, "section")}
        return next(via for via in VIA_PREFERENCE if via in paths) if paths & set(VIA_PREFERENCE) else sorted(paths)[0]
