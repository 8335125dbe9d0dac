"""Hosts: the one host normaliser (host, port, www. twin), an outlet's scope, and addresses a crawl must not reach."""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Collection
from functools import lru_cache
from urllib.parse import urlsplit

from crawler.urls.normal import normalize_url, strip_url


def _split_host(url: str) -> tuple[str, str]:
    """(host, port) of a URL, normalized as in normalize_url; ("", "") when there is none."""
    normal = normalize_url(url)
    if normal is not None:
        hostport = urlsplit(normal).netloc.rpartition("@")[2]
    else:
        try:
            hostport = urlsplit(strip_url(url)).netloc.rpartition("@")[2].lower()
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


def www_twin(host: str) -> str | None:
    """The same site with or without "www.": ``example.com`` <-> ``www.example.com`` (a port in ``host`` is kept).

    The one rule for twins: the outlet's hosts (``Outlet.hosts``), the scope check and the robots.txt redirect
    check all use it. None for IP literals and when the name without "www." is a single label (``localhost``,
    ``www.localhost``): those name one machine, not one site under two names."""
    name, colon, port = host.rpartition(":") if not host.endswith("]") and ":" in host else (host, "", "")
    bare = name.removeprefix("www.")
    if "." not in bare or _literal_ip(bare) is not None:
        return None
    return f"{bare if bare != name else 'www.' + name}{colon}{port}"


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
        if entry_host in (host, www_twin(host)) and (not entry_port or entry_port == port):
            return True
    return False


def same_host(url: str, origin: str) -> bool:
    """Whether ``url`` is on ``origin``'s host or its www. twin, whatever the scheme and port (a redirect
    from http to https of the same site)."""
    host, _ = _split_host(url)
    origin_host, _ = _split_host(origin)
    return bool(host) and host in (origin_host, www_twin(origin_host))


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
