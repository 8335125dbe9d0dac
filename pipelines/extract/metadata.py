"""A page's metadata, from the one parsed tree: title, author and site name (trafilatura's own rules), the original
publication date (htmldate), the canonical URL, the declared language, and what the page says its body is
(``og:description``, JSON-LD ``articleBody``), which the extraction's doubt signals compare with what it found.

trafilatura's ``extract_metadata`` does the title, author and site name and much more a text file never shows
(categories, tags, licence, image) and its own date search; the date is htmldate's, once, with the options this
project wants (the original date, not the last change), so the pieces are called one by one here.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urljoin

import lxml.html

logger = logging.getLogger(__name__)

_CANONICAL = ('//link[contains(concat(" ", normalize-space(@rel), " "), " canonical ")]/@href',
              '//meta[@property="og:url"]/@content')
_DESCRIPTION = ('//head/meta[@property="og:description"]/@content', '//head/meta[@name="description"]/@content',
                '//head/meta[@name="twitter:description"]/@content')


@dataclass
class PageMetadata:
    title: str | None = None
    author: str | None = None
    sitename: str | None = None
    description: str | None = None
    body_words: int = 0  # words of the longest JSON-LD articleBody


def _meta_content(tree: lxml.html.HtmlElement, *selectors: str) -> str | None:
    for selector in selectors:
        for value in tree.xpath(selector):
            value = str(value).strip()
            if value:
                return value
    return None


def canonical_url(tree: lxml.html.HtmlElement, page_url: str) -> str | None:
    """The URL the page declares as its own (rel=canonical, else og:url), made absolute."""
    href = _meta_content(tree, *_CANONICAL)
    if not href or href.startswith(("javascript:", "data:", "#")):
        return None
    absolute = urljoin(page_url, href)
    return absolute if absolute.startswith(("http://", "https://")) else None


def publication_date(tree: lxml.html.HtmlElement, url: str) -> str | None:
    """The original publication date (YYYY-MM-DD) by htmldate; None when the page gives no reliable date."""
    from htmldate import find_date

    try:
        return find_date(tree, url=url, original_date=True, extensive_search=True, outputformat="%Y-%m-%d")
    except Exception:  # htmldate guards most input; a failure here must not cost the article
        logger.debug("no date on %s", url, exc_info=True)
        return None


def declared_language(tree: lxml.html.HtmlElement) -> str | None:
    return tree.get("lang") or tree.get("xml:lang") or _meta_content(
        tree, '//meta[@http-equiv="content-language"]/@content')


def ld_json_scripts(tree: lxml.html.HtmlElement) -> list[str]:
    return [str(text) for text in tree.xpath('//script[@type="application/ld+json"]/text()')]


def _article_bodies(value: object) -> list[str]:
    if isinstance(value, dict):
        found = [value["articleBody"]] if isinstance(value.get("articleBody"), str) else []
        return found + [body for child in value.values() if isinstance(child, (dict, list))
                        for body in _article_bodies(child)]
    if isinstance(value, list):
        return [body for child in value for body in _article_bodies(child)]
    return []


def article_body_words(scripts: list[str]) -> int:
    """Words of the longest ``articleBody`` the page's JSON-LD declares (0: none, or unreadable JSON)."""
    best = 0
    for script in scripts:
        if "articleBody" not in script:
            continue
        try:
            bodies = _article_bodies(json.loads(script))
        except ValueError:
            continue
        best = max([best] + [len(body.split()) for body in bodies])
    return best


def page_metadata(tree: lxml.html.HtmlElement, url: str, scripts: list[str]) -> PageMetadata:
    """Title, author and site name by trafilatura's rules (meta tags, then JSON-LD, then the markup), without
    what ``trafilatura.extract_metadata`` adds that a text file does not show."""
    return complete_metadata(tree, url, declared_metadata(tree, url, scripts))


def declared_metadata(tree: lxml.html.HtmlElement, url: str, scripts: list[str]) -> PageMetadata:
    """What the page's meta tags and JSON-LD declare: read before the scripts leave the tree."""
    from trafilatura.metadata import examine_meta, extract_meta_json

    found = PageMetadata(description=_meta_content(tree, *_DESCRIPTION), body_words=article_body_words(scripts))
    try:
        metadata = examine_meta(tree)
        if metadata.author and " " not in metadata.author:
            metadata.author = None
        try:
            metadata = extract_meta_json(tree, metadata)
        except Exception:  # trafilatura's JSON-LD reader has bugs; the meta tags still count
            logger.debug("JSON-LD metadata unreadable on %s", url, exc_info=True)
    except Exception:  # metadata must never cost the article
        logger.debug("no metadata on %s", url, exc_info=True)
        return found
    found.title, found.author, found.sitename = metadata.title, metadata.author, metadata.sitename
    return found


def complete_metadata(tree: lxml.html.HtmlElement, url: str, found: PageMetadata) -> PageMetadata:
    """The title, author and site name the declarations lack, from the markup (trafilatura's searches, which
    are cheaper on a tree without its scripts), cleaned as trafilatura cleans them."""
    from trafilatura.metadata import META_URL, extract_author, extract_sitename, extract_title
    from trafilatura.settings import Document

    try:
        title = found.title or extract_title(tree)
        author = found.author or extract_author(tree)
        sitename = found.sitename or extract_sitename(tree)
        if sitename:
            sitename = sitename.lstrip("@")
            if sitename and "." not in sitename and not sitename[0].isupper():
                sitename = sitename.title()
        elif url:
            match = META_URL.match(url)
            sitename = match[1] if match else None
        cleaned = Document().from_dict({"title": title, "author": author, "sitename": sitename})
        cleaned.clean_and_trim()
    except Exception:  # metadata must never cost the article
        logger.debug("no metadata on %s", url, exc_info=True)
        return found
    found.title, found.author, found.sitename = cleaned.title or None, cleaned.author or None, cleaned.sitename
    return found
