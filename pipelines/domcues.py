"""Prompt removal, layer 1: the elements a page's own markup names as prompts, found before extraction.

Elements whose class, id, role, aria-label or data-* names call them a paywall, donation box, newsletter
sign-up, cookie banner, related-links list, share bar or ad slot; dialogs; sign-up ``<aside>``/``<form>`` boxes
inside ``<article>``. A name matches as a whole ("newsletter-signup-form", not "non-paywall"): see
:func:`names_a_prompt`; the cue words are data, in ``pipelines/cues/prompts.toml``.

Two guards keep the article: an element holding most of the page's paragraph text is never removed, whatever its
class says (some sites wrap the article in ``.paywall``), nor one whose paragraphs are prose (several long
paragraphs none of which is a call to action: an article section in a container that carries an ad class).

One walk over the tree, which skips the subtree of an element once it is doomed; each distinct attribute value
is judged once per process (pages of one site repeat the same class names on every page).
"""

from __future__ import annotations

import re
from functools import lru_cache

import lxml.html
from lxml import etree

from pipelines.cuefile import cue_cache
from pipelines.prompts import _cues, is_call_to_action, notice_in

MAIN_TEXT_SHARE = 0.5  # an element holding more than this share of the page's paragraph text is never removed
PROSE_WORDS = 40  # a paragraph at least this long, and no call to action, is prose
PROSE_PARAGRAPHS = 3  # an element holding this many prose paragraphs is article text, whatever its class
TEASERS = 3  # sibling teasers of one shape that make a related-content block
TEASER_WORDS = 60  # a teaser is a headline and a line or two
HEADLINE_WORDS = 3  # a teaser's link is a headline, not "more" or an icon
TEASER_LINK_SHARE = 0.5  # without a heading, most of a teaser's words are its links
WALL_TEXT = 3000  # characters of a wall element read for its notice (a wall is short; a marked page is not)
HIDDEN_COPY_WORDS = 50  # a hidden element with this many words may be a second copy of the body

_TOKEN_SPLIT = re.compile(r"[^a-z0-9]+")
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_BEM_MODIFIER = re.compile(r"--.*$")  # "box--wide": the modifier says how, not what
_BEM_ELEMENT = re.compile(r"__")  # "newsletter__form": the block and its element are names of their own
_ACCESSIBLE_FREE = re.compile(r'"isAccessibleForFree"\s*:\s*(?:false|"false"|"False")')
_WALL_WORDS = re.compile(r"subscri|abonn|suscri|подпис|abbona|assin|prenumer|abonne|передплат", re.IGNORECASE)
# Candidates found in C; Python then judges each one (by its whole names, or its style).
_HIDDEN = etree.XPath("//body//*[@hidden or @aria-hidden or @style]")
_CONTAINERS = etree.XPath("//body//*[count(*[.//a]) >= 3]")
_NAME_VALUES = etree.XPath("//@class | //@id", smart_strings=False)
_NAMED = etree.XPath("//*[@class = $value or @id = $value]")
_INVISIBLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_PROTECTED_TAGS = frozenset({"html", "body", "main", "article", "head", "title", "h1"})
_NAMING = ("class", "id", "role", "aria-label")


@cue_cache
def _dom_cues() -> dict:
    dom = _cues()["dom"]
    cues = {name: frozenset(dom[name])
            for name in ("tokens", "furniture", "variants", "negators", "states", "content_heads", "access", "embeds",
                         "vendors")}
    phrases = [tuple(p) for p in dom["phrases"]]
    cues["phrase_ends"] = {p[-1]: tuple(q for q in phrases if q[-1] == p[-1]) for p in phrases}
    cues["phrase_starts"] = {p[0]: tuple(q for q in phrases if q[0] == p[0]) for p in phrases}
    return cues


