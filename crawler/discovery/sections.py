"""Listing pages (home, sections, archives, search results): article links and the next listing page.

Link harvesting is small enough to do with lxml.html directly: courlan's ``extract_links`` works on raw
strings with regexes, gives no link text and cannot honour ``<base href>``. lxml.html is tolerant of broken
markup, which listing pages routinely are.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from urllib.parse import parse_qsl, urljoin, urlsplit

import lxml.html
from lxml import etree
from w3lib.encoding import html_to_unicode
from w3lib.url import add_or_replace_parameter

from crawler.discovery.candidates import Candidate
from crawler.urls.dates import date_from_url
from crawler.urls.hosts import in_scope
from crawler.urls.normal import canonical_url, normalize_url
from crawler.urls.shapes import looks_like_article


@dataclass(frozen=True)
class SectionPage:
    """The article links of one listing page and the URL of the page after it, if any."""

    candidates: list[Candidate]
    next_page: str | None
    next_guessed: bool = False  # the next page was not declared but inferred from the URL (?page=N -> N+1)


def html_document(html: bytes | str) -> lxml.html.HtmlElement | None:
    """The parsed document, or None for an empty or unparsable body.

    Bytes are decoded with w3lib (BOM, then ``<meta charset>``, else UTF-8) so that a page without a declared
    charset is not read as Latin-1, which is what libxml2 would assume.
    """
    text = html_to_unicode(None, html)[1] if isinstance(html, bytes) else html
    if not isinstance(text, str) or not text.strip():
        return None
    parser = lxml.html.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, no_network=True)
    try:
        return lxml.html.document_fromstring(text.encode("utf-8", errors="replace"), parser=parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def document_base(doc: lxml.html.HtmlElement, page_url: str) -> str:
    """The URL relative links resolve against: ``<base href>`` when it is a usable http(s) URL."""
    for base in doc.iter("base"):
        href = base.get("href")
        if href and normalize_url(href, base=page_url) is not None:
            return urljoin(page_url, href.strip())
    return page_url


def rel_tokens(element: lxml.html.HtmlElement) -> set[str]:
    """The lowercased tokens of ``rel`` (it is a space-separated list: ``rel="alternate nofollow"``)."""
    return set((element.get("rel") or "").lower().split())


def _collapse(text: str | None) -> str:
    return " ".join((text or "").split())


def _link_title(anchor: lxml.html.HtmlElement) -> str | None:
    """The link text; for image-only links, the title, aria-label or image alt text."""
    text = _collapse(anchor.text_content())
    if not text:
        images = [_collapse(img.get("alt")) for img in anchor.iter("img")]
        text = next((t for t in [_collapse(anchor.get("title")), _collapse(anchor.get("aria-label")), *images]
                     if t), "")
    return text or None


def _article_links(doc: lxml.html.HtmlElement, base: str, page_key: str, hosts: Collection[str],
                   via: str) -> list[Candidate]:
    titles: dict[str, str | None] = {}
    for anchor in doc.iter("a"):
        url = normalize_url(anchor.get("href") or "", base=base)
        if url is None or not in_scope(url, hosts) or not looks_like_article(url):
            continue
        if canonical_url(url) == page_key:
            continue
        if titles.get(url) is None:
            titles[url] = _link_title(anchor)
    return [Candidate(url, via=via, title=title, published=date_from_url(url)) for url, title in titles.items()]


_NEXT_WORDS = frozenset({
    "next", "next page", "next posts", "older", "older posts", "older entries", "older articles",
    "older stories", "older news", "more", "more stories", "more articles", "load more", "show more",
    "see more", "view more", "suivant", "page suivante", "weiter", "nächste seite", "siguiente", "successivo",
    "далее", "дальше", "следующая", "следующая страница", "ещё", "еще", "показать ещё", "показать еще",
})
_NEXT_ARROWS = "»›→⟩>"
_NEXT_CLASS_RE = re.compile(r"(?<![a-z])(?:next|older)(?![a-z])")


def _says_next(label: str | None) -> bool:
    text = _collapse(label).lower()
    if not text:
        return False
    if all(c in _NEXT_ARROWS or c.isspace() for c in text):
        return True
    return text.strip(_NEXT_ARROWS + " .…:") in _NEXT_WORDS


def _is_next_anchor(anchor: lxml.html.HtmlElement) -> bool:
    if "next" in rel_tokens(anchor):
        return True
    labels = (anchor.text_content(), anchor.get("aria-label"), anchor.get("title"))
    return any(_says_next(label) for label in labels) or bool(
        _NEXT_CLASS_RE.search((anchor.get("class") or "").lower()))


def _usable_next(href: str | None, base: str, page_url: str, hosts: Collection[str]) -> str | None:
    url = normalize_url(href or "", base=base)
    if url is None or url == normalize_url(page_url) or not in_scope(url, hosts):
        return None
    return url


def _declared_next(doc: lxml.html.HtmlElement, base: str, page_url: str, hosts: Collection[str]) -> str | None:
    """``rel=next`` first (it is unambiguous), then a link labelled or classed as next/older/more.

    A labelled link that itself looks like an article is a "read next" teaser, not pagination.
    """
    for element in doc.iter("link", "a"):
        if "next" in rel_tokens(element):
            url = _usable_next(element.get("href"), base, page_url, hosts)
            if url:
                return url
    for anchor in doc.iter("a"):
        if _is_next_anchor(anchor):
            url = _usable_next(anchor.get("href"), base, page_url, hosts)
            if url and not looks_like_article(url):
                return url
    return None


_PAGE_PATH_RE = re.compile(r"/page/(\d+)(?=/|$)")


def _incremented_page(page_url: str) -> str | None:
    """``?page=N`` -> ``?page=N+1``, or ``/page/N/`` -> ``/page/N+1/``, when nothing declares a next page."""
    normal = normalize_url(page_url)
    if normal is None:
        return None
    parts = urlsplit(normal)
    for key, value in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() == "page" and value.isdecimal():
            return normalize_url(add_or_replace_parameter(normal, key, str(int(value) + 1)))
    match = _PAGE_PATH_RE.search(parts.path)
    if match:
        path = f"{parts.path[:match.start(1)]}{int(match[1]) + 1}{parts.path[match.end(1):]}"
        return normalize_url(parts._replace(path=path).geturl())
    return None


def parse_section(html: bytes | str, page_url: str, hosts: Collection[str], via: str = "section") -> SectionPage:
    """The in-scope article links of a listing page (first title kept per URL) and its next page."""
    doc = html_document(html)
    if doc is None:
        return SectionPage(candidates=[], next_page=None)
    base = document_base(doc, page_url)
    candidates = _article_links(doc, base, canonical_url(page_url), hosts, via)
    next_page = _declared_next(doc, base, page_url, hosts)
    if next_page is not None:
        return SectionPage(candidates=candidates, next_page=next_page)
    incremented = _incremented_page(page_url)
    if incremented and in_scope(incremented, hosts) and candidates:
        return SectionPage(candidates=candidates, next_page=incremented, next_guessed=True)
    return SectionPage(candidates=candidates, next_page=None)
