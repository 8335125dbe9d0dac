"""What the crawl asks of a topic's store, whichever engine keeps it.

A topic's store answers questions ("was this payload archived for this URL?", "what is the next file number?")
so no other module touches tables or keys. There are two engines: ``crawler.store.sqlite`` (one process, the
file ``state.sqlite`` beside the archive) and ``crawler.store.redis`` (several workers, one crawl). Both keep
the same data model and answer every question of :class:`TopicStore` the same way; the contract tests in
``tests/test_store.py`` run on both. Everything a store holds can be rebuilt from the archive itself
(manifest.jsonl and the WARC files), so a store is a cache of facts, never their only copy.
"""

from __future__ import annotations

import dataclasses
import json
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Protocol

from crawler.contracts import Kind, Outcome

SETTLED_KINDS = frozenset({Kind.ARTICLE})
"""Outcomes of these kinds settle a frontier entry (an error keeps it pending: it is retried up to a cap)."""

UNSETTLING_OUTCOMES = frozenset({Outcome.ERROR, Outcome.OVER_BUDGET, Outcome.LISTED_OUT_OF_WINDOW})
"""Outcomes that leave a frontier entry as it is: an error is retried, what a budget held back waits for the next
run, and what a listing dated outside the window is the spider's frontier's to drop."""


@dataclass(frozen=True)
class OutcomeRecord:
    """What became of one fetched (or refused) URL, with the why: ``detail`` holds what the component that decided
    knew (the relevance score and matched terms, the date and where it came from, the language, the original of a
    duplicate, an error's cause and message), so the report can explain each URL, not only count it."""

    url: str
    kind: str
    outlet: str
    outcome: str
    status: int | None = None
    final_url: str | None = None
    fetched_at: str | None = None
    attempts: int = 1
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class FrontierEntry:
    """A URL that discovery found and the crawl still owes a fetch: an article candidate, or a discovery page
    (child sitemap, next listing page, autodiscovered feed) whose own candidates are not yet known.

    Stored before the validators of the page that listed it, so a crash between a listing and its articles
    costs nothing: the next run schedules every pending entry again, even when that listing then answers 304.
    """

    url: str
    outlet: str
    kind: str  # a crawler.contracts.Kind: article, or the discovery kind (sitemap | feed | section | search | home)
    via: str | None = None
    title: str | None = None
    published: str | None = None  # ISO date: the date evidence discovery had
    lastmod: str | None = None
    priority: int = 0
    found_on: str | None = None  # the page that listed it
    extra: str | None = None  # JSON of the request's own meta (listing page number, ...)

    def row(self) -> tuple:
        return (self.url, self.outlet, self.kind, self.via, self.title, self.published, self.lastmod,
                self.priority, self.found_on, self.extra)


@dataclass(frozen=True)
class PayloadRef:
    """An archived response that a later identical payload can refer to with a revisit record."""

    url: str
    digest: str
    record_id: str
    warc_date: str
    warc_file: str


@dataclass(frozen=True)
class TrackedArticle:
    """A kept article whose later versions the crawl looks for (``crawler.fetch.versions``): what its newest
    version is, the newest full capture a 304 confirms, and whether the page is gone. ``checks`` (the re-checks
    taken so far) is kept apart and only moved by :meth:`TopicStore.claim_check`, so two workers never take one."""

    url: str  # the URL its outcome is recorded under
    request_url: str  # what a re-check asks for (the page's final URL)
    canonical_url: str
    outlet: str
    file: str  # the newest version's text file
    version: int  # 1: the first file
    first_captured: str  # ISO 8601 UTC of the first capture: the schedule counts from it
    title: str | None = None
    text_sha256: str = ""
    record_id: str | None = None  # the newest full capture (a 304's revisit record refers to it)
    warc_date: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    removed: str | None = None  # why the page is gone ("404", "410", "redirected home"), None while it is there
    removed_at: str | None = None
    checks: int = 0


def tracked_data(article: TrackedArticle) -> str:
    """A tracked article as both engines keep it: JSON of its fields but ``checks`` (kept apart)."""
    fields = dataclasses.asdict(article)
    fields.pop("checks")
    return json.dumps(fields, sort_keys=True)