@lru_cache(maxsize=65536)
def name_parts(token: str) -> tuple[tuple[str, ...], ...]:
    """One name as its lowercase parts: "c-newsletter__form--wide" gives ("c", "newsletter") and ("form",) (a BEM
    block and its element, the modifier dropped), "PremiumBanner" gives ("premium", "banner")."""
    if not token or len(token) > 120:
        return ()
    names = []
    for segment in _BEM_ELEMENT.split(_BEM_MODIFIER.sub("", token)):
        parts = tuple(t for t in _TOKEN_SPLIT.split(_CAMEL.sub("-", segment).lower()) if t)
        if parts:
            names.append(parts)
    return tuple(names)


def attribute_tokens(element: lxml.html.HtmlElement) -> list[tuple[str, ...]]:
    """The names sites give their page furniture, one tuple of parts per name: each class name, the id, role and
    aria-label, data-* attribute names and short values."""
    names: list[tuple[str, ...]] = []
    for name, value in element.attrib.items():
        if name == "class":
            for token in value.split():
                names.extend(name_parts(token))
        elif name in _NAMING:
            names.extend(name_parts(value))
        elif name.startswith("data-"):
            names.extend(name_parts(name[5:]))
            if len(value) <= 60:
                names.extend(name_parts(value))
    return names


def names_a_prompt(parts: tuple[str, ...]) -> bool:
    """Whether one class name (as parts) names a prompt, ad slot, share bar or link list.

    Cue words match whole parts of a name, in the places English class names put what a component is: its head
    (the last part: "newsletter", "article-share", "MostPopular"), a furniture word right after a cue
    ("newsletter-signup-form", "related-posts-wrapper", "ad-slot"), or its first part, the namespace of the
    component's pieces ("share-facebook", "c-social-icons", "recommended-stories-title"); ad-tech vendor names
    anywhere ("div-gpt-ad-top"). None matches in a name a negating or state part turns around ("non-paywall",
    "ad-free", "has-ads"), nor in one whose head is an embedded post ("social-media-embed") or the content behind
    an access cue ("premium-content" is the article behind a wall, not the wall)."""
    cues = _dom_cues()
    singles = cues["tokens"]
    if parts[0] in cues["states"] or not cues["negators"].isdisjoint(parts):
        return False
    if not cues["vendors"].isdisjoint(parts):
        return True
    head = len(parts)
    while head > 1 and (parts[head - 1] in cues["variants"] or parts[head - 1].isdigit()):
        head -= 1  # "promo-small", "ad-slot-2", "related-mobile": the variant is not the head
    core = parts[:head]
    last = core[-1]
    if last in singles or _ends_phrase(core, cues):
        return True
    if last in cues["embeds"] or (last in cues["content_heads"] and not cues["access"].isdisjoint(core)):
        return False
    if last in cues["furniture"] and len(core) >= 2:
        rest = core[:-1]
        while len(rest) > 1 and (rest[-1] in cues["furniture"] or rest[-1] in cues["variants"]):
            rest = rest[:-1]
        if rest[-1] in singles or _ends_phrase(rest, cues):
            return True
    start = 0  # "c-", "js-", "ump-", "btn-": a short or furniture prefix is the site's own namespace
    while start < len(core) - 1 and core[start] not in singles and (len(core[start]) <= 3
                                                                     or core[start] in cues["furniture"]):
        start += 1
    first = core[start:]
    starts = cues["phrase_starts"].get(first[0], ())
    return first[0] in singles or any(first[:len(phrase)] == phrase for phrase in starts)


def _ends_phrase(parts: tuple[str, ...], cues: dict) -> bool:
    return any(parts[-len(phrase):] == phrase for phrase in cues["phrase_ends"].get(parts[-1], ()))


@cue_cache
def _value_names_a_prompt(value: str, split: bool) -> bool:
    tokens = value.split() if split else (value,)
    return any(names_a_prompt(parts) for token in tokens for parts in name_parts(token))


