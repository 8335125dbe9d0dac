"""Sitemaps announced in robots.txt: the usual way into an outlet's sitemaps."""

from __future__ import annotations

from protego import Protego

from crawler.urls.normal import normalize_url

MAX_ROBOTS_BYTES = 500 * 1024
"""Google reads the first 500 KiB of a robots.txt and ignores the rest; so do we."""


def sitemaps_from_robots(body: bytes, robots_url: str) -> list[str]:
    """The ``Sitemap:`` URLs of a robots.txt, absolute (relative ones resolved) and normalized, in order."""
    text = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
    found: list[str] = []
    for raw in Protego.parse(text).sitemaps:
        url = normalize_url(raw, base=robots_url)
        if url is not None and url not in found:
            found.append(url)
    return found
