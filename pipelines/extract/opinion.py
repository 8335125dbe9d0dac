"""A second opinion on the main text, asked only when the first one is doubtful.

trafilatura picks one block of the page; on most pages that block is the article and nothing else is needed. It
is doubtful when what it found does not fit what the page itself shows or says about its body
(:func:`doubts`): much less text than the page's readable paragraphs (an article split in two by an ad column),
much more (a list of teasers taken along), little of the page's own summary (``og:description``), far less than
the JSON-LD ``articleBody``, or several link-list lines. Only then are two other extractors run, each a different
method: readability (the copy bundled with trafilatura: the best-scoring block by its link density and text) and
jusText (paragraph classification by stop words and length); the page's plain paragraph text is the third
candidate when the block covers too little of it. Their outputs replace ours only when they agree with each other
and not with us (:func:`choose`): two independent methods converging on another text are more often right than
one that differs from both. Prompt removal runs on whatever is chosen.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from copy import deepcopy
from dataclasses import dataclass

import lxml.html
from lxml import etree

logger = logging.getLogger(__name__)

LOW_COVERAGE = 0.6  # ours has less than this share of the page's paragraph words: doubtful
SPLIT_COVERAGE = 0.5  # ... less than this: the page's paragraphs are a candidate of their own
HIGH_COVERAGE = 1.15  # ours has more words than this times the page's paragraphs: doubtful
MIN_PAGE_WORDS = 150  # below this many paragraph words on the page, coverage says nothing
DESCRIPTION_RECALL = 0.5  # ours holds less than this share of the page's description: doubtful
BODY_RATIO = 1.3  # the JSON-LD articleBody has this many times our words: doubtful
LIST_LINES = 3  # this many list-item lines ("- headline") in ours: doubtful
AGREEMENT = 0.9  # two other extractors agree when their texts' token F1 is at least this
MARGIN = 0.05  # ... and agree with each other this much better than with ours
SAME_TEXT = 0.97  # ours and the candidate are the same text: nothing to change

_TOKEN = re.compile(r"\w+", re.UNICODE)
_PAGE_FURNITURE = ("head", "nav", "header", "footer", "aside", "form", "button", "select")
_BLOCKS = frozenset({"p", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "dd", "dt", "td",
                     "figcaption"})


@dataclass
class Signals:
    """What the page shows and says about its body, measured before extraction."""

    page_words: int = 0  # words in the page's <p> elements (prompt elements removed)
    description: str | None = None
    body_words: int = 0  # words of the JSON-LD articleBody


def tokens(text: str) -> Counter:
    return Counter(_TOKEN.findall(text.lower()))


def agreement(first: Counter, second: Counter) -> float:
    """Token F1 of two texts: 1.0 the same words, 0.0 none in common."""
    overlap = sum((first & second).values())
    total = sum(first.values()) + sum(second.values())
    return 2 * overlap / total if total else 0.0


def paragraph_words(tree: lxml.html.HtmlElement) -> int:
    return sum(len(p.text_content().split()) for p in tree.iter("p"))


def doubts(paragraphs: list[str], signals: Signals) -> list[str]:
    """Why the main text found may be wrong (empty: it fits the page)."""
    words = sum(len(p.split()) for p in paragraphs)
    reasons = []
    if signals.page_words >= MIN_PAGE_WORDS:
        coverage = words / signals.page_words
        if coverage < LOW_COVERAGE:
            reasons.append("low_coverage")
        elif coverage > HIGH_COVERAGE:
            reasons.append("high_coverage")
    if signals.description and len(signals.description.split()) >= 8:
        summary = tokens(signals.description)
        held = sum((summary & tokens(" ".join(paragraphs))).values()) / sum(summary.values())
        if held < DESCRIPTION_RECALL:
            reasons.append("description_missing")
    if signals.body_words >= MIN_PAGE_WORDS and signals.body_words > BODY_RATIO * words:
        reasons.append("short_of_article_body")
    if sum(1 for p in paragraphs if p.startswith("- ")) >= LIST_LINES:
        reasons.append("link_list")
    return reasons


def _block_paragraphs(root: lxml.html.HtmlElement) -> list[str]:
    """The text of a block tree as paragraphs: each innermost block element, then loose text."""
    found = []
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag not in _BLOCKS:
            continue
        if any(isinstance(child.tag, str) and child.tag in _BLOCKS for child in element.iterdescendants()):
            continue
        text = " ".join(element.text_content().split())
        if text:
            found.append(text)
    return found


def readability_paragraphs(tree: lxml.html.HtmlElement) -> list[str]:
    from trafilatura.readability_lxml import Document

    try:
        summary = Document(deepcopy(tree), min_text_length=25).summary()
    except Exception:  # readability fails on odd trees; it is only a second opinion
        logger.debug("readability failed", exc_info=True)
        return []
    return _block_paragraphs(lxml.html.fromstring(summary)) if summary else []


def justext_text(tree: lxml.html.HtmlElement, url: str, language: str | None) -> str:
    from trafilatura.external import try_justext

    body = try_justext(tree, url, language)
    return " ".join(" ".join(body.itertext()).split()) if body is not None else ""


def page_paragraphs(tree: lxml.html.HtmlElement) -> list[str]:
    from trafilatura import baseline

    body, _text, _length = baseline(tree)
    paragraphs = (" ".join("".join(p.itertext()).split()) for p in body.iter("p"))
    return [p for p in paragraphs if p]


def choose(ours: list[str], readability: list[str], justext: str, plain: list[str] | None) -> tuple[list[str], str]:
    """The paragraphs to keep and which extractor gave them ("ours", "readability", "paragraphs")."""
    mine, theirs, third = tokens(" ".join(ours)), tokens(" ".join(readability)), tokens(justext)
    with_ours = agreement(mine, theirs)
    if readability and with_ours < SAME_TEXT:
        agreed = agreement(theirs, third)
        if agreed >= AGREEMENT and agreed >= agreement(mine, third) + MARGIN:
            return readability, "readability"
    if plain:
        whole = tokens(" ".join(plain))
        if sum(whole.values()) > sum(mine.values()) and agreement(whole, theirs) > with_ours + MARGIN:
            return plain, "paragraphs"
    return ours, "ours"


def second_opinion(tree: lxml.html.HtmlElement, url: str, ours: list[str], signals: Signals,
                   language: str | None) -> tuple[list[str], str]:
    """Ask readability and jusText about a doubtful page (``tree`` with its prompt elements removed) and choose;
    when ours covers too little of the page's paragraphs, those paragraphs are a candidate too. The tree is
    used up: jusText gets it without its navigation, header, footer and forms (half its work, and never text it
    would keep)."""
    readability = readability_paragraphs(tree)
    plain = page_paragraphs(tree) if split_coverage(ours, signals) else None
    etree.strip_elements(tree, *_PAGE_FURNITURE, with_tail=False)
    justext = justext_text(tree, url, language)
    return choose(ours, readability, justext, plain)


def split_coverage(paragraphs: list[str], signals: Signals) -> bool:
    """Whether ours covers so little of the page's paragraphs that the page may hold the article in two blocks."""
    words = sum(len(p.split()) for p in paragraphs)
    return signals.page_words >= MIN_PAGE_WORDS and words < SPLIT_COVERAGE * signals.page_words
