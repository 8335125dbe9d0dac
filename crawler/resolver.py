"""A DNS resolver that refuses private, loopback, link-local and reserved answers.

A host name proves nothing about where it leads: a sitemap may list ``http://intranet.example.com/``, a public
name may resolve to ``127.0.0.1``, and a name may answer differently between a check and the connection (DNS
rebinding). The only address worth checking is the one the connection is made to, so the check sits in the
resolver Scrapy connects through (``TWISTED_DNS_RESOLVER``): Scrapy's own caching resolver, whose answers are
refused unless ``GUARD_ALLOW_PRIVATE_HOSTS`` is set. It covers every request, redirect hops and robots.txt included.

Twisted's connection code turns any resolver error into a bare "no results for hostname lookup", so the refused
names are also kept in :data:`refused` for the request guard, which counts ``guard/private_address`` and turns the
failure into one clear line, and for the retry middleware, which does not retry them.

Through an HTTP proxy it is the proxy's name that is resolved here, not the target's (the proxy resolves that):
the proxy named by ``http_proxy`` / ``https_proxy`` is exempt, since the operator chose it, and targets keep
the checks that need no lookup (the outlet's hosts, literal private IPs, ``localhost``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit
from urllib.request import getproxies

from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.datatypes import LocalCache
from twisted.internet.error import DNSLookupError

from crawler.urls.hosts import is_private_address

if TYPE_CHECKING:
    from collections.abc import Sequence

    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)

refused: LocalCache[str, str] = LocalCache(10000)
"""Host name (lowercase) -> the private address it resolved to, for names refused in this process."""


class PrivateAddressError(DNSLookupError):
    """A name resolved to an address a public crawl must not connect to."""


def proxy_hosts(proxies: Iterable[str]) -> frozenset[str]:
    """The host names of proxy URLs (``http://proxy:3128`` or ``proxy:3128``), lowercased."""
    hosts = set()
    for proxy in proxies:
        host = urlsplit(proxy if "://" in proxy else f"http://{proxy}").hostname
        if host:
            hosts.add(host.lower())
    return frozenset(hosts)


class PublicAddressResolver(CachingThreadedResolver):
    """Scrapy's caching threaded resolver, refusing private/loopback/link-local/reserved answers unless
    ``allow_private``; ``exempt`` names (the configured proxies) are resolved as they are."""

    def __init__(self, reactor: Any, cache_size: int, timeout: float, *, allow_private: bool,
                 exempt: frozenset[str] = frozenset()) -> None:
        super().__init__(reactor, cache_size, timeout)
        self.allow_private = allow_private
        self.exempt = exempt

    @classmethod
    def from_crawler(cls, crawler: Any, reactor: Any) -> "PublicAddressResolver":
        # Scrapy builds resolvers from its CrawlerProcess (settings, no stats): one resolver per process.
        settings = crawler.settings
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(reactor, cache_size, settings.getfloat("DNS_TIMEOUT"),
                   allow_private=settings.getbool("GUARD_ALLOW_PRIVATE_HOSTS"),
                   exempt=proxy_hosts(getproxies().values()))

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:  # noqa: N802 - Twisted's
        resolved = super().getHostByName(name, timeout)
        if self.allow_private or name.lower() in self.exempt:
            return resolved
        return resolved.addCallback(self._check, name)

    def _check(self, address: str, name: str) -> str:
        if is_private_address(address):
            refused[name.lower()] = address
            raise PrivateAddressError(f"{name} resolves to {address}, a private address")
        return address
