"""The per-page extraction: one fetched page -> the article's clean text and metadata (pure: no Scrapy).

Stages, in order, on one parsed tree (the HTML is decoded and parsed once):
  1. decode the bytes (HTTP charset, BOM, <meta charset>, then detection: w3lib's rules, as browsers do);
  2. metadata from the full page: title and author (trafilatura), publication date (htmldate, the original
     date rather than the last modification), canonical URL (``<link rel=canonical>``, then ``og:url``),
     paywall markers;
  3. prompt elements removed from the DOM (``pipelines.domcues``), then trafilatura's main-text extraction;
  4. the paragraphs cleaned of calls to action and of the outlet's learned boilerplate;
  5. language from the text (py3langid), falling back to the page's declared language.

Worker processes import this module for extract_to_dict: Scrapy (a third of a second to import) is left to the
pipeline (``pipelines.extract.pipeline``), so a worker loads only what extraction needs.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from typing import Any

import lxml.html
from lxml import etree
from w3lib.encoding import html_to_unicode

from pipelines.domcues import paywall_marked, strip_prompt_elements
from pipelines.extract.metadata import (canonical_url, complete_metadata, declared_language, declared_metadata,
                                        ld_json_scripts, publication_date)
from pipelines.extract.opinion import Signals, doubts, paragraph_words, second_opinion
from pipelines.prompts import clean_paragraphs, paragraph_key, without_repeats

logger = logging.getLogger(__name__)

LANGUAGE_SAMPLE = 1000  # characters: plenty to tell the language (about 150 words), cheap to score
MIN_LANGUAGE_WORDS = 20  # below this, the text is too short for detection and the page's lang attribute wins
BYLINE = re.compile(r"^(by|von|par|por|di|door|przez|автор[:]?)\s+\S+(\s+\S+){0,5}$", re.IGNORECASE)
# A dateline or time stamp line: a few words with a date or time in them ("Vladivostok, 2021-07-18",
# "Friday, Jul 16, 2021 - 10:40 PM", "Updated: 16.07.2021 12:42").
DATE_IN_LINE = re.compile(
    r"\b\d{4}-\d{1,2}-\d{1,2}\b|\b\d{1,2}[./]\d{1,2}[./]\d{2,4}\b|\b\d{1,2}:\d{2}\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.? \d{1,2}\b|"
    r"\b\d{1,2}\.? (?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec|janv|févr|mars|avr|mai|juin|juil|"
    r"août|sept|oct|nov|déc|ene|abr|ago|dic|янв|фев|мар|апр|мая|июн|июл|авг|сен|окт|ноя|дек|gen|mag|giu|lug|"
    r"set|ott|fev|out|dez|sty|lut|kwi|maj|cze|lip|sie|wrz|paź|lis|gru|mrt|mei|okt|січ|лют|бер|кві|тра|чер|лип|"
    r"сер|вер|жов|лис|гру)[a-zéûа-яąćęłńóśźżії]*\.?\b",
    re.IGNORECASE)
STAMP_WORDS = re.compile(r"^(updated|published|posted|aktualisiert|veröffentlicht|mis à jour|publié|actualizado|"
                         r"publicado|обновлено|опубликовано|aggiornato|pubblicato|atualizado|zaktualizowano|"
                         r"opublikowano|bijgewerkt|gepubliceerd|оновлено|опубліковано)\b\W*$", re.IGNORECASE)
DATELINE_WORDS = 8
# An XML declaration before the markup (XHTML pages): lxml refuses a decoded string that still carries one
# ("Unicode strings with encoding declaration are not supported"), and the text is decoded already.
# Elements no extractor takes text from (trafilatura removes them first thing): gone once metadata and dates are
# read, they cost nothing in the tree walks, trafilatura's own copy of the tree, readability or jusText.
NEVER_TEXT = ("script", "style", "noscript", "svg", "math", "iframe", "object", "embed", "canvas")
UNICODE_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")  # UTF-16 LE/BE, UTF-32 BE (LE starts as 16 LE)
XML_DECLARATION = re.compile(r"^\s*<\?xml\b[^>]*\?>", re.IGNORECASE)


@dataclass
class Article:
    """What extraction found on one page."""

    url: str
    title: str | None = None
    author: str | None = None
    published: str | None = None  # YYYY-MM-DD
    language: str | None = None
    canonical_url: str | None = None
    sitename: str | None = None
    paywalled: bool = False
    paragraphs: list[str] = field(default_factory=list)
    memory_keys: list[str] = field(default_factory=list)  # keys of the paragraphs site memory may learn from
    declared_language: str | None = None  # the page's lang attribute
    prompts_removed: int = 0
    doubts: list[str] = field(default_factory=list)  # why the first extraction was doubtful (pipelines.extract.opinion)
    chosen: str = "ours"  # whose main text was kept: ours, readability, paragraphs

    @property
    def text(self) -> str:
        return "\n\n".join(self.paragraphs)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["text"] = self.text
        data["words"] = len(self.text.split())
        return data


def looks_binary(data: bytes) -> bool:
    """Bytes that are no text in any charset (an image or archive served as text/html): many control bytes.

    UTF-16 and UTF-32 text is half zero bytes: with its byte order mark it is text, whatever the bytes."""
    if data.startswith(UNICODE_BOMS):
        return False
    sample = data[:4096]
    controls = sum(1 for byte in sample if byte < 32 and byte not in (9, 10, 12, 13))
    return bool(sample) and controls > len(sample) // 20


def decode_html(html: bytes | str, content_type: str | None = None) -> str:
    """The page as text, decoded by the HTTP charset, a BOM, ``<meta charset>`` or detection, in that order; a
    declared charset the bytes do not decode in (a cp1251 page served as UTF-8) gives way to detection."""
    if isinstance(html, str):
        return html
    encoding, text = html_to_unicode(content_type, html)
    if _utf8_declared_otherwise(html, encoding):  # a UTF-8 page declared cp1251 (or latin-1...) reads as mojibake
        return html.decode("utf-8")
    if text.count("\ufffd") > max(3, len(text) // 200):  # the declared charset is wrong: let the bytes tell
        detected = _detect_charset(html)
        if detected:
            return html.decode(detected, errors="replace")
    return text


def _utf8_declared_otherwise(data: bytes, encoding: str) -> bool:
    """Whether non-ASCII bytes decoded in a single-byte charset are in fact valid UTF-8.

    A single-byte charset decodes any bytes without an error, so a wrong declaration shows no replacement
    characters; but text in such a charset is almost never valid UTF-8 (its accented or Cyrillic letters do
    not come in UTF-8's lead-and-continuation patterns), so valid UTF-8 is the stronger evidence."""
    name = encoding.lower().replace("_", "-")
    if name.startswith(("utf-8", "utf8", "utf-16", "utf-32", "utf16", "utf32")) or data.isascii():
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _detect_charset(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    best = from_bytes(data[:200_000]).best()
    return best.encoding if best else None


def parse_html(text: str) -> lxml.html.HtmlElement | None:
    """The page's tree, or None for pages lxml finds nothing in (empty, binary garbage).

    The text is decoded already, so an XML declaration (whose ``encoding`` lxml would insist on for a string) is
    cut off first: with it, lxml refuses the whole page."""
    cleaned = XML_DECLARATION.sub("", text.lstrip("\ufeff"), count=1).replace("\x00", "")
    if not cleaned.strip():
        return None
    try:
        tree = lxml.html.document_fromstring(cleaned, parser=lxml.html.HTMLParser(remove_comments=True,
                                                                                   huge_tree=False))
    except (etree.ParserError, ValueError):
        return None
    return tree


def load_language_detector() -> None:
    """Load the detector's model now rather than on the first page."""
    import py3langid

    py3langid.classify("")


def detect_language(text: str, declared: str | None) -> str | None:
    """ISO 639-1 code of the text; the page's declared ``lang`` when the text is too short to judge."""
    if len(text.split()) >= MIN_LANGUAGE_WORDS:
        import py3langid

        return py3langid.classify(text[:LANGUAGE_SAMPLE])[0]
    return _language_code(declared)


def _language_code(declared: str | None) -> str | None:
    if declared:
        return declared.split("-")[0].split("_")[0].strip().lower() or None
    return None


def _normalize(paragraph: str) -> str:
    return " ".join(unicodedata.normalize("NFC", paragraph).split())


def main_paragraphs(tree: lxml.html.HtmlElement, url: str) -> list[str]:
    """The main text as paragraphs: trafilatura on the cleaned tree, else the page's own ``<p>`` elements.

    trafilatura runs without its own fallbacks (``fast``): it would run readability and jusText on every page
    and compare; :mod:`~pipelines.extract.opinion` asks them only about the pages whose text is doubtful."""
    import trafilatura

    text = trafilatura.extract(tree, url=url, output_format="txt", include_comments=False, include_tables=True,
                               include_images=False, deduplicate=False, fast=True)
    if not text:
        text = trafilatura.extract(tree, url=url, output_format="txt", include_comments=False, favor_recall=True)
    if text:
        return [p for p in (_normalize(line) for line in text.splitlines()) if p]
    return [p for p in (_normalize(el.text_content()) for el in tree.iter("p")) if p]


def _is_head_line(paragraph: str, title_key: str | None) -> bool:
    """A line of the article's head rather than its text: the title again, a byline, a dateline, a stamp."""
    if title_key and paragraph_key(paragraph) == title_key:
        return True
    if BYLINE.match(paragraph) or STAMP_WORDS.match(paragraph):
        return True
    return len(paragraph.split()) <= DATELINE_WORDS and bool(DATE_IN_LINE.search(paragraph))


def _drop_title_and_byline(paragraphs: list[str], title: str | None) -> list[str]:
    """The body without the head lines that precede it (title, byline, dateline, "Updated:" stamps)."""
    title_key = paragraph_key(title) if title else None
    kept = list(paragraphs)
    while kept and _is_head_line(kept[0], title_key):
        kept.pop(0)
    return kept


def _without_boilerplate(paragraphs: list[str], boilerplate: frozenset[str]) -> list[str]:
    """Drop learned outlet boilerplate, unless that would take most of the article (then the memory is wrong)."""
    if not boilerplate:
        return paragraphs
    kept = [p for p in paragraphs if paragraph_key(p) not in boilerplate]
    words = sum(len(p.split()) for p in paragraphs)
    return kept if sum(len(p.split()) for p in kept) * 2 >= words else paragraphs


def extract_article(html: bytes | str, url: str, boilerplate: frozenset[str] = frozenset(),
                    content_type: str | None = None, detect: bool = True) -> Article:
    """Run every extraction stage on one page. Never raises on bad HTML: an unreadable page yields no text.

    The page is parsed once; metadata, date, canonical URL, paywall markers and prompt removal read that tree,
    and trafilatura gets it (it works on its own copy), so is readability when a second opinion is asked."""
    article = Article(url=url)
    if isinstance(html, bytes) and looks_binary(html):
        return article
    tree = parse_html(decode_html(html, content_type))
    if tree is None:
        return article
    scripts = ld_json_scripts(tree)
    declared = declared_metadata(tree, url, scripts)
    article.published = publication_date(tree, url)
    article.canonical_url = canonical_url(tree, url)
    article.declared_language = declared_language(tree)
    etree.strip_elements(tree, *NEVER_TEXT, with_tail=False)  # read above (JSON-LD, dates), never article text
    metadata = complete_metadata(tree, url, declared)
    article.title = _normalize(metadata.title) if metadata.title else None
    article.author, article.sitename = metadata.author, metadata.sitename
    article.paywalled = paywall_marked(tree, scripts)
    article.prompts_removed = strip_prompt_elements(tree)
    signals = Signals(paragraph_words(tree), metadata.description, metadata.body_words)
    found = main_paragraphs(tree, url)
    article.doubts = doubts(found, signals)
    if article.doubts:
        found, article.chosen = second_opinion(tree, url, found, signals, _language_code(article.declared_language))
    paragraphs = without_repeats(_drop_title_and_byline(found, article.title))
    cleaned = clean_paragraphs(paragraphs)
    article.prompts_removed += len(paragraphs) - len(cleaned)
    article.memory_keys = [paragraph_key(paragraph) for paragraph in cleaned]
    article.paragraphs = _without_boilerplate(cleaned, boilerplate)
    if detect:
        article.language = detect_language(article.text, article.declared_language)
    return article


def extract_to_dict(html: bytes, url: str, boilerplate: frozenset[str], content_type: str | None = None) -> dict:
    """Worker-process entry point: the extraction result as plain data (cheap to send between processes).

    The language is detected here too, not in the crawling process: the detector walks the text byte by byte in
    Python (about a millisecond a page), work that would queue behind the reactor in the one crawling process;
    the price is its model (about 75 MB) in each worker."""
    return extract_article(html, url, boilerplate, content_type).to_dict()
