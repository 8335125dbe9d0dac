"""Web archives' CDX indexes, bytes in and captures out: the Internet Archive's dialect and pywb's (which Common
Crawl's index server is a fork of), Common Crawl's ``collinfo.json``, and the URLs of their queries and captures.

Why no ``cdx-toolkit``: it is synchronous (it would block the reactor, or need a thread per query whose exchange
the WARC then never sees), it queries every Common Crawl collection unless told which, waits 3 s between
requests to a host it does not know, and refuses a ``collinfo.json`` of fewer than 60 collections. The crawl
speaks the CDX API directly instead: each query is a Scrapy request, so it goes through the politeness slots,
retries and ``Retry-After`` handling of every other request, the WARC records the exchange, and a replay of
the crawl answers it from the WARC. What stays here is pure: building query URLs and parsing answers, so both
dialects are tested against their real answer shapes without a crawl.

The dialects differ (and both answers are read here whatever was asked for, since a server may ignore a
parameter):

- Internet Archive (``output=json``): one JSON array of arrays, the first row naming the fields (``urlkey``,
  ``timestamp``, ``original``, ``mimetype``, ``statuscode``, ``digest``, ``length``); ``[]`` when empty;
  revisits have status ``-``; ``filter=`` is a full-match regex; ``collapse=urlkey`` works;
  ``showNumPages=true`` answers a bare number.
- pywb / Common Crawl (``output=json``): one JSON object per line (``urlkey``, ``timestamp``, ``url``, ``mime``,
  ``status``, ``digest``, ``length``, ``offset``, ``filename``); an empty body when empty (Common Crawl: a 404
  ``No Captures found``); ``filter`` is a substring, ``~`` a regex anchored at the start; ``collapse`` is
  ignored (so captures are collapsed here); ``showNumPages=true`` answers ``{"pages": N, ...}``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from enum import StrEnum
from urllib.parse import urlencode

from crawler.discovery.candidates import DiscoveryError

__all__ = ["Capture", "CdxPage", "Collection", "Dialect", "capture_datetime", "choose_collections",
           "cdx_query_url", "parse_cdx", "parse_collinfo", "parse_num_pages", "wayback_raw_url", "parse_wayback_url"]

REDIRECT_STATUSES = frozenset({"301", "302", "303", "307", "308"})
MAX_COLLECTIONS = 12  # Common Crawl collections queried for one window at most (a year of monthly crawls)
_TIMESTAMP_RE = re.compile(r"\d{4,14}\Z")
_LISTING_RE = re.compile(r"/(?:feed|feeds|rss|atom)(?:[/.?]|\Z)|/[^/]*sitemap[^/]*\.xml(?:\.gz)?(?:\?|\Z)", re.IGNORECASE)
_WAYBACK_RE = re.compile(r"/(\d{4,14})(?:[a-z]{2}_)?/(https?://.+)\Z", re.IGNORECASE)


class Dialect(StrEnum):
    """Which CDX API answers: the Internet Archive's, or pywb's (Common Crawl's index server)."""

    IA = "ia"
    PYWB = "pywb"


@dataclass(frozen=True)
class Capture:
    """One capture the index lists: the original URL, when, and (Common Crawl) where its record is."""

    url: str
    timestamp: str  # 14 digits, UTC
    status: str
    mime: str
    digest: str = ""
    length: int | None = None
    offset: int | None = None
    filename: str | None = None
    urlkey: str = ""
    redirect: str | None = None  # Common Crawl's index names a redirect's target

    @property
    def is_redirect(self) -> bool:
        return self.status in REDIRECT_STATUSES

    @property
    def is_listing(self) -> bool:
        """A 200 capture of a feed or a sitemap (read for the dates it gives the articles it lists)."""
        return self.status == "200" and bool(_LISTING_RE.search(self.url)) and "html" not in self.mime.lower()

    @property
    def is_page(self) -> bool:
        """A 200 HTML capture (what an article can be), or a redirect to follow to its target's capture."""
        if self.is_redirect:
            return True
        return self.status == "200" and ("html" in self.mime.lower() or self.mime in ("", "unk", "-"))


@dataclass
class CdxPage:
    """What one CDX answer held: the captures, and how many lines of it could not be read."""

    captures: list[Capture]
    malformed: int = 0


@dataclass(frozen=True)
class Collection:
    """A Common Crawl collection (one monthly crawl) from ``collinfo.json``."""

    id: str
    cdx_api: str
    start: date | None
    end: date | None


def capture_datetime(timestamp: str) -> datetime:
    """A CDX timestamp (4 to 14 digits, UTC) as an aware datetime; missing digits are the earliest value."""
    digits = (timestamp + "00000101000000"[len(timestamp):])[:14]
    return datetime.strptime(digits, "%Y%m%d%H%M%S").replace(tzinfo=timezone.utc)


def _day_stamp(day: date) -> str:
    return day.strftime("%Y%m%d")


def cdx_query_url(base: str, host: str, dialect: Dialect, since: date | None, until: date | None,
                  page: int | None = None, num_pages: bool = False, exact: bool = False) -> str:
    """The query for a host's captures in [since, until] (whole days, UTC): status 200 or a redirect, one
    capture per URL key, in the dialect's own filter syntax; ``exact``: one URL's captures (a redirect target)."""
    params: list[tuple[str, str]] = [("url", host), ("matchType", "exact" if exact else "domain"),
                                     ("output", "json")]
    if since:
        params.append(("from", _day_stamp(since)))
    if until:
        params.append(("to", _day_stamp(until) + "235959"))
    if dialect == Dialect.IA:
        params += [("filter", "statuscode:(200|301|302|303|307|308)"), ("collapse", "urlkey"),
                   ("fl", "urlkey,timestamp,original,mimetype,statuscode,digest,length")]
    else:
        params += [("filter", "~status:(200|301|302|303|307|308)$")]
    if num_pages:
        params.append(("showNumPages", "true"))
    elif page is not None:
        params.append(("page", str(page)))
    return f"{base}{'&' if '?' in base else '?'}{urlencode(params)}"


def parse_num_pages(body: bytes) -> int:
    """The page count of a ``showNumPages=true`` answer (IA: a bare number; pywb: ``{"pages": N}``); 1 when the
    server answered something else (one that does not page answers the captures themselves)."""
    text = body.strip().decode("utf-8", "replace")
    try:
        value = json.loads(text.splitlines()[0]) if text else 1
    except ValueError:
        return 1
    if isinstance(value, dict):
        value = value.get("pages", 1)
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 1


def _capture(fields: dict, ia: bool) -> Capture | None:
    url = fields.get("original" if ia else "url") or fields.get("url") or fields.get("original")
    timestamp = str(fields.get("timestamp") or "")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")) or not _TIMESTAMP_RE.match(timestamp):
        return None
    def number(key: str) -> int | None:
        value = fields.get(key)
        try:
            return int(value) if value not in (None, "", "-") else None
        except (TypeError, ValueError):
            return None
    return Capture(url=url, timestamp=timestamp.ljust(14, "0"),
                   status=str(fields.get("statuscode" if ia else "status") or fields.get("status") or "-"),
                   mime=str(fields.get("mimetype" if ia else "mime") or fields.get("mime") or ""),
                   digest=str(fields.get("digest") or ""), length=number("length"), offset=number("offset"),
                   filename=fields.get("filename") if isinstance(fields.get("filename"), str) else None,
                   urlkey=str(fields.get("urlkey") or ""),
                   redirect=fields.get("redirect") if isinstance(fields.get("redirect"), str) else None)


def parse_cdx(body: bytes, url: str = "<cdx>") -> CdxPage:
    """The captures of a CDX answer in either dialect (told apart by its shape); an unreadable line is counted
    and skipped, a body that is neither shape is a ``DiscoveryError``."""
    text = body.decode("utf-8", "replace").strip()
    if not text or text.lower().startswith("no captures found"):
        return CdxPage([])
    if text.startswith("["):
        try:
            rows = json.loads(text)
        except ValueError:
            rows = None
        if rows is not None:
            return _parse_ia(rows, url)
    captures, malformed = [], 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        try:
            fields = json.loads(line)
        except ValueError:
            fields = None
        capture = _capture(fields, ia=False) if isinstance(fields, dict) else None
        if capture is None:
            malformed += 1
        else:
            captures.append(capture)
    if malformed and not captures:
        raise DiscoveryError(f"{url}: not a CDX answer (no line of it is a capture)")
    return CdxPage(captures, malformed)


def _parse_ia(rows: object, url: str) -> CdxPage:
    if not isinstance(rows, list):
        raise DiscoveryError(f"{url}: not a CDX answer (expected an array of rows)")
    if not rows:
        return CdxPage([])
    header = rows[0]
    if not isinstance(header, list) or not all(isinstance(name, str) for name in header):
        raise DiscoveryError(f"{url}: a CDX answer without its header row")
    captures, malformed = [], 0
    for row in rows[1:]:
        capture = _capture(dict(zip(header, row)), ia=True) if isinstance(row, list) and len(row) == len(
            header) else None
        if capture is None:
            malformed += 1
        else:
            captures.append(capture)
    return CdxPage(captures, malformed)


def collapse(captures: list[Capture]) -> list[Capture]:
    """One capture per URL key (``http``/``https`` and ``www.`` twins share one), the earliest of the answer:
    the closest after publication; a 200 wins over a redirect of the same key."""
    first: dict[str, Capture] = {}
    for capture in sorted(captures, key=lambda c: c.timestamp):
        key = capture.urlkey or _urlkey(capture.url)
        kept = first.get(key)
        if kept is None or (kept.is_redirect and not capture.is_redirect):
            first[key] = capture
    return list(first.values())


def _urlkey(url: str) -> str:
    rest = url.split("://", 1)[-1].lower()
    host, _, path = rest.partition("/")
    return f"{host.removeprefix('www.')}/{path}"


def parse_collinfo(body: bytes, url: str = "collinfo.json") -> list[Collection]:
    """Common Crawl's collections with their crawl periods (``from``/``to``, ISO dates); entries without a CDX
    API are skipped."""
    try:
        entries = json.loads(body)
    except ValueError:
        raise DiscoveryError(f"{url}: not JSON") from None
    if not isinstance(entries, list):
        raise DiscoveryError(f"{url}: expected a list of collections")
    collections = []
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("cdx-api"), str):
            continue
        collections.append(Collection(str(entry.get("id") or entry["cdx-api"]), entry["cdx-api"],
                                      _iso_day(entry.get("from")), _iso_day(entry.get("to"))))
    return collections


