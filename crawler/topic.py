"""The topic file: one story to cover (a query and a date window) and the outlets to look for it on.

Everything is validated when the file is loaded, before any request is made, and every problem is reported as
one line naming the file, the key and what was expected, so a scheduled job fails fast and readably.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from functools import cached_property
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from crawler.query import Query, QueryError, parse_query
from crawler.urls.hosts import www_twin

__all__ = ["SLUG_RE", "Outlet", "Topic", "TopicError", "load_topic", "parse_topic", "validate_slug"]

SLUG_RE = re.compile(r"[a-z0-9][a-z0-9-]*\Z")
SLUG_MAX_LENGTH = 100  # a directory name, well below file system limits
SEARCH_PLACEHOLDER = "{query}"
TOPIC_KEYS = ("name", "query", "since", "until", "languages", "max_pages_per_outlet", "archives", "archives_only",
              "outlet")
ARCHIVES = ("wayback", "commoncrawl")  # the web archives a topic may name (crawler.contracts.Source values)
OUTLET_KEYS = ("name", "url", "feeds", "sitemaps", "sections", "search", "domains")
ISO_639_1 = frozenset("""
aa ab ae af ak am an ar as av ay az ba be bg bh bi bm bn bo br bs ca ce ch co cr cs cu cv cy da de dv dz ee el
en eo es et eu fa ff fi fj fo fr fy ga gd gl gn gu gv ha he hi ho hr ht hu hy hz ia id ie ig ii ik io is it iu
ja jv ka kg ki kj kk kl km kn ko kr ks ku kv kw ky la lb lg li ln lo lt lu lv mg mh mi mk ml mn mr ms mt my na
nb nd ne ng nl nn no nr nv ny oc oj om or os pa pi pl ps pt qu rm rn ro ru rw sa sc sd se sg si sk sl sm sn so
sq sr ss st su sv sw ta te tg th ti tk tl tn to tr ts tt tw ty ug uk ur uz ve vi vo wa wo xh yi yo za zh zu
""".split())
_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}\Z")
_TOML_POSITION_RE = re.compile(r"\s*\(at (line \d+, column \d+|end of document)\)\Z")
_HOST_RE = re.compile(r"[^\s/?#@\\]+\Z")


class TopicError(ValueError):
    """An invalid topic file: ``<file>: <key or line>: <what was expected>``."""


def _fail(source: str, key: str, what: str) -> TopicError:
    return TopicError(f"{source}: {key}: {what}")


def validate_slug(name: str, what: str = "topic name") -> str:
    """``name`` if it is a safe directory name (a slug), else ``TopicError``: it becomes ARCHIVE_DIR/<name>."""
    if not isinstance(name, str) or not SLUG_RE.match(name) or len(name) > SLUG_MAX_LENGTH:
        raise TopicError(f"{what}: expected a slug of lowercase letters, digits and '-' (like "
                         f"'lavrov-afghanistan', at most {SLUG_MAX_LENGTH} characters), got {name!r}")
    return name


def slugify(text: str) -> str:
    """Lowercase ASCII letters and digits joined by '-': "Le Monde (EN)" -> "le-monde-en"."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:SLUG_MAX_LENGTH].rstrip("-")


def _host_of(url: str) -> str:
    """The lowercased host of an http(s) URL, with its port when the URL names one ("" if there is none)."""
    try:
        parts = urlsplit(url.strip())
        host, port = (parts.hostname or "").rstrip("."), parts.port
    except ValueError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    return f"{host}:{port}" if host and port is not None else host


def _is_http_url(value: str) -> bool:
    """An absolute http(s) URL with a host (and, if any, a valid port), without whitespace."""
    try:
        parts = urlsplit(value)
        _ = parts.port
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and not re.search(r"\s", value)


