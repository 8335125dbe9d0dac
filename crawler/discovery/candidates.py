"""What discovery hands to the spider: article candidates, child sitemaps, and the one error it raises.

Discovery functions are pure (a body and its URL in, these values out), so the spider decides what to fetch
and tests need no crawl.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Candidate:
    """A URL that may be an article of the story, with whatever the listing said about it."""

    url: str
    via: str
    title: str | None = None
    summary: str | None = None
    published: date | None = None
    # A plain sitemap's <lastmod>: the page changed then, so it was published on or before that day.
    lastmod: date | None = None

    def outside(self, since: date | None, until: date | None) -> bool:
        """Known to lie outside [since, until]: by its publication date, or modified last before ``since``."""
        if self.published is not None:
            return (since is not None and self.published < since) or (until is not None and self.published > until)
        return since is not None and self.lastmod is not None and self.lastmod < since


@dataclass(frozen=True)
class ChildSitemap:
    """A sitemap listed by a sitemap index; ``lastmod`` lets the spider skip ones older than the window."""

    url: str
    lastmod: date | None = None


class DiscoveryError(ValueError):
    """A discovery body that cannot be read as what it was fetched as; the message names the URL and why."""
