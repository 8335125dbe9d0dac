"""Sitemaps and sitemap indexes, including Google News sitemaps, gzipped and plain-text sitemaps.

Scrapy's own ``scrapy.utils.sitemap.Sitemap`` is not used: it parses in recover mode (malformed XML passes
silently instead of being reported) and flattens each ``<url>`` to its direct children's text, which loses
the nested ``<news:news>`` title and publication date. lxml is used directly, hardened against entity and
network tricks; documents that declare entities at all are refused, since no sitemap needs them.

Sitemaps are parsed streaming (``iterparse``, each ``<url>`` cleared once read), with the topic's window applied
as they stream and a cap on the URLs read, so a 200 000-URL sitemap costs neither minutes nor a tree in memory.
"""

from __future__ import annotations

import gzip
import html
import io
import re
import struct
import zlib
from collections.abc import Collection
from dataclasses import dataclass, field, replace
from datetime import date
from email.utils import parsedate_to_datetime

from lxml import etree
from scrapy.utils.gz import gunzip

from crawler.discovery.candidates import Candidate, ChildSitemap, DiscoveryError
from crawler.discovery.feeds import parse_feed
from crawler.urls.dates import date_from_url, month_bounds, month_from_url
from crawler.urls.hosts import in_scope
from crawler.urls.normal import normalize_url

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
"""The sitemap protocol's limit for one (uncompressed) sitemap file."""

_GZIP_MAGIC = b"\x1f\x8b"
_FEED_ROOTS = frozenset({"rss", "feed", "rdf"})
_ISO_DATE_RE = re.compile(r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?!\d)")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class SitemapResult:
    """A sitemap index yields children, a urlset yields entries; one of the two lists is empty.

    ``skipped_urls`` counts entries dated outside the window (not returned), ``cut_urls`` entries past the cap;
    ``skipped`` names the first :data:`SKIPPED_NAMED` of the skipped ones (their raw ``<loc>`` and dates), so the
    report can say which articles a sitemap dated outside the window."""

    children: list[ChildSitemap]
    entries: list[Candidate]
    skipped_urls: int = 0
    cut_urls: int = 0
    skipped: list[Candidate] = field(default_factory=list)


class _Capped(io.RawIOBase):
    """A readable stream that fails past ``limit`` bytes: a gzip bomb stops at the sitemap protocol's size."""

    def __init__(self, stream, limit: int, url: str) -> None:
        self.stream, self.left, self.url = stream, limit, url

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self.stream.read(min(len(buffer), 1 << 16))
        except (OSError, EOFError, struct.error, zlib.error) as exc:
            raise DiscoveryError(f"{self.url}: corrupt gzip data ({exc})") from None
        self.left -= len(data)
        if self.left < 0:
            raise DiscoveryError(f"{self.url}: sitemap expands beyond {MAX_SITEMAP_BYTES} bytes")
        buffer[:len(data)] = data
        return len(data)


def _stream(body: bytes, url: str):
    """The sitemap's bytes as a stream, gunzipped on the fly when they start with the gzip magic (servers
    mislabel .gz files both ways), never more than MAX_SITEMAP_BYTES."""
    if not body.startswith(_GZIP_MAGIC):
        if len(body) > MAX_SITEMAP_BYTES:
            raise DiscoveryError(f"{url}: sitemap larger than {MAX_SITEMAP_BYTES} bytes")
        return io.BytesIO(body)
    return io.BufferedReader(_Capped(gzip.GzipFile(fileobj=io.BytesIO(body)), MAX_SITEMAP_BYTES, url), 1 << 16)


def _parse_date(text: str | None) -> date | None:
    """A W3C datetime's calendar date as written (the publisher's local day), or an RFC 822 date's."""
    if not text or not text.strip():
        return None
    match = _ISO_DATE_RE.match(text)
    try:
        if match:
            found = date(*map(int, match.groups()))
        else:
            found = parsedate_to_datetime(text.strip()).date()
    except (ValueError, TypeError, IndexError, OverflowError):
        return None
    return found if found != _EPOCH and 1900 <= found.year <= 2100 else None


def _local(element: etree._Element) -> str:
    """The element's name without its namespace (string work: ``etree.QName`` costs more per call)."""
    tag = element.tag
    return tag.rpartition("}")[2].lower() if isinstance(tag, str) else ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if _local(c) == name), None)