@dataclass(frozen=True)
class Outlet:
    """One news site: where its articles can be discovered, and which hosts belong to it."""

    name: str
    url: str
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    sections: tuple[str, ...] = ()
    search: str = ""
    domains: tuple[str, ...] = ()

    @cached_property
    def slug(self) -> str:
        """The name as a slug, for stats keys and file metadata; from the host if the name has no Latin letters."""
        return slugify(self.name) or slugify(_host_of(self.url).removeprefix("www.")) or "outlet"

    @cached_property
    def hosts(self) -> frozenset[str]:
        """Every host the outlet's pages may live on (with its www. twin), so links can be kept in scope.
        Computed once: scope checks ask for it on every link and item."""
        urls = (self.url, *self.feeds, *self.sitemaps, *self.sections,
                self.search.replace(SEARCH_PLACEHOLDER, "x"))
        hosts = {_host_of(url) for url in urls if url}
        hosts |= {_host_of(domain if "://" in domain else f"http://{domain}/") for domain in self.domains}
        hosts.discard("")
        twins = {www_twin(host) for host in hosts}
        return frozenset(hosts | {twin for twin in twins if twin})


@dataclass(frozen=True)
class Topic:
    """A validated topic: what to look for, when, in which languages, and on which outlets."""

    name: str
    query: Query
    since: date | None
    until: date | None
    languages: tuple[str, ...]
    max_pages_per_outlet: int | None
    outlets: tuple[Outlet, ...]
    path: str | None = None
    archives: tuple[str, ...] = ()  # web archives queried for the window besides the live outlets
    archives_only: bool = False  # True: the outlets themselves are never contacted

    def in_window(self, day: date | None) -> bool:
        """Whether a publication day is inside the window; an unknown day is given the benefit of the doubt."""
        if day is None:
            return True
        if isinstance(day, datetime):
            day = day.date()
        return (self.since is None or day >= self.since) and (self.until is None or day <= self.until)

    def outlet_for_host(self, host: str) -> Outlet | None:
        """The first outlet a host (or URL) belongs to; a listed host without a port matches any port."""
        host = _host_of(host if "://" in host else f"http://{host}/") if host else ""
        if not host:
            return None
        bare = host.rpartition(":")[0] if not host.endswith("]") and ":" in host else host
        for outlet in self.outlets:
            if host in outlet.hosts or bare in outlet.hosts:
                return outlet
        return None

    def describe(self) -> str:
        """A readable summary of what a crawl of this topic will do (printed by ``scrapy check-topic``)."""
        lines = [f"Topic      {self.name}" + (f"  ({self.path})" if self.path else ""),
                 f"Query      {self.query.text}",
                 f"Looks for  {', '.join(self.query.positive_terms())}",
                 f"Window     {self._window()}",
                 f"Languages  {', '.join(self.languages) or 'any'}",
                 f"Budget     {self._budget()}",
                 f"Sources    {self._sources()}",
                 f"Outlets    {len(self.outlets)}"]
        for number, outlet in enumerate(self.outlets, 1):
            lines += _describe_outlet(number, outlet)
        return "\n".join(lines)

    def _budget(self) -> str:
        return f"{self.max_pages_per_outlet} pages per outlet" if self.max_pages_per_outlet else "no page limit"

    def _sources(self) -> str:
        live = [] if self.archives_only else ["live"]
        return ", ".join(live + list(self.archives))

    def _window(self) -> str:
        if self.since and self.until:
            return f"{self.since} to {self.until} (inclusive)"
        if self.since:
            return f"from {self.since} on"
        if self.until:
            return f"up to {self.until} (inclusive)"
        return "any date"


def _describe_outlet(number: int, outlet: Outlet) -> list[str]:
    lines = [f"  [{number}] {outlet.name} ({outlet.slug})", f"      home      {outlet.url}"]
    for label, urls in (("feed", outlet.feeds), ("sitemap", outlet.sitemaps), ("section", outlet.sections),
                        ("search", (outlet.search,) if outlet.search else ())):
        lines += [f"      {label:<9} {url}" for url in urls]
    lines.append(f"      hosts     {', '.join(sorted(outlet.hosts))}")
    return lines


# -- validation --

