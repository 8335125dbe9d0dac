"""Dates a URL spells out: an article's publication day, the month a date-partitioned sitemap covers."""

from __future__ import annotations

import calendar
import re
from datetime import date
from urllib.parse import parse_qs, unquote, urlsplit

from crawler.urls.normal import strip_url

_MIN_YEAR, _MAX_YEAR = 1995, 2100
_YMD_IN_SEGMENT_RE = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_COMPACT_DATE_RE = re.compile(r"(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)")


def _plausible(year: int, month: int, day: int = 1) -> date | None:
    if not _MIN_YEAR <= year <= _MAX_YEAR:
        return None
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _path_segments(url: str) -> list[str]:
    try:
        path = urlsplit(strip_url(url)).path
    except ValueError:
        return []
    return [unquote(s) for s in path.split("/") if s]


_MONTH_NAMES = {name.lower(): number for number, name in enumerate(calendar.month_abbr) if name} | {
    name.lower(): number for number, name in enumerate(calendar.month_name) if name} | {"sept": 9}


def _month_number(segment: str) -> str:
    """``jul`` / ``july`` -> ``7`` (as in /world/2021/jul/16/), other segments unchanged."""
    number = _MONTH_NAMES.get(segment.lower())
    return str(number) if number else segment


def _date_from_segment_run(segments: list[str]) -> date | None:
    """/2021/07/16/ or /2021/jul/16/ (year first), or an unambiguous /16/07/2021/ (day first, day > 12)."""
    for a, b, c in zip(segments, segments[1:], segments[2:]):
        b = _month_number(b)
        if not all(len(s) <= 4 and s.isascii() and s.isdecimal() for s in (a, b, c)):
            continue
        if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
            found = _plausible(int(a), int(b), int(c))
        elif len(c) == 4 and len(a) <= 2 and len(b) <= 2 and int(a) > 12:
            found = _plausible(int(c), int(b), int(a))
        else:
            found = None
        if found:
            return found
    return None


def date_from_url(url: str) -> date | None:
    """The publication date an article URL spells out, if it spells out a whole one (a month is not a date)."""
    segments = _path_segments(url)
    found = _date_from_segment_run(segments)
    if found:
        return found
    for pattern in (_YMD_IN_SEGMENT_RE, _COMPACT_DATE_RE):
        for segment in segments:
            for match in pattern.finditer(segment):
                found = _plausible(*map(int, match.groups()))
                if found:
                    return found
    return None


_MONTH_RES = (
    re.compile(r"(?<!\d)(\d{4})[-_/.](\d{1,2})(?!\d)"),   # sitemap-2021-07.xml, /2021/07/sitemap.xml
    re.compile(r"(?<!\d)(\d{4})(\d{2})(?:\d{2})?(?!\d)"),  # sitemap_202107.xml, sitemap-20210716.xml
)
_QUERY_YEAR_KEYS, _QUERY_MONTH_KEYS = ("year", "yyyy"), ("month", "mm")


def _first_number(query: dict[str, list[str]], keys: tuple[str, ...]) -> int | None:
    values = [v for k in keys for v in query.get(k, []) if v.isdecimal()]
    return int(values[0]) if values else None


def month_from_url(url: str) -> tuple[int, int] | None:
    """The (year, month) a date-partitioned sitemap covers, from its path or a year=&month= query."""
    try:
        parts = urlsplit(strip_url(url))
    except ValueError:
        return None
    for pattern in _MONTH_RES:
        for match in pattern.finditer(unquote(parts.path)):
            if _plausible(int(match[1]), int(match[2])):
                return int(match[1]), int(match[2])
    query = parse_qs(parts.query.lower())
    year, month = _first_number(query, _QUERY_YEAR_KEYS), _first_number(query, _QUERY_MONTH_KEYS)
    if year is not None and month is not None and _plausible(year, month):
        return year, month
    return None


def month_bounds(year: int, month: int) -> tuple[date, date]:
    """First and last day of a month."""
    return date(year, month, 1), date(year, month, calendar.monthrange(year, month)[1])