def _child_text(element: etree._Element | None, name: str) -> str | None:
    child = _child(element, name) if element is not None else None
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _title(text: str | None) -> str | None:
    """Whitespace collapsed and entities decoded: news titles are often escaped twice inside CDATA."""
    title = " ".join(html.unescape(text or "").split())
    return title or None


def _entry(element: etree._Element, url: str, keep=None, refused: list[Candidate] | None = None) -> Candidate | None:
    """The candidate of one ``<url>``; None when it has no usable ``<loc>`` or ``keep`` refuses it (then added to
    ``refused`` while it has room). The window is checked on the raw ``<loc>`` first: normalizing a URL costs more
    than all the rest of its entry."""
    raw = (_child_text(element, "loc") or "").strip()
    if not raw:
        return None
    news = _child(element, "news")
    published = _parse_date(_child_text(news, "publication_date")) or date_from_url(raw)
    lastmod = _parse_date(_child_text(element, "lastmod"))
    if keep is not None and not keep(candidate := Candidate(raw, via="sitemap", published=published, lastmod=lastmod)):
        if refused is not None and len(refused) < SKIPPED_NAMED:
            refused.append(candidate)
        return _REFUSED
    loc = normalize_url(raw, base=url)
    if loc is None:
        return None
    return Candidate(loc, via="sitemap", title=_title(_child_text(news, "title")), published=published,
                     lastmod=lastmod)


_REFUSED = Candidate("", via="sitemap")  # an entry the window refused, counted and dropped
SKIPPED_NAMED = 1000  # entries dated outside the window a result names (the rest are only counted)


def _parse_xml(stream, url: str, keep, max_urls: int | None) -> SitemapResult:
    """Stream a sitemap index, a urlset or a feed; the root element decides which."""
    head = stream.peek(4096)[:4096] if hasattr(stream, "peek") else b""
    context = etree.iterparse(stream, events=("start", "end"), resolve_entities=False, no_network=True,
                              load_dtd=False, huge_tree=False, remove_comments=True, remove_pis=True)
    children: dict[str, ChildSitemap] = {}
    entries: dict[str, Candidate] = {}
    refused: list[Candidate] = []
    skipped = cut = 0
    kind = None
    try:
        for event, element in context:
            if kind is None:  # the root's start event: decide what the document is, refuse entities
                kind = _local(element)
                dtd = element.getroottree().docinfo.internalDTD
                if dtd is not None and any(True for _ in dtd.iterentities()):
                    raise DiscoveryError(f"{url}: sitemap declares XML entities (refused: entity expansion or "
                                         "file access)")
                if kind in _FEED_ROOTS:  # the sitemap protocol accepts RSS and Atom feeds as sitemaps
                    return _feed_sitemap(stream, head, url)
                if kind not in ("sitemapindex", "urlset"):
                    for _ in context:  # read to the end: a malformed document is reported as such
                        pass
                    raise DiscoveryError(f"{url}: not a sitemap (root element <{kind}>)")
                continue
            if event != "end" or element.getparent() is None or element.getparent().getparent() is not None:
                continue  # only the root's direct children, once read whole
            name = _local(element)
            if kind == "sitemapindex" and name == "sitemap":
                loc = normalize_url(_child_text(element, "loc") or "", base=url)
                if loc is not None and loc not in children:
                    children[loc] = ChildSitemap(loc, _parse_date(_child_text(element, "lastmod")))
            elif kind == "urlset" and name == "url":
                if max_urls is not None and len(entries) >= max_urls:
                    cut += 1
                else:
                    entry = _entry(element, url, keep, refused)
                    if entry is _REFUSED:
                        skipped += 1
                    elif entry is not None and entry.url not in entries:
                        entries[entry.url] = entry
            element.clear(keep_tail=False)
            parent = element.getparent()
            while parent is not None and element.getprevious() is not None:
                del parent[0]
    except etree.XMLSyntaxError as exc:
        if "Resource limit exceeded" in str(exc):  # libxml2's own bounds (a 10 MB text node, deep nesting)
            raise DiscoveryError(f"{url}: sitemap goes beyond the XML parser's size limits ({exc})") from None
        raise DiscoveryError(f"{url}: malformed sitemap XML ({exc})") from None
    if kind is None:
        raise DiscoveryError(f"{url}: malformed sitemap XML (no root element)")
    return SitemapResult(children=list(children.values()), entries=list(entries.values()), skipped_urls=skipped,
                         cut_urls=cut, skipped=refused)