class _Checker:
    """Validates one topic mapping, naming ``source`` and the key in every error."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, key: str, what: str) -> TopicError:
        return _fail(self.source, key, what)

    def known_keys(self, table: Mapping, allowed: tuple[str, ...], prefix: str = "") -> None:
        for key in table:
            if key not in allowed:
                close = difflib.get_close_matches(str(key), allowed, n=1)
                hint = f" (did you mean {close[0]!r}?)" if close else ""
                raise self.fail(f"{prefix}{key}", f"unknown key{hint}; allowed keys: {', '.join(allowed)}")

    def string(self, value: Any, key: str, required: bool = True) -> str:
        if value is None and not required:
            return ""
        if value is None:
            raise self.fail(key, "missing (expected a string)")
        if not isinstance(value, str):
            raise self.fail(key, f"expected a string, got {_type_name(value)}")
        if required and not value.strip():
            raise self.fail(key, "expected a non-empty string")
        return value.strip()

    def strings(self, value: Any, key: str, check: Callable[[str, str], str]) -> tuple[str, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            raise self.fail(key, f"expected a list of strings, got {_type_name(value)}")
        return tuple(check(self.string(item, f"{key}[{index}]"), f"{key}[{index}]")
                     for index, item in enumerate(value, 1))

    def url(self, value: str, key: str) -> str:
        if not _is_http_url(value):
            raise self.fail(key, f"expected an http(s) URL, got {value!r}")
        return value

    def search(self, value: str, key: str) -> str:
        if value and SEARCH_PLACEHOLDER not in value:
            raise self.fail(key, f"expected a search URL template containing {SEARCH_PLACEHOLDER}, got {value!r}")
        if value and not _is_http_url(value.replace(SEARCH_PLACEHOLDER, "x")):
            raise self.fail(key, f"expected an http(s) URL template, got {value!r}")
        return value

    def domain(self, value: str, key: str) -> str:
        if "://" in value:
            return self.url(value, key)
        host = _host_of(f"http://{value}/") if _HOST_RE.match(value) else ""
        if not host:
            raise self.fail(key, f"expected a host name like 'example.com' or 'example.com:8080', got {value!r}")
        return value

    def day(self, value: Any, key: str) -> date | None:
        if value is None:
            return None
        if isinstance(value, date) and not isinstance(value, datetime):
            return value
        if isinstance(value, str) and _DATE_RE.match(value.strip()):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        shown = repr(value) if isinstance(value, str) else f"{_type_name(value)} {value}"
        raise self.fail(key, f"expected a date like 2021-07-10, got {shown}")

    def languages(self, value: Any) -> tuple[str, ...]:
        codes = self.strings(value, "languages", lambda code, key: code)
        for index, code in enumerate(codes, 1):
            if code.lower() not in ISO_639_1:
                raise self.fail(f"languages[{index}]", f"expected an ISO 639-1 language code like 'en', got {code!r}")
        return tuple(dict.fromkeys(code.lower() for code in codes))

    def positive_int(self, value: Any, key: str) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.fail(key, f"expected a positive integer, got {value!r}")
        return value

    def archives(self, value: Any, only: Any) -> tuple[tuple[str, ...], bool]:
        names = self.strings(value, "archives", lambda name, key: name)
        for index, name in enumerate(names, 1):
            if name not in ARCHIVES:
                raise self.fail(f"archives[{index}]", f"expected one of {', '.join(ARCHIVES)}, got {name!r}")
        if only is not None and not isinstance(only, bool):
            raise self.fail("archives_only", f"expected true or false, got {_type_name(only)}")
        if only and not names:
            raise self.fail("archives_only", "true needs at least one source in archives (wayback, commoncrawl)")
        return tuple(dict.fromkeys(names)), bool(only)

    def query(self, value: Any) -> Query:
        text = self.string(value, "query")
        try:
            return parse_query(text)
        except QueryError as error:
            raise self.fail("query", str(error)) from None

    def outlet(self, table: Any, number: int) -> Outlet:
        key = f"outlet[{number}]"
        if not isinstance(table, Mapping):
            raise self.fail(key, f"expected a table ([[outlet]]), got {_type_name(table)}")
        self.known_keys(table, OUTLET_KEYS, f"{key}.")
        return Outlet(
            name=self.string(table.get("name"), f"{key}.name"),
            url=self.url(self.string(table.get("url"), f"{key}.url"), f"{key}.url"),
            feeds=self.strings(table.get("feeds"), f"{key}.feeds", self.url),
            sitemaps=self.strings(table.get("sitemaps"), f"{key}.sitemaps", self.url),
            sections=self.strings(table.get("sections"), f"{key}.sections", self.url),
            search=self.search(self.string(table.get("search"), f"{key}.search", required=False), f"{key}.search"),
            domains=self.strings(table.get("domains"), f"{key}.domains", self.domain),
        )

    def outlets(self, value: Any) -> tuple[Outlet, ...]:
        if value is None:
            raise self.fail("outlet", "missing: expected at least one [[outlet]] table")
        if not isinstance(value, list):
            raise self.fail("outlet", f"expected an array of tables ([[outlet]]), got {_type_name(value)}")
        if not value:
            raise self.fail("outlet", "expected at least one [[outlet]] table")
        outlets = tuple(self.outlet(table, number) for number, table in enumerate(value, 1))
        first: dict[str, int] = {}
        for number, outlet in enumerate(outlets, 1):
            if outlet.slug in first:
                other = first[outlet.slug]
                raise self.fail(f"outlet[{number}].name", f"outlet slug {outlet.slug!r} is already used by "
                                                           f"outlet[{other}] ({outlets[other - 1].name!r})")
            first[outlet.slug] = number
        return outlets

    def topic(self, data: Mapping) -> Topic:
        if not isinstance(data, Mapping):
            raise self.fail("(top level)", f"expected a table, got {_type_name(data)}")
        self.known_keys(data, TOPIC_KEYS)
        name = self.string(data.get("name"), "name")
        try:
            validate_slug(name)
        except TopicError as error:
            raise self.fail("name", str(error).partition(": ")[2]) from None
        since, until = self.day(data.get("since"), "since"), self.day(data.get("until"), "until")
        if since and until and since > until:
            raise self.fail("until", f"expected a day on or after since ({since}), got {until}")
        archives, archives_only = self.archives(data.get("archives"), data.get("archives_only"))
        return Topic(name=name, query=self.query(data.get("query")), since=since, until=until,
                     archives=archives, archives_only=archives_only,
                     languages=self.languages(data.get("languages")),
                     max_pages_per_outlet=self.positive_int(data.get("max_pages_per_outlet"), "max_pages_per_outlet"),
                     outlets=self.outlets(data.get("outlet")))


def _type_name(value: Any) -> str:
    names = {bool: "a boolean", int: "an integer", float: "a number", str: "a string", list: "a list",
             dict: "a table", date: "a date", datetime: "a date-time", time: "a time"}
    return names.get(type(value), type(value).__name__)


def parse_topic(data: Mapping, source: str = "<topic>") -> Topic:
    """A Topic from already-parsed TOML data; ``source`` names the file in error messages."""
    return _Checker(source).topic(data)


def _resolve(path: Path, topics_dir: str | os.PathLike | None) -> Path:
    """``path`` itself, or the same relative path under ``topics_dir`` when only that one exists."""
    if path.exists() or path.is_absolute() or not topics_dir:
        return path
    base = Path(topics_dir).resolve()
    candidate = (base / path).resolve()
    return candidate if candidate.is_relative_to(base) and candidate.exists() else path


def _read(path: Path, source: str) -> str:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise TopicError(f"{source}: file not found") from None
    except IsADirectoryError:
        raise TopicError(f"{source}: expected a topic file, got a directory") from None
    except OSError as error:
        raise TopicError(f"{source}: cannot be read ({error.strerror or error})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise TopicError(f"{source}: line {line}: expected UTF-8 text") from None


def load_topic(path: str | os.PathLike, topics_dir: str | os.PathLike | None = None) -> Topic:
    """Read and validate a topic file; a relative path missing here is looked up under ``topics_dir``."""
    resolved = _resolve(Path(path), topics_dir)
    source = str(resolved)
    looked_elsewhere = topics_dir and not resolved.exists() and not resolved.is_absolute()
    text = _read(resolved, f"{path} (also looked in {topics_dir})" if looked_elsewhere else source)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        found = _TOML_POSITION_RE.search(message)
        where = found.group(1).replace("end of document", "end of file") if found else "TOML"
        what = message[: found.start()] if found else message
        raise TopicError(f"{source}: {where}: invalid TOML ({what[:1].lower()}{what[1:]})") from None
    return replace(parse_topic(data, source), path=source)