def _iso_day(value: object) -> date | None:
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def choose_collections(collections: list[Collection], since: date | None, until: date | None,
                       after_days: int) -> list[Collection]:
    """The collections whose crawl period overlaps the window or follows it by up to ``after_days`` (a story is
    often first crawled by the next monthly crawl), newest first, at most ``MAX_COLLECTIONS``; never all of them:
    a window open at both ends takes the newest collection only."""
    if since is None and until is None:
        dated = [c for c in collections if c.end or c.start]
        return sorted(dated, key=lambda c: c.end or c.start, reverse=True)[:1]
    last = until + timedelta(days=after_days) if until else None
    chosen = [c for c in collections
              if (c.start or c.end) and (last is None or (c.start or c.end) <= last)
              and (since is None or (c.end or c.start) >= since)]
    return sorted(chosen, key=lambda c: c.start or c.end, reverse=True)[:MAX_COLLECTIONS]


def wayback_raw_url(prefix: str, timestamp: str, url: str) -> str:
    """The raw (``id_``: no rewriting) capture URL of the Wayback Machine (or pywb)."""
    return f"{prefix}{timestamp}id_/{url}"


def parse_wayback_url(url: str) -> tuple[str, str] | None:
    """(timestamp, original URL) of a Wayback capture URL (``…/20210716120000id_/https://…``), or None."""
    found = _WAYBACK_RE.search(url)
    return (found.group(1), found.group(2)) if found else None
