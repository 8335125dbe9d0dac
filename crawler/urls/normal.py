"""The one normal form of a URL, and the canonical URL behind AMP and print variants.

Every component keys its bookkeeping by URL (seen sets, the store, text file names), so every component must
agree on one normal form; that form is defined here and nowhere else.

w3lib's ``canonicalize_url`` does the heavy lifting (IDNA hosts, percent-encoding, dot segments, sorted query,
no fragment). courlan's ``normalize_url`` is not used: it turns punycode back into Unicode, keeps fragments
and strips any parameter matching a broad pattern (``cid``, ``source``, ``session``...), which would merge
distinct articles of outlets that use such parameters as article ids.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

from w3lib.url import canonicalize_url

MAX_URL_LENGTH = 8192

TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "gclsrc", "dclid", "msclkid", "yclid", "twclid", "ttclid", "igshid", "igsh", "wbraid",
    "gbraid", "mc_cid", "mc_eid", "ocid", "cmpid", "cmp", "ncid", "smid", "smtyp", "spm", "ref", "ref_src",
    "ref_url", "referrer", "_ga", "_gl", "_hsenc", "_hsmi", "mkt_tok", "xtor", "s_cid", "s_kwcid", "soc_src",
    "soc_trk", "share", "sr_share", "mbid", "rb_clickid", "__twitter_impression", "wt.mc_id", "wt.tsrc",
})
"""Query parameters that only say how a reader arrived; exact names, compared case-insensitively."""

TRACKING_PREFIXES = ("utm_", "at_", "ns_", "pk_", "mtm_", "hsa_", "oly_", "vero_", "itm_")
"""Families of tracking parameters (``utm_source``, AT Internet's ``at_medium``, Nielsen's ``ns_campaign``...)."""

_SCHEMES = frozenset({"http", "https"})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_STRIP_CHARS = "".join(map(chr, range(0x21))) + "\x7f\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006" \
    "\u2007\u2008\u2009\u200a\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
_INNER_WHITESPACE = re.compile(r"[\t\n\r]")
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?"
_HOST_RE = re.compile(rf"^(?:{_LABEL}\.)*{_LABEL}$|^\[[0-9a-f:.]+\]$")


def strip_url(url: str) -> str:
    """Leading/trailing whitespace and controls, and tabs/newlines anywhere (as browsers do)."""
    return _INNER_WHITESPACE.sub("", url.strip(_STRIP_CHARS))


def _is_tracking(pair: str) -> bool:
    key = unquote_plus(pair.partition("=")[0]).lower()
    return key in TRACKING_PARAMS or key.startswith(TRACKING_PREFIXES)


def _filter_query(query: str, drop) -> str:
    return "&".join(pair for pair in query.split("&") if pair and not drop(pair))


def _clean_netloc(netloc: str, scheme: str) -> str | None:
    """Host without trailing dot, default port dropped; None when the host is missing or not a valid name."""
    userinfo, _, hostport = netloc.rpartition("@")
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        host += "]"
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = hostport.partition(":")
    host = host.rstrip(".")
    if not host or not _HOST_RE.match(host):
        return None
    if port and (not port.isdecimal() or int(port) > 65535):
        return None
    if port and int(port) == _DEFAULT_PORTS[scheme]:
        port = ""
    hostport = f"{host}:{int(port)}" if port else host
    return f"{userinfo}@{hostport}" if userinfo else hostport


def normalize_url(url: str, base: str | None = None) -> str | None:
    """The one normal form of an http(s) URL, or None when it is not one a news crawl can fetch.

    Absolute (resolved against ``base``); scheme and host lowercased, IDN host in punycode, default port,
    fragment and tracking parameters dropped, remaining query sorted, dot segments resolved.
    """
    if not isinstance(url, str) or not (base is None or isinstance(base, str)):
        return None
    return _normalize(url, base)


@lru_cache(maxsize=8192)  # one article URL is normalized about ten times on its way through the crawl
def _normalize(url: str, base: str | None) -> str | None:
    url = strip_url(url)
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    try:
        if base:
            url = urljoin(strip_url(base), url)
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in _SCHEMES or not parts.netloc:
            return None
        canonical = canonicalize_url(url)
        parts = urlsplit(canonical)
    except (ValueError, UnicodeError):
        return None
    netloc = _clean_netloc(parts.netloc, scheme)
    if netloc is None:
        return None
    query = _filter_query(parts.query, _is_tracking)
    result = urlunsplit((scheme, netloc, parts.path or "/", query, ""))
    return result if len(result) <= MAX_URL_LENGTH else None


_AMP_PRINT_SEGMENTS = frozenset({"amp", "print"})
_AMP_PRINT_KEYS = frozenset({"amp", "_amp", "print", "printable"})
_AMP_PRINT_VALUES = {"outputtype": {"amp"}, "output": {"amp", "print"}, "view": {"print", "amp"}}
_AMP_SUFFIX_RE = re.compile(r"\.amp(?=\.html?$|$)", re.IGNORECASE)


def _is_variant_param(pair: str) -> bool:
    key, _, value = pair.partition("=")
    key, value = unquote_plus(key).lower(), unquote_plus(value).lower()
    return key in _AMP_PRINT_KEYS or value in _AMP_PRINT_VALUES.get(key, ())


def _without_amp_suffix(segment: str) -> str:
    """``story.amp.html`` -> ``story.html``, ``story.amp`` -> ``story`` (never down to an empty or dot name)."""
    while True:
        shorter = _AMP_SUFFIX_RE.sub("", segment, count=1)
        if shorter == segment or not any(c.isalnum() for c in shorter.split(".")[0]):
            return segment
        segment = shorter


def _regular_path(path: str) -> str:
    """The path without ``amp``/``print`` segments; a trailing slash is kept only if the path had one."""
    segments = [s for s in path.split("/") if s]
    kept = [s for s in segments if s.lower() not in _AMP_PRINT_SEGMENTS]
    if len(kept) != len(segments):
        path = "/" + "/".join(kept) + ("/" if kept and path.endswith("/") else "")
    head, _, last = path.rpartition("/")
    return f"{head}/{_without_amp_suffix(last)}"


def _regular_host(netloc: str) -> str:
    userinfo, at, hostport = netloc.rpartition("@")
    while hostport.startswith("amp.") and hostport.split(":")[0].count(".") >= 2:
        hostport = hostport[4:]
    return f"{userinfo}{at}{hostport}"


def canonical_url(url: str) -> str:
    """The URL of the regular article behind AMP and print variants: the key text files are named by.

    The AMP host prefix is dropped (``amp.example.com`` -> ``example.com``): which twin an outlet uses is not
    knowable from the URL, and an article's own ``<link rel=canonical>`` is preferred over this anyway.
    A URL that cannot be normalized is returned stripped, so callers always get a key.
    """
    normal = normalize_url(url)
    if normal is None:
        return strip_url(url) if isinstance(url, str) else ""
    parts = urlsplit(normal)
    query = _filter_query(parts.query, _is_variant_param)
    return urlunsplit((parts.scheme, _regular_host(parts.netloc), _regular_path(parts.path), query, ""))
