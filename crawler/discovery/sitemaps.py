"""Sitemaps and sitemap indexes, including Google News sitemaps, gzipped and plain-text sitemaps.

Scrapy's own ``scrapy.utils.sitemap.Sitemap`` is not used: it parses in recover mode (malformed XML passes
silently instead of being reported) and flattens each ``<url>`` to its direct children's text, which loses
the nested ``<news:news>`` title and publication date. lxml is used directly, hardened against entity and
network tricks; documents that declare entities at all are refused, since no sitemap needs them.
"""

from __future__ import annotations

import html
import re
import struct
import zlib
from dataclasses import dataclass, replace
from datetime import date
from email.utils import parsedate_to_datetime

from lxml import etree
from scrapy.utils.gz import gunzip

from crawler.discovery.candidates import Candidate, ChildSitemap, DiscoveryError
from crawler.discovery.feeds import parse_feed
from crawler.urls import date_from_url, month_bounds, month_from_url, normalize_url

MAX_SITEMAP_BYTES = 50 * 1024 * 1024
"""The sitemap protocol's limit for one (uncompressed) sitemap file."""

_GZIP_MAGIC = b"\x1f\x8b"
_FEED_ROOTS = frozenset({"rss", "feed", "rdf"})
_ISO_DATE_RE = re.compile(r"^\s*(\d{4})[-/](\d{1,2})[-/](\d{1,2})(?!\d)")
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class SitemapResult:
    """A sitemap index yields children, a urlset yields entries; one of the two lists is empty."""

    children: list[ChildSitemap]
    entries: list[Candidate]


def _decompressed(body: bytes, url: str) -> bytes:
    """The sitemap bytes, gunzipped when they start with the gzip magic (servers mislabel .gz files both ways)."""
    if not body.startswith(_GZIP_MAGIC):
        if len(body) > MAX_SITEMAP_BYTES:
            raise DiscoveryError(f"{url}: sitemap larger than {MAX_SITEMAP_BYTES} bytes")
        return body
    try:
        return gunzip(body, max_size=MAX_SITEMAP_BYTES)
    except ValueError:
        raise DiscoveryError(f"{url}: gzipped sitemap expands beyond {MAX_SITEMAP_BYTES} bytes") from None
    except (OSError, EOFError, struct.error, zlib.error) as exc:
        raise DiscoveryError(f"{url}: corrupt gzip data ({exc})") from None


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
    return etree.QName(element).localname.lower() if isinstance(element.tag, str) else ""


def _child(element: etree._Element, name: str) -> etree._Element | None:
    return next((c for c in element if _local(c) == name), None)


def _child_text(element: etree._Element | None, name: str) -> str | None:
    child = _child(element, name) if element is not None else None
    text = (child.text or "").strip() if child is not None else ""
    return text or None


def _xml_root(data: bytes, url: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False,
                             dtd_validation=False, remove_comments=True, remove_pis=True)
    try:
        root = etree.fromstring(data, parser)
    except etree.XMLSyntaxError as exc:
        raise DiscoveryError(f"{url}: malformed sitemap XML ({exc})") from None
    dtd = root.getroottree().docinfo.internalDTD
    if dtd is not None and any(True for _ in dtd.iterentities()):
        raise DiscoveryError(f"{url}: sitemap declares XML entities (refused: entity expansion or file access)")
    return root


def _children(root: etree._Element, url: str) -> list[ChildSitemap]:
    children: dict[str, ChildSitemap] = {}
    for element in root:
        if _local(element) != "sitemap":
            continue
        loc = normalize_url(_child_text(element, "loc") or "", base=url)
        if loc is not None and loc not in children:
            children[loc] = ChildSitemap(loc, _parse_date(_child_text(element, "lastmod")))
    return list(children.values())


def _title(text: str | None) -> str | None:
    """Whitespace collapsed and entities decoded: news titles are often escaped twice inside CDATA."""
    title = " ".join(html.unescape(text or "").split())
    return title or None


def _entry(element: etree._Element, url: str) -> Candidate | None:
    loc = normalize_url(_child_text(element, "loc") or "", base=url)
    if loc is None:
        return None
    news = _child(element, "news")
    published = _parse_date(_child_text(news, "publication_date")) or date_from_url(loc)
    return Candidate(loc, via="sitemap", title=_title(_child_text(news, "title")), published=published,
                     lastmod=_parse_date(_child_text(element, "lastmod")))


def _entries(root: etree._Element, url: str) -> list[Candidate]:
    entries: dict[str, Candidate] = {}
    for element in root:
        entry = _entry(element, url) if _local(element) == "url" else None
        if entry is not None and entry.url not in entries:
            entries[entry.url] = entry
    return list(entries.values())


def _parse_xml(data: bytes, url: str) -> SitemapResult:
    root = _xml_root(data, url)
    kind = _local(root)
    if kind == "sitemapindex":
        return SitemapResult(children=_children(root, url), entries=[])
    if kind == "urlset":
        return SitemapResult(children=[], entries=_entries(root, url))
    if kind in _FEED_ROOTS:  # the sitemap protocol accepts RSS and Atom feeds as sitemaps
        return SitemapResult(children=[], entries=[replace(c, via="sitemap") for c in parse_feed(data, url)])
    raise DiscoveryError(f"{url}: not a sitemap (root element <{kind}>)")


def _parse_text(data: bytes, url: str) -> SitemapResult:
    """A plain-text sitemap: one absolute URL per line."""
    entries: dict[str, Candidate] = {}
    for line in data.decode("utf-8", errors="replace").splitlines():
        loc = normalize_url(line)
        if loc is not None and loc not in entries:
            entries[loc] = Candidate(loc, via="sitemap", published=date_from_url(loc))
    if not entries:
        raise DiscoveryError(f"{url}: neither sitemap XML nor a list of URLs")
    return SitemapResult(children=[], entries=list(entries.values()))


def parse_sitemap(body: bytes, url: str) -> SitemapResult:
    """Child sitemaps or article entries of one sitemap file (XML, gzipped XML or plain text)."""
    data = _decompressed(body, url)
    head = data.removeprefix(b"\xef\xbb\xbf").lstrip()
    if not head:
        raise DiscoveryError(f"{url}: empty sitemap")
    if head.startswith((b"<", b"\xff\xfe", b"\xfe\xff")):
        return _parse_xml(data, url)
    return _parse_text(data, url)


def child_may_hold_window(child: ChildSitemap, since: date | None, until: date | None) -> bool:
    """False only when the child sitemap is known to list nothing from [since, until].

    A sitemap last modified before the window began cannot list articles published in it; a monthly sitemap
    whose month lies wholly outside the window cannot either. Anything unknown might, so it is fetched.
    """
    if since is not None and child.lastmod is not None and child.lastmod < since:
        return False
    month = month_from_url(child.url)
    if month is None:
        return True
    first, last = month_bounds(*month)
    return not ((since is not None and last < since) or (until is not None and first > until))
