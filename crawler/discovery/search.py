"""An outlet's own site search: the search URL for the story's query, and its result pages.

Site search engines understand plain words, not the topic's boolean query, so the query is rendered to its
positive words here. The full query parser lives elsewhere; this token-level rendering only needs to know
which words are operators or negated.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from urllib.parse import quote_plus

from crawler.discovery.candidates import DiscoveryError
from crawler.discovery.sections import SectionPage, parse_section
from crawler.urls.normal import normalize_url

PLACEHOLDER = "{query}"
_OPERATORS = frozenset({"AND", "OR", "NOT"})
_TOKEN_RE = re.compile(r'"[^"]*"|[()]|[^\s()"]+')  # an unmatched quote is no token: it is dropped


def _skip_negated(tokens: list[str], start: int) -> int:
    """Index after the term or parenthesised group a NOT applies to (tokens[start] follows the NOT)."""
    if start >= len(tokens) or tokens[start] != "(":
        return start + 1
    depth = 0
    for index in range(start, len(tokens)):
        depth += {"(": 1, ")": -1}.get(tokens[index], 0)
        if depth == 0:
            return index + 1
    return len(tokens)


def _words(token: str) -> list[str]:
    return [w for w in token.strip('"').replace("*", " ").split() if w]


def positive_words(query_text: str) -> list[str]:
    """The words of a boolean query a search box should get: no operators, no negated terms, no wildcards.

    Quoted phrases contribute their words without the quotes (site search engines differ on phrase syntax,
    and the crawl's relevance filter is strict afterwards); a leading ``-`` negates a word as NOT does.
    """
    tokens = _TOKEN_RE.findall(query_text)
    words: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        if token == "NOT":
            index = _skip_negated(tokens, index + 1)
            continue
        index += 1
        if token in _OPERATORS or token in ("(", ")") or (token.startswith("-") and len(token) > 1):
            continue
        words += [w.lstrip("+") for w in _words(token) if w.lstrip("+")]
    unique: dict[str, str] = {}
    for word in words:
        unique.setdefault(word.casefold(), word)
    return list(unique.values())


def search_url(template: str, query_text: str) -> str:
    """The outlet's search URL for the query: every ``{query}`` in the template filled with its words."""
    if PLACEHOLDER not in template:
        raise DiscoveryError(f"{template}: search URL template has no {PLACEHOLDER} placeholder")
    words = positive_words(query_text)
    if not words:
        raise DiscoveryError(f"{template}: query {query_text!r} has no positive words to search for")
    url = template.strip().replace(PLACEHOLDER, quote_plus(" ".join(words)))
    if normalize_url(url) is None:
        raise DiscoveryError(f"{template}: search URL template is not an absolute http(s) URL")
    return url


def parse_search(html: bytes | str, page_url: str, hosts: Collection[str]) -> SectionPage:
    """A search result page is a listing page whose candidates came from search."""
    return parse_section(html, page_url, hosts, via="search")