def marked_as_prompt(element: lxml.html.HtmlElement) -> bool:
    """Whether an element's attributes name it as a prompt, ad slot, share bar or link list."""
    for name, value in element.items():
        if name in _NAMING:
            if _value_names_a_prompt(value, name == "class"):
                return True
        elif name.startswith("data-"):
            if _value_names_a_prompt(name[5:], False) or (len(value) <= 60 and _value_names_a_prompt(value, False)):
                return True
    return False


def _text_length(element: lxml.html.HtmlElement) -> int:
    return sum(len(p.text_content()) for p in element.iter("p"))


def _holds_prose(element: lxml.html.HtmlElement) -> bool:
    """Several long paragraphs, none a call to action: article text, whatever the container's class says."""
    prose = 0
    for paragraph in element.iter("p"):
        text = " ".join(paragraph.text_content().split())
        if len(text.split()) >= PROSE_WORDS and not is_call_to_action(text):
            prose += 1
            if prose >= PROSE_PARAGRAPHS:
                return True
    return False


def _is_dialog(element: lxml.html.HtmlElement) -> bool:
    return element.get("role") in ("dialog", "alertdialog") or element.get("aria-modal") == "true"


def _signup_box(element: lxml.html.HtmlElement) -> bool:
    """An ``<aside>`` or ``<form>`` (inside an article) asking for an e-mail, a subscription or a donation."""
    if element.tag not in ("aside", "form"):
        return False
    if element.tag == "form" or element.xpath(".//input[@type='email'] | .//form"):
        return True
    return is_call_to_action(" ".join(element.text_content().split())[:600]) or notice_in(element.text_content())


