"""URL normalization, canonicalization, scope and article heuristics.

Every component keys its bookkeeping by URL (seen sets, the state database, text file names), so every
component must agree on one normal form; that form is defined here and nowhere else.

w3lib's ``canonicalize_url`` does the heavy lifting (IDNA hosts, percent-encoding, dot segments, sorted query,
no fragment). courlan's ``normalize_url`` is not used: it turns punycode back into Unicode, keeps fragments
and strips any parameter matching a broad pattern (``cid``, ``source``, ``session``...), which would merge
distinct articles of outlets that use such parameters as article ids.
"""

from __future__ import annotations

import calendar
import ipaddress
import re
import socket
from functools import lru_cache
from collections.abc import Collection
from datetime import date
from urllib.parse import parse_qs, unquote, unquote_plus, urljoin, urlsplit, urlunsplit

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


def _strip(url: str) -> str:
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
    url = _strip(url)
    if not url or len(url) > MAX_URL_LENGTH:
        return None
    try:
        if base:
            url = urljoin(_strip(base), url)
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
        return _strip(url) if isinstance(url, str) else ""
    parts = urlsplit(normal)
    query = _filter_query(parts.query, _is_variant_param)
    return urlunsplit((parts.scheme, _regular_host(parts.netloc), _regular_path(parts.path), query, ""))


def _split_host(url: str) -> tuple[str, str]:
    """(host, port) of a URL, normalized as in normalize_url; ("", "") when there is none."""
    normal = normalize_url(url)
    if normal is not None:
        hostport = urlsplit(normal).netloc.rpartition("@")[2]
    else:
        try:
            hostport = urlsplit(_strip(url)).netloc.rpartition("@")[2].lower()
        except ValueError:
            return "", ""
    if hostport.startswith("["):
        host, _, rest = hostport.partition("]")
        return host + "]", rest[1:]
    host, _, port = hostport.partition(":")
    return host.rstrip("."), port


def host_of(url: str) -> str:
    """Lowercased ``host[:port]``, the port only when it is not the scheme's default."""
    host, port = _split_host(url)
    return f"{host}:{port}" if port else host


@lru_cache(maxsize=4096)
def _host_entry(entry: str) -> tuple[str, str]:
    entry = entry.strip().lower()
    return _split_host(entry if "://" in entry else f"http://{entry}/")


def _www_twin(host: str) -> str:
    return host[4:] if host.startswith("www.") else f"www.{host}"


def in_scope(url: str, hosts: Collection[str]) -> bool:
    """Whether the (http/https) URL's host, or its www. twin, is one of the outlet's hosts.

    A host listed without a port matches any port; one listed with a port matches that port only.
    """
    normal = normalize_url(url)
    host, port = _split_host(normal) if normal else ("", "")
    if not host:
        return False
    for entry in hosts:
        entry_host, entry_port = _host_entry(entry)
        if entry_host in (host, _www_twin(host)) and (not entry_port or entry_port == port):
            return True
    return False


def same_host(url: str, origin: str) -> bool:
    """Whether ``url`` is on ``origin``'s host or its www. twin, whatever the scheme and port (a redirect
    from http to https of the same site)."""
    host, _ = _split_host(url)
    origin_host, _ = _split_host(origin)
    return bool(host) and host in (origin_host, _www_twin(origin_host))


_NUMERIC_HOST_RE = re.compile(r"^(?:0x[0-9a-f]*|[0-9]+)(?:\.(?:0x[0-9a-f]*|[0-9]+)){0,3}$")


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a literal host denotes, including the short and hex forms resolvers accept (127.1, 0x7f.1)."""
    host = host.strip("[]")
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    if _NUMERIC_HOST_RE.match(host):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    return None


def is_private_address(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether an IP address is one a public crawl must not reach: any address that is not global (private,
    loopback, link-local, shared/CGNAT, site-local, reserved), multicast or unspecified; an IPv4 address inside
    an IPv6 one (mapped, 6to4, Teredo) is judged by itself too. Not an address: True."""
    if isinstance(address, str):
        try:
            address = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
        except ValueError:
            return True
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]
        if embedded is not None and is_private_address(embedded):
            return True  # an IPv4 address wrapped in IPv6 (mapped, 6to4, Teredo) is judged by itself too
        if address.ipv4_mapped is not None:
            address = address.ipv4_mapped
    # Not global: private, loopback, link-local, shared (CGNAT, 100.64/10: cloud metadata services live there),
    # site-local, reserved, documentation ranges; multicast is "global" for the ipaddress module, so named apart.
    return (not address.is_global or address.is_private or address.is_loopback or address.is_link_local
            or address.is_reserved or address.is_multicast or address.is_unspecified
            or getattr(address, "is_site_local", False))


def is_private_host(url: str) -> bool:
    """Whether the URL names localhost or a literal IP a public crawl must not reach (no DNS lookup is made:
    the address a name resolves to is checked where it is resolved, by crawler.resolver)."""
    host, _ = _split_host(url)
    if host == "localhost" or host.endswith(".localhost"):
        return True
    address = _literal_ip(host)
    return address is not None and is_private_address(address)


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
        path = urlsplit(_strip(url)).path
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
        parts = urlsplit(_strip(url))
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
