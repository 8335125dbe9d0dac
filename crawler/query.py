"""The topic's query language: one parser and one evaluator for discovery hints and relevance alike.

``Lavrov AND (Afghan* OR Taliban) AND NOT cricket`` — terms match whole words, case- and accent-insensitively,
in any script; ``Afghan*`` is a prefix, ``"hasty withdrawal"`` a phrase; ``AND``, ``OR``, ``NOT`` and
parentheses combine them (NOT binds tightest, then AND, then OR; two terms side by side mean AND). A leading
``-`` negates a term and a leading ``+`` is ignored, as site search boxes read them.

Discovery (titles, summaries, URL slugs) and the relevance filter (title and body) share this evaluator, so a
query means the same thing at every step of a crawl.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

__all__ = ["Query", "QueryError", "QueryMatch", "parse_query", "slug_text"]

OPERATORS = frozenset({"AND", "OR", "NOT"})
MAX_DEPTH = 64  # parentheses deeper than this are a mistake, not a query

# A word character is a letter or digit of any script; everything else (underscore too) separates words.
_WORD = r"[^\W_]"
_SEPARATOR = r"[\W_]+"
_WORD_RE = re.compile(f"{_WORD}+")
# Combining marks left by NFKD decomposition of accented Latin, Greek and Cyrillic letters.
_MARKS_RE = re.compile("[\u0300-\u036f\u0483-\u0489\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_TOKEN_RE = re.compile(r'\s+|[()]|[-+]*"[^"]*"?|[^\s()"]+')
_PAGE_SUFFIX_RE = re.compile(r"\.(?:s?html?|xhtml|php\d?|aspx?|jspx?|cfm|cms|ece)\Z", re.IGNORECASE)


class QueryError(ValueError):
    """A query that cannot be parsed; says what is wrong and where (0-based character position)."""

    def __init__(self, what: str, position: int) -> None:
        super().__init__(f"{what} at position {position}")
        self.what = what
        self.position = position

    def __reduce__(self) -> tuple[type["QueryError"], tuple[str, int]]:
        return type(self), (self.what, self.position)


def fold(text: str) -> str:
    """The form both queries and texts are compared in: casefolded, compatibility-decomposed, accents dropped.

    Folding both sides the same way lets "Kabul" match "KABUL", "Téhéran" match a slug's "teheran", and
    "Лавров" match "ЛАВРОВ", without per-language rules.
    """
    text = text.casefold()
    if text.isascii():
        return text
    return _MARKS_RE.sub("", unicodedata.normalize("NFKD", text)).casefold()


# -- the syntax tree --

@dataclass(frozen=True)
class Term:
    """A word, prefix or phrase, compiled once to a regex over folded text."""

    display: str
    pattern: re.Pattern[str]
    position: int

    def evaluate(self, present: Callable[["Term"], bool]) -> bool:
        return present(self)

    def terms(self, negated: bool = False) -> list[tuple["Term", bool]]:
        return [(self, negated)]


@dataclass(frozen=True)
class Not:
    child: "Node"

    def evaluate(self, present: Callable[[Term], bool]) -> bool:
        return not self.child.evaluate(present)

    def terms(self, negated: bool = False) -> list[tuple[Term, bool]]:
        return self.child.terms(not negated)


@dataclass(frozen=True)
class And:
    children: tuple["Node", ...]

    def evaluate(self, present: Callable[[Term], bool]) -> bool:
        return all(child.evaluate(present) for child in self.children)

    def terms(self, negated: bool = False) -> list[tuple[Term, bool]]:
        return [pair for child in self.children for pair in child.terms(negated)]


@dataclass(frozen=True)
class Or:
    children: tuple["Node", ...]

    def evaluate(self, present: Callable[[Term], bool]) -> bool:
        return any(child.evaluate(present) for child in self.children)

    def terms(self, negated: bool = False) -> list[tuple[Term, bool]]:
        return [pair for child in self.children for pair in child.terms(negated)]


Node = Term | Not | And | Or


# -- tokens --

@dataclass(frozen=True)
class Token:
    kind: str  # "(", ")", "AND", "OR", "NOT", "term"
    text: str
    position: int


def tokenize(text: str) -> list[Token]:
    """Split a query into parentheses, operators and terms; a quote left open is an error."""
    tokens = []
    for found in _TOKEN_RE.finditer(text):
        value, start = found.group(), found.start()
        if value.isspace():
            continue
        if '"' in value and (value.count('"') < 2 or not value.endswith('"')):
            raise QueryError("unbalanced quote", start + value.index('"'))
        kind = value if value in OPERATORS or value in ("(", ")") else "term"
        tokens.append(Token(kind, value, start))
    return tokens


def compile_term(token: Token) -> Term:
    """A term token (``word``, ``prefix*``, ``"a phrase"``, with a leading ``+`` dropped) as a Term."""
    raw = token.text.lstrip("+")
    offset = token.position + len(token.text) - len(raw)
    phrase = raw.startswith('"')
    body = raw[1:-1] if phrase else raw
    body_offset = offset + int(phrase)
    prefix = body.rstrip().endswith("*")
    stem = body.rstrip()[:-1] if prefix else body
    if "*" in stem:
        raise QueryError("misplaced '*' (a prefix ends with it)", body_offset + stem.index("*"))
    if phrase and not body.strip():
        raise QueryError("empty phrase", offset)
    words = _WORD_RE.findall(fold(stem))
    if not words:
        raise QueryError(f"term {raw!r} has no letters or digits", offset)
    if prefix and not re.search(f"{_WORD}\\Z", fold(stem)):
        raise QueryError("'*' without a word before it", body_offset + len(body.rstrip()) - 1)
    expression = _SEPARATOR.join(re.escape(word) for word in words)
    pattern = f"(?<!{_WORD}){expression}" + ("" if prefix else f"(?!{_WORD})")
    display = '"' + " ".join(body.split()) + '"' if phrase else raw
    return Term(display, re.compile(pattern), offset)


# -- the parser --

class Parser:
    """Recursive descent over the tokens: or := and (OR and)*; and := not (AND? not)*; not := NOT* primary."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0
        self.depth = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def previous(self) -> Token | None:
        return self.tokens[self.index - 1] if self.index else None

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise QueryError("empty query", 0)
        node = self.parse_or()
        token = self.peek()
        if token is not None:
            raise QueryError("unbalanced parenthesis", token.position)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while (token := self.peek()) is not None and token.kind == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while (token := self.peek()) is not None and token.kind not in ("OR", ")"):
            if token.kind == "AND":
                self.take()
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else And(tuple(children))

    def parse_not(self) -> Node:
        negations = 0
        while (token := self.peek()) is not None and token.kind == "NOT":
            self.take()
            negations += 1
        node = self.parse_primary()
        return Not(node) if negations % 2 else node

    def parse_primary(self) -> Node:
        token = self.peek()
        if token is None or token.kind in ("AND", "OR", ")"):
            raise self.missing_operand(token)
        self.take()
        if token.kind == "(":
            return self.parse_group(token)
        if token.text.startswith("-") and len(token.text) > 1:
            return Not(compile_term(Token("term", token.text[1:], token.position + 1)))
        return compile_term(token)

    def parse_group(self, opening: Token) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise QueryError(f"parentheses nested deeper than {MAX_DEPTH}", opening.position)
        node = self.parse_or()
        closing = self.peek()
        if closing is None or closing.kind != ")":
            raise QueryError("unbalanced parenthesis", opening.position)
        self.take()
        self.depth -= 1
        return node

    def missing_operand(self, token: Token | None) -> QueryError:
        """The error for a place where a term was expected but ``token`` (None: the end) came."""
        before = self.previous()
        if before is not None and before.kind in OPERATORS:
            return QueryError(f"dangling operator {before.kind}", before.position)
        if token is not None and token.kind in ("AND", "OR"):
            return QueryError(f"dangling operator {token.kind}", token.position)
        if token is not None and before is not None and before.kind == "(":
            return QueryError("empty parentheses", before.position)
        if token is not None or before is None:
            return QueryError("unbalanced parenthesis", token.position if token else 0)
        return QueryError("unbalanced parenthesis", before.position)


