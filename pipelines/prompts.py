"""Prompt removal: paywall, donation, newsletter, cookie and "read more" prompts that sites put inside articles.

trafilatura finds the article; it keeps what the site placed inside it. Three layers take the prompts out, each
usable and testable alone (no library does this; the cues are data, in ``pipelines/cues/prompts.toml``, plus
the user's own ``EXTRACT_CUES_FILE``: :mod:`pipelines.cuefile`):

1. DOM cues, before extraction (:mod:`pipelines.domcues`): elements whose class, id, role, aria-label or
   data-* names call them a paywall, donation, newsletter, cookie banner, related links, share bar or ad slot;
   dialogs; sign-up ``<aside>``/``<form>`` boxes inside ``<article>``; never one that holds the article.
2. Text cues, after extraction (:func:`clean_paragraphs`): paragraphs that *are* calls to action ("Support us",
   "Read more: ...", "Already a subscriber? Log in", payment-method lists, photo credits standing alone), in
   English, German, French, Spanish, Russian, Italian, Portuguese, Polish, Dutch and Ukrainian. A paragraph is dropped for what it is, not for a word it
   contains: "Russia said it would support the talks" stays. A strong appeal takes its widget along (the short
   amount, frequency and button lines around it).
3. Site memory (:class:`SiteMemory`): paragraphs that repeat verbatim across several articles of one outlet are
   that outlet's boilerplate; the learned keys are kept in the topic's state for later runs.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict

from pipelines.cuefile import cue_cache, cues as _cues

SHORT_WORDS = 12  # a button, label or credit line is at most this long
NOTICE_WORDS = 45  # a cookie, paywall or newsletter notice is at most this long
APPEAL_WORDS = 150  # an appeal paragraph longer than this is article text quoting one, not the appeal
ADDRESSED_WORDS = 50  # up to this long, one appeal cue in a paragraph that speaks to the reader makes it an appeal
OFFER_WORDS = 25  # an offer ("unlimited access", "for just $1 a month") alone marks only a paragraph this short
WIDGET_WORDS = 8  # short lines next to an appeal (amounts, "Monthly", "Continue") belong to its widget
LABEL_WORDS = 30  # a "Read more: <headline>" line
REPEAT_WORDS = 13  # a paragraph this long seen twice on one page is one paragraph shown twice (a byline or an
# embedded post's attribution line, shorter, may repeat)

_WORD = re.compile(r"\w+", re.UNICODE)
_SENTENCE_START = re.compile(r"(?:^|[.!?…]\s+)[\W\d_]*(\w+(?:-\w+)?)", re.UNICODE)
_AMOUNT = re.compile(r"^[\s$€£₽¥]*\d[\d\s.,]*(?:[$€£₽¥]|usd|eur|rub|руб\.?)?\s*$", re.IGNORECASE)


def _alternation(patterns: list[str], anchored: bool = False, whole: bool = False) -> re.Pattern:
    """One pattern for a cue list, to be matched against lowercased text: the cues are written in lower case, and
    without ``re.IGNORECASE`` (whose Unicode case folding makes a long alternation some twenty times slower) and
    tried at word starts only, a paragraph costs a fraction of a millisecond."""
    body = "|".join(f"(?:{p})" for p in patterns)
    if whole:
        return re.compile(rf"^\W*(?:{body})\W*$")
    return re.compile(rf"^\W*(?:{body})" if anchored else rf"\b(?:{body})")


@cue_cache
def _text_patterns() -> dict[str, re.Pattern]:
    languages = _cues()["text"].values()
    gather = lambda name: [p for lang in languages for p in lang.get(name, [])]  # noqa: E731
    return {
        "labels": _alternation(gather("labels"), anchored=True),
        "appeals": _alternation(gather("appeals")),
        "offers": _alternation(gather("offers")),
        "buttons": _alternation([re.escape(b) for b in gather("buttons")], whole=True),
        "notices": _alternation(gather("notices")),
        "credits": _alternation(gather("credits"), anchored=True),
        "stems": _alternation(gather("stems")),
    }


@cue_cache
def _address() -> tuple[frozenset[str], frozenset[str]]:
    languages = _cues()["text"].values()
    return (frozenset(w for lang in languages for w in lang.get("address", [])),
            frozenset(w for lang in languages for w in lang.get("imperatives", [])))


@cue_cache
def _run_words() -> frozenset[str]:
    return frozenset(_cues()["run"]["words"])


# -- layer 2: text cues -----------------------------------------------------------------------------------------

def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def notice_in(text: str) -> bool:
    """Whether a cookie, paywall, newsletter or social notice is said anywhere in ``text``."""
    return _text_patterns()["notices"].search(text.lower()) is not None


def _distinct(pattern: re.Pattern, text: str) -> set[str]:
    if pattern.search(text) is None:  # most paragraphs: one pass that finds nothing
        return set()
    return {match.group(0) for match in pattern.finditer(text)}


def addressed(text: str, words: list[str] | None = None) -> bool:
    """Whether a text speaks to the reader: a second-person or "we, the site" word, or a sentence that starts
    with an imperative ("Sign up", "Support", "Abonnez-vous")."""
    words = _words(text) if words is None else words
    address, imperatives = _address()
    if address.intersection(words):
        return True
    return any(match.group(1).lower() in imperatives for match in _SENTENCE_START.finditer(text))


def is_appeal(paragraph: str) -> bool:
    """A donation/subscription appeal addressed to the reader ("We have a small favor to ask ...").

    The shape of one, not a phrase alone: a short standalone line with an appeal or offer in it; up to
    ``ADDRESSED_WORDS``, an appeal that speaks to the reader; longer (up to ``APPEAL_WORDS``), one that speaks to the
    reader with two cues at least. An interview answer that mentions "unlimited access" once is no appeal, nor a
    long sentence quoting one."""
    lowered = " ".join(paragraph.split()).lower()
    return _is_appeal(lowered, _WORD.findall(lowered))


def _is_appeal(lowered: str, words: list[str]) -> bool:
    count = len(words)
    if count > APPEAL_WORDS:
        return False
    patterns = _text_patterns()
    appeals = _distinct(patterns["appeals"], lowered)
    offers = _distinct(patterns["offers"], lowered) if count <= OFFER_WORDS or appeals else set()
    if not appeals and not offers:
        return False
    if count <= SHORT_WORDS:
        return True
    if not addressed(lowered, words):
        return False
    if count <= ADDRESSED_WORDS:
        return bool(appeals) or count <= OFFER_WORDS
    return len(appeals | offers | _distinct(patterns["notices"], lowered)) >= 2


def is_call_to_action(paragraph: str) -> bool:
    """Layer 2: whether a paragraph is a prompt rather than article text.

    A button or credit line, a "Read more:" label, a short notice that speaks to the reader (cookies, paywall,
    newsletter), a payment-method list, or an appeal (:func:`is_appeal`)."""
    text = " ".join(paragraph.split())
    lowered = text.lower()
    words = _WORD.findall(lowered)
    if not words:
        return bool(text.strip())  # punctuation or symbols only
    patterns = _text_patterns()
    count = len(words)
    if count <= SHORT_WORDS and (patterns["buttons"].match(lowered) or patterns["credits"].match(lowered)):
        return True
    if text.startswith(("- ", "• ", "* ")):
        return False  # an item of a list in the article ("- Sign up for the service at ..."): its own text
    if count <= LABEL_WORDS and patterns["labels"].match(lowered):
        return True
    if count <= NOTICE_WORDS and patterns["notices"].search(lowered) and (count <= SHORT_WORDS
                                                                          or addressed(lowered, words)):
        return True
    if count <= WIDGET_WORDS and _payment_list(words):
        return True
    return _is_appeal(lowered, words)


def _payment_list(words: list[str]) -> bool:
    run_words = _run_words()
    payment = {"visa", "mastercard", "paypal", "amex", "maestro", "mir", "payment", "paiment", "methods"}
    return bool(payment.intersection(words)) and sum(w in run_words for w in words) * 2 >= len(words)


def _widget_line(paragraph: str) -> bool:
    """A short line of a donation widget: an amount, a frequency, a button, a payment method."""
    words = _words(paragraph)
    if len(words) > WIDGET_WORDS:
        return False
    if _AMOUNT.match(paragraph) or is_call_to_action(paragraph):
        return True
    if words and all(w in _run_words() or w.isdigit() for w in words):
        return True
    return bool(_text_patterns()["stems"].search(paragraph.lower())) and (paragraph.rstrip().endswith(("!", "?"))
                                                                   or len(words) <= 4)


def clean_paragraphs(paragraphs: list[str], boilerplate: frozenset[str] = frozenset()) -> list[str]:
    """Drop calls to action, the widget lines around an appeal, and learned boilerplate; keep the order."""
    drop = [is_call_to_action(p) or (bool(boilerplate) and paragraph_key(p) in boilerplate) for p in paragraphs]
    for index, paragraph in enumerate(paragraphs):
        if not (drop[index] and is_appeal(paragraph)):
            continue
        for step in (1, -1):  # the widget spreads both ways from the appeal, through short lines only
            neighbour = index + step
            while 0 <= neighbour < len(paragraphs) and (drop[neighbour] or _widget_line(paragraphs[neighbour])):
                drop[neighbour] = True
                neighbour += step
    return [p for p, dropped in zip(paragraphs, drop) if not dropped]


def without_repeats(paragraphs: list[str]) -> list[str]:
    """The paragraphs without a second showing of one already given (a pull quote, a body printed twice): of
    paragraphs of ``REPEAT_WORDS`` words or more, the first stays."""
    seen: set[str] = set()
    kept = []
    for paragraph in paragraphs:
        if len(paragraph.split()) >= REPEAT_WORDS:
            key = paragraph_key(paragraph)
            if key in seen:
                continue
            seen.add(key)
        kept.append(paragraph)
    return kept


# -- layer 3: site memory ---------------------------------------------------------------------------------------

def paragraph_key(paragraph: str) -> str:
    """The same paragraph on two pages gets the same key (Unicode form, case, spacing, edge punctuation)."""
    text = " ".join(unicodedata.normalize("NFKC", paragraph).casefold().split())
    return text.strip(" \t.,;:!?'\"«»“”‘’()[]-–—…")


class SiteMemory:
    """Layer 3: paragraphs seen verbatim on ``min_articles`` distinct articles of one outlet are its boilerplate."""

    def __init__(self, min_articles: int = 3, learned: dict[str, list[str]] | None = None) -> None:
        self.min_articles = max(2, min_articles)
        self._seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
        self._learned: dict[str, set[str]] = {outlet: set(keys) for outlet, keys in (learned or {}).items()}

    def observe(self, outlet: str, url: str, paragraphs: list[str]) -> None:
        self.observe_keys(outlet, url, [paragraph_key(paragraph) for paragraph in paragraphs])

    def observe_keys(self, outlet: str, url: str, keys: list[str]) -> None:
        """``observe`` for paragraphs already keyed by :func:`paragraph_key` (as extraction workers send them)."""
        seen = self._seen[outlet]
        for key in keys:
            if not key:
                continue
            seen[key].add(url)
            if len(seen[key]) >= self.min_articles:
                self._learned.setdefault(outlet, set()).add(key)

    def boilerplate(self, outlet: str) -> frozenset[str]:
        return frozenset(self._learned.get(outlet, ()))

    def learned(self) -> dict[str, list[str]]:
        return {outlet: sorted(keys) for outlet, keys in self._learned.items() if keys}