def prompt_elements(tree: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Layer 1: the prompt elements of a page (see the module docstring), outermost only, in document order."""
    body = tree.find("body") if tree.tag == "html" else tree
    root = body if body is not None else tree
    page_text = _text_length(root) or 1
    doomed: list[lxml.html.HtmlElement] = []
    stack = [(root, False)]
    pop, push = stack.pop, stack.extend
    while stack:
        element, in_article = pop()
        tag = element.tag
        if not isinstance(tag, str):
            continue
        if tag not in _PROTECTED_TAGS and ((tag == "dialog" or marked_as_prompt(element) or _is_dialog(element))
                                           or (in_article and _signup_box(element))):
            if _text_length(element) <= MAIN_TEXT_SHARE * page_text and not _holds_prose(element):
                doomed.append(element)
                continue  # nothing inside it needs looking at
        if len(element):
            inside = in_article or tag == "article"
            push((child, inside) for child in reversed(element))
    return doomed


def strip_prompt_elements(tree: lxml.html.HtmlElement) -> int:
    """Layer 1: remove the hidden copies of the body, the prompt elements and the related-content blocks in place;
    returns how many were removed."""
    copies = hidden_copies(tree)
    for element in copies:
        element.drop_tree()
    doomed = prompt_elements(tree)
    for element in doomed:
        element.drop_tree()
    page_text = _text_length(tree) or 1
    teasers = [block for block in teaser_lists(tree) if _text_length(block) <= MAIN_TEXT_SHARE * page_text]
    for element in teasers:
        element.drop_tree()
    return len(copies) + len(doomed) + len(teasers)


def _hidden(element: lxml.html.HtmlElement) -> bool:
    if element.get("hidden") is not None or element.get("aria-hidden") == "true":
        return True
    style = element.get("style")
    return bool(style) and bool(_INVISIBLE.search(style))


def hidden_copies(tree: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Invisible copies of the body (``display:none``, ``hidden``, ``aria-hidden``: schema.org or AMP duplicates):
    hidden elements with a body's worth of text whose paragraphs the page shows a second time, outside them. A
    hidden element that is the only copy (an article behind a "read more" switch) stays."""
    candidates = [element for element in _HIDDEN(tree) if _hidden(element)
                  and len(element.text_content().split()) >= HIDDEN_COPY_WORDS]
    if not candidates:
        return []
    outermost = [el for el in candidates if not any(a in candidates for a in el.iterancestors())]
    body = tree.find("body")
    page = " ".join((body if body is not None else tree).text_content().split()).casefold()
    copies = []
    for element in outermost:
        pieces = [" ".join(p.text_content().split()).casefold() for p in element.iter("p")]
        pieces = [p for p in pieces if len(p) >= 40] or [" ".join(element.text_content().split()).casefold()[:200]]
        if sum(page.count(piece) >= 2 for piece in pieces) * 2 >= len(pieces):
            copies.append(element)
    return copies


def _teaser(element: lxml.html.HtmlElement) -> tuple | None:
    """The shape of a teaser (a headline link, a line or two, perhaps a picture), or None for anything else."""
    text = element.text_content()
    words = len(text.split())
    if not words or words > TEASER_WORDS:
        return None
    links = element.findall(".//a")
    linked = sum(len(link.text_content().split()) for link in links)
    if not any(len(link.text_content().split()) >= HEADLINE_WORDS for link in links):
        return None
    heading = element.find(".//h2") is not None or element.find(".//h3") is not None or \
        element.find(".//h4") is not None
    if not heading and linked < TEASER_LINK_SHARE * words:
        return None
    return element.tag, heading, element.find(".//img") is not None


def teaser_lists(tree: lxml.html.HtmlElement) -> list[lxml.html.HtmlElement]:
    """Related-content blocks by their structure, whatever their class names: a container of ``TEASERS`` or more
    sibling teasers of one shape (same tag, a headline link each, short, mostly linked text; "you may also like",
    "more stories"). An article of several paragraphs is no teaser (too long), nor a list in it whose items are
    sentences (not mostly links)."""
    found = []
    for container in _CONTAINERS(tree):
        shapes: dict[tuple, int] = {}
        children = [child for child in container if isinstance(child.tag, str)]
        for child in children:
            shape = _teaser(child)
            if shape is not None:
                shapes[shape] = shapes.get(shape, 0) + 1
        if shapes and max(shapes.values()) >= TEASERS and max(shapes.values()) * 2 >= len(children):
            if not any(ancestor in found for ancestor in container.iterancestors()):
                found.append(container)
    return found


def _names_a_wall(parts: tuple[str, ...]) -> bool:
    """"paywall", "regwall", "premium-gate", "subscriber-only": a name of the wall itself, not "non-paywall"."""
    cues = _dom_cues()
    if any(part in cues["negators"] for part in parts) or parts[0] in cues["states"]:
        return False
    names = set(parts)
    return bool(names & {"paywall", "regwall"} or (names & {"subscriber", "premium", "subscribers"}
                                                   and names & {"wall", "only", "gate", "locked"}))


@cue_cache
def _value_names_a_wall(value: str) -> bool:
    return any(_names_a_wall(parts) for token in value.split() for parts in name_parts(token))


def paywall_marked(tree: lxml.html.HtmlElement, scripts: list[str] | None = None) -> bool:
    """Whether the page declares itself paywalled or shows a subscription wall (call before stripping).
    ``scripts``: the page's JSON-LD texts, when the caller has read them already."""
    if scripts is None:
        scripts = [str(text) for text in tree.xpath('//script[@type="application/ld+json"]/text()')]
    for script in scripts:
        if _ACCESSIBLE_FREE.search(script):
            return True
    tiers = tree.xpath('//meta[@name="article:content_tier" or @property="article:content_tier"]/@content')
    if any(t.strip().lower() in ("locked", "metered") for t in tiers):
        return True
    for value in {value for value in _NAME_VALUES(tree) if _value_names_a_wall(value)}:
        for element in _NAMED(tree, value=value):
            text = " ".join(element.text_content()[:WALL_TEXT].split())
            if notice_in(text) or _WALL_WORDS.search(text):
                return True
    return False