def tracked_from(data: str | bytes, checks: int | str | bytes | None) -> TrackedArticle:
    return TrackedArticle(**json.loads(data), checks=int(checks or 0))


class TopicStore(Protocol):
    """The topic's store as the crawl, the pipelines, ``rebuild-state`` and the report use it.

    Each method says what it promises; both engines keep every promise, except where a method says how the
    shared (Redis) store differs and why.
    """

    def close(self) -> None:
        """Release the connection; the store is not used afterwards."""

    # -- archived payloads (revisit records) --
    def find_payload(self, url: str, digest: str) -> PayloadRef | None:
        """The first archived response of ``url`` whose payload had ``digest``, if any."""

    def add_payload(self, ref: PayloadRef) -> None:
        """Remember an archived response; the first one of a (URL, digest) stays (later ones are revisits)."""

    # -- fetched URLs and their outcomes --
    def record_outcome(self, url: str, *, kind: str, outlet: str, outcome: str, final_url: str | None = None,
                       status: int | None = None, warc_file: str | None = None, record_id: str | None = None,
                       fetched_at: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        """Remember what became of a fetched URL (kept, off_topic, out_of_window, off_language, duplicate,
        error, ...), replacing what an earlier fetch left (``detail`` too: the why, JSON-serialisable); each call
        adds one attempt. An outcome not in :data:`UNSETTLING_OUTCOMES` of a kind in :data:`SETTLED_KINDS` also
        takes the URL off the frontier."""

    def outcome_of(self, url: str) -> tuple[str, int, int | None, str | None] | None:
        """(outcome, attempts, status, fetched_at) of a URL an earlier :meth:`record_outcome` recorded. SQLite
        keeps validators in the same row, so it also answers ("seen", 0, None, None) for a discovery page it
        only has validators of; Redis keeps them apart and answers None."""

    def outcome_counts(self) -> dict[str, dict[str, int]]:
        """How many article URLs (kind ``article``) ended in each outcome, per outlet: {outlet: {outcome: n}}.
        An outcome recorded without an outlet counts under the outlet ``""``."""

    def outcome_records(self, kind: str = Kind.ARTICLE) -> list[OutcomeRecord]:
        """Every recorded outcome of URLs of ``kind``, with its detail, sorted by outlet and URL (the report's
        list of what was not kept, and why)."""

    def kept_urls(self) -> list[str]:
        """The fetched URLs whose outcome is ``kept``."""

    def forget_outcome(self, url: str) -> None:
        """Forget what became of a URL (its attempts too), so the next run fetches it again."""

    def validators(self, url: str, scope: str | None = None) -> tuple[str | None, str | None]:
        """(ETag, Last-Modified) an earlier run saw for a discovery page; (None, None) when none, or when they were
        saved under another ``scope`` (what the page was read for: a listing read for another window may have
        been left partly unfollowed, so its 304 would hide what this window needs)."""

    def save_validators(self, url: str, etag: str | None, last_modified: str | None, scope: str | None = None) -> None:
        """Replace the validators of a discovery page (with the scope they were read under)."""

    # -- the frontier: what discovery found and no run has settled yet --
    def settle_discovery(self, page_url: str | None, entries: Iterable[FrontierEntry], etag: str | None = None,
                         last_modified: str | None = None, scope: str | None = None) -> None:
        """All at once, or not at all: add what a discovery page listed to the frontier (an entry already there
        keeps its place and its fields, takes the title, published and lastmod it lacked and the higher
        priority), then save the page's validators (when it sent any), then take the page
        itself off the frontier (unless it is an article). Nothing of the page counts as seen before all it
        listed is durable."""

    def pending(self) -> list[FrontierEntry]:
        """Every frontier entry, discovery pages first, each group in the order it was found."""

    def drop_pending(self, url: str) -> None:
        """Forget a frontier entry the crawl will never fetch (dated outside the window, page gone)."""

    def add_listings_in_flight(self, outlet: str, delta: int) -> None:
        """Count an outlet's discovery requests sent (``delta`` > 0) and those read, failed or dropped (< 0). The
        shared store counts for the whole cluster, since a listing one worker queued is often read by another;
        the SQLite one counts in memory (a local crawl is one process, and a new run starts with none sent)."""

    def listings_in_flight(self, outlets: Iterable[str]) -> dict[str, int]:
        """How many discovery requests of each outlet are sent and not yet read (0 for an outlet never counted)."""

    # -- redirects: a URL that redirected is settled; later runs go to its target --
    def save_redirect(self, url: str, target: str, status: int) -> None:
        """Remember that ``url`` redirected to ``target`` (a later redirect of ``url`` replaces it)."""

    def redirect_of(self, url: str) -> str | None:
        """Where ``url`` redirected to, if it did."""

    def redirect_sources(self, target: str) -> list[str]:
        """The URLs that redirected straight to ``target``, sorted."""

    # -- counters (text file sequence) --
    def next_value(self, name: str) -> int:
        """Atomically take the next number of a counter, starting at 0: no two callers get the same one."""

    def set_counter(self, name: str, value: int) -> None:
        """Set a counter outright, when this process alone writes the topic (it holds the lock). The shared
        store only ever raises it: other workers may hold numbers below ``value``."""

    def ensure_counter_at_least(self, name: str, value: int) -> None:
        """Raise a counter to ``value``; never lowers it (used when numbering continues after files on disk)."""

    def take_value(self, name: str) -> int:
        """:meth:`next_value` inside a :meth:`transaction`: the SQLite store gives the number back if the block
        fails; the shared store does not (its counter is shared, so a failed write leaves a gap)."""

    # -- text files --
    def file_for_url(self, canonical_url: str) -> str | None:
        """The text file claimed for an article's canonical URL, if any."""

    def file_for_text(self, outlet: str, text_sha256: str) -> str | None:
        """A claimed text file of ``outlet`` with exactly this text (its SHA-256), if any; a forgotten claim
        no longer answers."""

    def add_file(self, canonical_url: str, file: str, text_sha256: str, outlet: str) -> bool:
        """Claim ``file`` for an article; False when the canonical URL already has one (the claim is atomic, so
        two writers can never give one article two files)."""

    def forget_file(self, canonical_url: str, file: str) -> None:
        """Undo a claim whose file could not be written (only when ``file`` is the URL's claim)."""

    def claimed_files(self) -> list[tuple[str, str]]:
        """(canonical URL, file) of every claim."""

    # -- near-duplicate signatures (MinHash of files that are not duplicates themselves) --
    def signatures(self, skip: int = 0) -> list[tuple[str, str, bytes]]:
        """(file, outlet, hash values) in the order they were added, without the first ``skip`` (already
        loaded), so a long crawl reads each signature once."""

    def add_signature(self, file: str, outlet: str, hashvalues: bytes) -> None:
        """Remember a file's signature."""

    # -- site memory (outlet boilerplate paragraphs) --
    def site_memory(self) -> dict[str, list[str]]:
        """The boilerplate keys learned per outlet, outlets and keys sorted."""

    def save_site_memory(self, learned: dict[str, list[str]]) -> None:
        """Add learned keys (keys already known stay; nothing is removed)."""

    # -- versions of kept articles (crawler.fetch.versions, pipelines.versions) --
    def track(self, article: TrackedArticle) -> None:
        """Remember (or replace) what is known of a kept article's versions; its ``checks`` are left as stored
        (a new article starts at ``article.checks``)."""

    def tracked(self, url: str) -> TrackedArticle | None:
        """The tracked article recorded under ``url``, with its checks."""

    def tracked_articles(self) -> list[TrackedArticle]:
        """Every tracked article, sorted by URL."""

    def claim_check(self, url: str, seen: int, checks: int) -> bool:
        """Move a tracked article's checks from ``seen`` to ``checks``, atomically: False when they are no longer
        ``seen`` (another worker took this check)."""

    # -- one article's writes as one unit (pipelines.textfiles) --
    def transaction(self) -> AbstractContextManager[None]:
        """SQLite: everything the block writes becomes durable together when it ends, or not at all (an
        exception, or a process killed inside the block, leaves the store as it was, the counter included).
        Redis: no transaction spans Redis and the files, so the block is not one; each write inside it is
        durable at once, and the text-files pipeline undoes a failed article's claim itself."""