# -- the public objects --

@dataclass(frozen=True)
class QueryMatch:
    """Whether fields matched a query, and which positive terms were found in which fields."""

    matched: bool
    terms: dict[str, list[str]]


@dataclass(frozen=True)
class Query:
    """A parsed query; constructing one validates it (``QueryError``), evaluating it never fails."""

    text: str
    _root: Node = field(init=False, repr=False, compare=False)
    _terms: tuple[tuple[Term, bool], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        root = Parser(self.text).parse()
        unique: dict[tuple[str, bool], tuple[Term, bool]] = {}
        for term, negated in root.terms():
            unique.setdefault((term.pattern.pattern, negated), (term, negated))
        if not any(not negated for _, negated in unique.values()):
            first = min(term.position for term, _ in unique.values())
            raise QueryError("nothing to look for: every term is negated", first)
        object.__setattr__(self, "_root", root)
        object.__setattr__(self, "_terms", tuple(unique.values()))

    def _positive(self) -> list[Term]:
        seen: set[str] = set()
        terms = []
        for term, negated in self._terms:
            if not negated and term.pattern.pattern not in seen:
                seen.add(term.pattern.pattern)
                terms.append(term)
        return terms

    def _presence(self, folded: list[str], known: dict[str, bool] | None = None) -> Callable[[Term], bool]:
        """A memoized 'is this term in any of the texts' for one evaluation (``known``: answers already found)."""
        cache: dict[str, bool] = dict(known or {})

        def present(term: Term) -> bool:
            key = term.pattern.pattern
            if key not in cache:
                cache[key] = any(term.pattern.search(text) for text in folded)
            return cache[key]

        return present

    def matches(self, *texts: str) -> bool:
        """Whether the texts, taken together, satisfy the query (a term counts if any one text holds it)."""
        return self._root.evaluate(self._presence([fold(text) for text in texts if text]))

    def match(self, fields: Mapping[str, str]) -> QueryMatch:
        """Evaluate over named fields and report where each positive term was found (for the manifest)."""
        folded = {name: fold(value) for name, value in fields.items() if value}
        where = [(term, [name for name, text in folded.items() if term.pattern.search(text)])
                 for term in self._positive()]
        found = {term.display: names for term, names in where}
        known = {term.pattern.pattern: bool(names) for term, names in where}
        matched = self._root.evaluate(self._presence(list(folded.values()), known))
        return QueryMatch(matched, {display: names for display, names in found.items() if names})

    def positive_terms(self) -> tuple[str, ...]:
        """The terms the query looks for (not under a NOT), in query order, as written."""
        return tuple(term.display for term in self._positive())

    def hint_score(self, *texts: str) -> int:
        """How promising a discovered link is from its title, summary or slug: 2 match, 1 partial, 0 none.

        A link whose hints hold a negated term scores 0 unless the hints match outright.
        """
        folded = [fold(text) for text in texts if text]
        present = self._presence(folded)
        if self._root.evaluate(present):
            return 2
        if any(present(term) for term, negated in self._terms if negated):
            return 0
        return 1 if any(present(term) for term in self._positive()) else 0


def parse_query(text: str) -> Query:
    """Parse and validate a query once; raises ``QueryError`` naming the problem and its position."""
    return Query(text)


def slug_text(url: str) -> str:
    """The words of a URL's path, for matching hints against article slugs like ``/lavrov-warns-taliban.html``."""
    try:
        path = urlsplit(url).path
    except ValueError:
        return ""
    path = _PAGE_SUFFIX_RE.sub("", unquote(path, errors="replace"))
    return " ".join(_WORD_RE.findall(path))