def _feed_sitemap(stream, head: bytes, url: str) -> SitemapResult:
    """A feed read as a sitemap: feeds are small, so the feed parser gets the whole document."""
    stream.seek(0) if stream.seekable() else None
    data = stream.read() if stream.seekable() else head + stream.read()
    return SitemapResult(children=[], entries=[replace(c, via="sitemap") for c in parse_feed(data, url)])


def _parse_text(data: bytes, url: str, keep=None, max_urls: int | None = None) -> SitemapResult:
    """A plain-text sitemap: one absolute URL per line."""
    entries: dict[str, Candidate] = {}
    refused: list[Candidate] = []
    skipped = cut = 0
    for line in data.decode("utf-8", errors="replace").splitlines():
        loc = normalize_url(line)
        if loc is None or loc in entries:
            continue
        entry = Candidate(loc, via="sitemap", published=date_from_url(loc))
        if max_urls is not None and len(entries) >= max_urls:
            cut += 1
        elif keep is not None and not keep(entry):
            skipped += 1
            if len(refused) < SKIPPED_NAMED:
                refused.append(entry)
        else:
            entries[loc] = entry
    if not entries and not skipped and not cut:
        raise DiscoveryError(f"{url}: neither sitemap XML nor a list of URLs")
    return SitemapResult(children=[], entries=list(entries.values()), skipped_urls=skipped, cut_urls=cut,
                         skipped=refused)


def parse_sitemap(body: bytes, url: str, since: date | None = None, until: date | None = None,
                  max_urls: int | None = None) -> SitemapResult:
    """Child sitemaps or article entries of one sitemap file (XML, gzipped XML or plain text).

    With a window, entries known to lie outside it are counted, not returned; past ``max_urls`` entries the
    rest of the file is counted, not returned."""
    stream = _stream(body, url)
    keep = None
    if since is not None or until is not None:
        def keep(entry: Candidate) -> bool:
            return not entry.outside(since, until)
    first = stream.read(4096)
    head = first.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise DiscoveryError(f"{url}: empty sitemap")
    rest = io.BufferedReader(_Prefixed(first, stream), 1 << 16)
    if head.startswith((b"<", b"\xff\xfe", b"\xfe\xff")):
        return _parse_xml(rest, url, keep, max_urls)
    return _parse_text(rest.read(), url, keep, max_urls)


class _Prefixed(io.RawIOBase):
    """The bytes already read to sniff the format, then the rest of the stream."""

    def __init__(self, prefix: bytes, stream) -> None:
        self.prefix, self.stream = prefix, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self.prefix:
            data, self.prefix = self.prefix[:len(buffer)], self.prefix[len(buffer):]
        else:
            data = self.stream.read(len(buffer))
        buffer[:len(data)] = data
        return len(data)


def child_recency(child: ChildSitemap) -> date:
    """How recent a child sitemap is, by its lastmod or the month its name spells (unknown: oldest)."""
    if child.lastmod is not None:
        return child.lastmod
    month = month_from_url(child.url)
    return month_bounds(*month)[1] if month else date.min


def child_may_hold_window(child: ChildSitemap, since: date | None, until: date | None) -> bool:
    """False only when the child sitemap is known to list nothing from [since, until].

    A sitemap last modified before the window began cannot list articles published in it; a monthly (or daily)
    sitemap whose month (day) lies wholly outside the window cannot either. Anything unknown might, so it is fetched.
    """
    if since is not None and child.lastmod is not None and child.lastmod < since:
        return False
    day = date_from_url(child.url)  # a daily sitemap (sitemap-2021-07-16.xml) lists that day's articles
    if day is not None:
        return not ((since is not None and day < since) or (until is not None and day > until))
    month = month_from_url(child.url)
    if month is None:
        return True
    first, last = month_bounds(*month)
    return not ((since is not None and last < since) or (until is not None and first > until))


def children_to_follow(children: list[ChildSitemap], hosts: Collection[str], since: date | None,
                       until: date | None) -> tuple[list[ChildSitemap], int, int]:
    """The child sitemaps of an index worth reading, newest first (a budget goes to them first), with how many
    were off the outlet's ``hosts`` and how many cannot list anything from the window."""
    wanted, offsite, outside = [], 0, 0
    for child in children:
        if not in_scope(child.url, hosts):
            offsite += 1
        elif child_may_hold_window(child, since, until):
            wanted.append(child)
        else:
            outside += 1
    wanted.sort(key=child_recency, reverse=True)
    return wanted, offsite, outside
