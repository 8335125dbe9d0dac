"""What an article's URL looks like: a cheap test of a link found on a listing page, before any fetch."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from crawler.urls.dates import date_from_url
from crawler.urls.normal import normalize_url

_INDEX_SEGMENTS = frozenset({
    "tag", "tags", "topic", "topics", "author", "authors", "category", "categories", "section", "sections",
})
"""Index pages, unless the URL also carries a full date (``/sections/world/2021/07/16/...`` is an article)."""
_REJECT_SEGMENTS = frozenset({
    "login", "log-in", "signin", "sign-in", "logout", "signup", "sign-up", "register", "registration",
    "subscribe", "subscription", "subscriptions", "account", "my-account", "share", "print", "feed", "feeds",
    "rss", "atom", "comments", "comment", "search", "wp-admin", "wp-login.php", "wp-json", "cdn-cgi",
})
"""Never an article's own URL: account, share, print, feed, comment and search URLs."""
_ASSET_EXTENSIONS = frozenset({
    "jpg", "jpeg", "png", "gif", "webp", "avif", "svg", "ico", "bmp", "tif", "tiff", "css", "js", "mjs", "json",
    "map", "pdf", "xml", "rss", "atom", "zip", "gz", "tgz", "rar", "7z", "tar", "mp3", "mp4", "m4a", "m4v", "wav",
    "ogg", "webm", "mov", "avi", "woff", "woff2", "ttf", "otf", "eot", "doc", "docx", "xls", "xlsx", "ppt",
    "pptx", "csv", "txt", "exe", "dmg", "apk",
})
_SLUG_WORD_RE = re.compile(r"[^\W_]+")
_NUMERIC_ID_RES = (
    re.compile(r"^[a-z]{0,2}\d{5,}(?:\.[a-z]+)?$"),     # /a12345, /1234567, /1234567.html
    re.compile(r"[-_]\d{5,}(?:\.[a-z]+)?$"),             # slug-123456.html, world-europe-57861234
    re.compile(r"^[0-9a-f]{16,}$"),                      # hex object ids
    re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"),  # UUIDs
)


def _segments(url: str) -> list[str] | None:
    normal = normalize_url(url)
    if normal is None:
        return None
    return [unquote(s).lower() for s in urlsplit(normal).path.split("/") if s]


def _is_slug(segment: str) -> bool:
    stem = segment.rsplit(".", 1)[0] if "." in segment else segment
    words = [w for w in re.split(r"[-_]+", stem) if w]
    return len(words) >= 3 and sum(1 for w in words if _SLUG_WORD_RE.fullmatch(w) and not w.isdecimal()) >= 2


def _is_pagination(segments: list[str]) -> bool:
    return any(s == "page" and nxt.isdecimal() for s, nxt in zip(segments, segments[1:]))


def looks_like_article(url: str) -> bool:
    """Whether a URL's shape says "one article" rather than an index, account, share or asset URL.

    A cheap pre-filter for links found on listing pages; it errs towards False for URLs of no known article
    shape, since sitemaps and feeds list articles explicitly.
    """
    segments = _segments(url)
    if not segments:
        return False
    last = segments[-1]
    if "." in last and last.rsplit(".", 1)[1] in _ASSET_EXTENSIONS:
        return False
    if any(s in _REJECT_SEGMENTS for s in segments) or _is_pagination(segments):
        return False
    if len(segments) == 1 and len(last) < 12 and not any(r.search(last) for r in _NUMERIC_ID_RES):
        return False
    if date_from_url(url) is not None:
        return True
    if any(s in _INDEX_SEGMENTS for s in segments):
        return False
    return any(_is_slug(s) or any(r.search(s) for r in _NUMERIC_ID_RES) for s in segments)
