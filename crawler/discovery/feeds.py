"""RSS 2.0, Atom and RDF feeds, and the feeds a page announces.

feedparser reads all three formats, tolerates the broken feeds outlets actually serve, and normalizes their
dates. It is always handed a stream: given bytes or a string it first tries them as a file name or a URL.
"""

from __future__ import annotations

import io
import time
from datetime import date

import feedparser
from feedparser.exceptions import ThingsNobodyCaresAboutButMe
from w3lib.html import replace_entities, replace_tags

from crawler.discovery.candidates import Candidate, DiscoveryError
from crawler.discovery.sections import document_base, html_document, rel_tokens
from crawler.urls.dates import date_from_url
from crawler.urls.normal import normalize_url

FEED_TYPES = frozenset({"application/rss+xml", "application/atom+xml", "application/rdf+xml"})


def _plain(html: str | None) -> str | None:
    """Text of an HTML snippet, tags dropped, entities decoded, whitespace collapsed."""
    text = " ".join(replace_entities(replace_tags(html or "", " ")).split())
    return text or None


def _entry_date(entry: feedparser.FeedParserDict, link: str) -> date | None:
    parsed: time.struct_time | None = entry.get("published_parsed") or entry.get("updated_parsed")
    if parsed is not None:
        try:
            return date(parsed.tm_year, parsed.tm_mon, parsed.tm_mday)
        except ValueError:
            pass
    return date_from_url(link)


def _entry_link(entry: feedparser.FeedParserDict, url: str) -> str | None:
    """The entry's link; an RSS guid or Atom id stands in when it is itself an http(s) URL."""
    link = entry.get("link")
    if isinstance(link, str) and link.strip():
        normal = normalize_url(link, base=url)
        if normal is not None:
            return normal
    ident = entry.get("id")
    if isinstance(ident, str) and ident.strip().lower().startswith(("http://", "https://")):
        return normalize_url(ident)
    return None


def _candidate(entry: feedparser.FeedParserDict, url: str) -> Candidate | None:
    link = _entry_link(entry, url)
    if link is None:
        return None
    return Candidate(link, via="feed", title=_plain(entry.get("title")), summary=_plain(entry.get("summary")),
                     published=_entry_date(entry, link))


def _broken(parsed: feedparser.FeedParserDict) -> bool:
    """feedparser's bozo flag, minus its notices that only concern missing HTTP headers or charsets."""
    exception = parsed.get("bozo_exception")
    return bool(parsed.get("bozo")) and not isinstance(exception, ThingsNobodyCaresAboutButMe)


def parse_feed(body: bytes, url: str) -> list[Candidate]:
    """The entries of a feed; a body that holds no feed at all raises DiscoveryError.

    A partly broken feed (feedparser's "bozo") still yields the entries it could read.
    """
    data = body.encode("utf-8") if isinstance(body, str) else body
    parsed = feedparser.parse(io.BytesIO(data), response_headers={"content-location": url})
    if not parsed.entries:
        if _broken(parsed) or not parsed.get("version"):
            reason = parsed.get("bozo_exception") or "no feed elements"
            raise DiscoveryError(f"{url}: not a readable feed ({reason})")
        return []
    found: dict[str, Candidate] = {}
    for entry in parsed.entries:
        candidate = _candidate(entry, url)
        if candidate is not None and candidate.url not in found:
            found[candidate.url] = candidate
    if not found and _broken(parsed):
        raise DiscoveryError(f"{url}: not a readable feed ({parsed.get('bozo_exception')})")
    return list(found.values())


def autodiscover_feeds(html: bytes | str, base_url: str) -> list[str]:
    """Feeds a page announces with ``<link rel="alternate" type="application/rss+xml" ...>``, in page order."""
    doc = html_document(html)
    if doc is None:
        return []
    base = document_base(doc, base_url)
    found: list[str] = []
    for link in doc.iter("link"):
        kind = (link.get("type") or "").split(";")[0].strip().lower()
        if "alternate" not in rel_tokens(link) or kind not in FEED_TYPES:
            continue
        url = normalize_url(link.get("href") or "", base=base)
        if url is not None and url not in found:
            found.append(url)
    return found
