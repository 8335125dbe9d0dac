"""Downloader middlewares for a polite, safe crawl, one per module, each a small Scrapy component built by
``from_crawler`` that reads its own settings (see crawler/settings.py, which names each by its module's path):

- ``guard``: requests the crawl never sends (scheme, private hosts, URL length, off the outlet, budgets);
- ``robots``: robots.txt, capped, with server errors and refused redirects disallowing the host;
- ``retry``: retries that wait (``Retry-After``, backoff) on the outlet's slot;
- ``truncated``: responses cut short flagged ``truncated``;
- ``refresh``: meta-refresh redirects without decoding every page.

The names other modules use are importable from here too.
"""

from crawler.middlewares.guard import MAX_URL_LENGTH, OverBudget, Refused, RefusedRedirect, RequestGuardMiddleware
from crawler.middlewares.refresh import QuickMetaRefreshMiddleware
from crawler.middlewares.retry import BackoffRetryMiddleware, retry_after_seconds
from crawler.middlewares.robots import ROBOTS_FORBIDDEN, OutletRobotsMiddleware, capped_robots
from crawler.middlewares.truncated import TruncatedBodyMiddleware

__all__ = ["MAX_URL_LENGTH", "ROBOTS_FORBIDDEN", "BackoffRetryMiddleware", "OutletRobotsMiddleware",
           "OverBudget", "QuickMetaRefreshMiddleware", "Refused", "RefusedRedirect", "RequestGuardMiddleware",
           "TruncatedBodyMiddleware", "capped_robots", "retry_after_seconds"]
