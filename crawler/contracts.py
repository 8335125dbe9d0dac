"""The names components agree on without importing each other: ``request.meta`` keys, request kinds, outcomes.

A request's meta is one namespace every middleware, extension and pipeline shares, and an outcome string written
by one component (a pipeline) is read back by others (the store, the settled check, the report). Named once here,
a typo is an import error instead of a silent miss, two components cannot pick the same key by accident, and the
report can list every outcome there is (it derives its columns from :class:`Outcome`).

Scrapy's own meta keys (``redirect_urls``, ``download_maxsize``, ``dont_retry``, ``retry_times``,
``handle_httpstatus_list``, ...) are Scrapy's contract and are used by their documented names.
"""

from __future__ import annotations

from enum import StrEnum


class Meta:
    """``request.meta`` keys of presswarc's own. Plain strings (not an enum): meta is pickled into queues."""

    # Set by the spider on every request it makes, read along the whole way.
    OUTLET = "outlet"  # the outlet's slug: guard budgets, politeness slots, leases, per-outlet stats
    OUTLET_HOSTS = "outlet_hosts"  # the hosts the request and each of its redirect hops must stay on (guard)
    KIND = "kind"  # a Kind: what the response is read as
    # Article requests: what discovery knew about the article before fetching it.
    VIA = "via"  # the discovery path that listed it: sitemap | feed | search | section
    HINT_TITLE = "hint_title"  # the title its listing gave it
    EVIDENCE = "evidence"  # (published, lastmod) ISO dates its listing gave it, or None
    BUDGET = "budget"  # the topic's max_pages_per_outlet (the guard counts article requests against it)
    BUDGET_COUNTED = "budget_counted"  # the guard counted this request already (a retry, a redirect hop)
    # Discovery requests: where a listing request stands in its chain (kept in the frontier's ``extra``).
    SECTION_PAGE = "section_page"  # the page number of a listing followed through its "next" links
    GUESSED_PAGE = "guessed_page"  # that next page's URL was guessed, not linked (a miss is no error)
    SITEMAP_DEPTH = "sitemap_depth"  # how many sitemap indexes lie above this sitemap
    NOT_NOW = "not_now"  # stored in the frontier, not requested in this run (over a discovery budget)
    RECHECK = "recheck"  # a kept article asked for again (crawler.fetch.versions): its TrackedArticle fields
    # Filled in on the way back.
    TRUNCATED = "truncated"  # the WARC-Truncated reason of a cut response (oversize, robots cap, replay)
    WARC = "warc"  # {"file", "record_id", "offset", "date"} of the response record (recorder, replay)
    LEASE = "lease"  # distributed crawls: the queue lease the request holds until its outcome is settled
    REFERS_TO = "refers_to"  # {"uri", "date", "record_id"}: the capture a 304 confirms (its revisit record names it)
    REPLAY_CAPTURE = "replay_capture"  # replay: which of a URL's records to serve ("first" answer with content, or n)
    REPLAY_SERVED = "replay_served"  # replay: (n, how many) of the URL's records the answer was
    VALIDATORS = "validators"  # (ETag, Last-Modified) an article response sent (crawler.fetch.versions)
    # Private to one component each, named here so no other picks the same key.
    WARC_SENT = "_warc_sent"  # when the recorder saw the request leave (the request record's date)
    CLUSTER_SLOT = "_cluster_slot"  # the outlet's cluster slot (slot key, token) a distributed request holds
    ROBOTS_RECEIVED = "_robots_received"  # bytes of a robots.txt received so far (its size cap)
    OVERSIZE_RECEIVED = "_oversize_received"  # bytes received so far (DOWNLOAD_MAXSIZE truncation)
    MINRATE_STARTED = "_minrate_started"  # when the response's headers arrived (MINRATE_BYTES_PER_SEC)
    MINRATE_RECEIVED = "_minrate_received"  # body bytes received so far (MINRATE_BYTES_PER_SEC)
    MINRATE_LENGTH = "_minrate_length"  # the announced body length, when there is one (MINRATE_BYTES_PER_SEC)
    ARCHIVE = "archive"  # web-archive requests: {"source", "outlet", ...} of the CDX query or capture (spiders/archives.py)


class Kind(StrEnum):
    """What a request is for (``Meta.KIND``, a frontier entry's kind, the ``kind`` of a recorded outcome)."""

    HOME = "home"
    FEED = "feed"
    SITEMAP = "sitemap"
    SECTION = "section"
    SEARCH = "search"
    ARTICLE = "article"
    ARCHIVED = "archived"  # rebuild-state: a URL of the WARC index that no manifest line names
    CDX = "cdx"  # a web archive's index query (collinfo.json, a CDX page)
    CAPTURE = "capture"  # a web archive's copy of an article (a raw Wayback capture, a Common Crawl range)


class Source(StrEnum):
    """Where an article's copy came from (the manifest's ``source`` and ``also_in[].source``)."""

    LIVE = "live"  # fetched from the outlet itself
    WAYBACK = "wayback"  # the Internet Archive's Wayback Machine (a raw ``id_`` capture)
    COMMONCRAWL = "commoncrawl"  # a Common Crawl WARC record, read by byte range
    WARC_SCAN = "warc-scan"  # a WARC collection someone else made (scan-warc)


class Outcome(StrEnum):
    """How an article URL ended (``TopicStore.record_outcome``); the report has a column for each not-kept one."""

    KEPT = "kept"  # a text file holds it
    OFF_TOPIC = "off_topic"  # the query does not match its title and text
    OUT_OF_WINDOW = "out_of_window"  # published outside the topic's window
    LISTED_OUT_OF_WINDOW = "listed_out_of_window"  # not fetched: a listing dates it outside (the report counts it
    # as out of the window; never settled, so a widened window fetches it)
    OFF_LANGUAGE = "off_language"  # in none of the topic's languages
    NO_TEXT = "no_text"  # nothing readable came out of the page (an error page, a script, a consent wall)
    NOT_HTML = "not_html"  # a PDF, an image, ...: not read as an article
    DUPLICATE = "duplicate"  # another text file holds the same article (canonical URL, text or near copy)
    ROBOTS_FORBIDDEN = "robots_forbidden"  # not fetched: robots.txt disallows it (asked again on later runs)
    OVER_BUDGET = "over_budget"  # not fetched: the outlet's max_pages_per_outlet was used up (stays pending)
    ERROR = "error"  # not fetched (an HTTP error, a timeout, a cut body); tried again on later runs, up to a cap
    TOO_LARGE = "too_large"  # over DOWNLOAD_MAXSIZE: an error that is not tried again
    ARCHIVED = "archived"  # rebuild-state: fetched by an earlier run, no article of it known


def counts_as_listing(meta: dict) -> bool:
    """Whether a request is one of its outlet's listings in flight (``TopicStore.add_listings_in_flight``): an
    outlet's discovery request; its articles and a web archive's requests are not."""
    return bool(meta.get(Meta.OUTLET)) and meta.get(Meta.KIND) not in (None, Kind.ARTICLE) and Meta.ARCHIVE not in meta


NOT_KEPT = tuple(o for o in Outcome if o not in (Outcome.KEPT, Outcome.TOO_LARGE, Outcome.LISTED_OUT_OF_WINDOW,
                                                  Outcome.ARCHIVED))
"""The reasons an article the crawl found gets no text file, in report order (a page too large counts as an
error, one a listing dated outside as out of the window; ``archived`` is never an article's)."""

ERROR_CAUSES = {
    "dns": "DNS: the name does not resolve", "timeout": "timeout", "connection_refused": "connection refused",
    "connection_lost": "connection lost", "tls": "TLS handshake failed", "not_found": "404 / 410 not found",
    "http_4xx": "other 4xx", "http_5xx": "5xx server error", "truncated": "body cut short",
    "too_large": "over DOWNLOAD_MAXSIZE", "other": "other error",
}
"""Why a fetch failed (``detail["cause"]`` of an ``error`` or ``too_large`` outcome, written by the spider), with
the report's label for it, in the report's order."""
