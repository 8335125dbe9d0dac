"""URLs: one normal form, hosts and scope, article shapes, dates in URLs.

Each job is a module of its own: ``normal`` (the normal form every component keys its bookkeeping by, and the
canonical URL behind AMP and print variants), ``hosts`` (host, port, www. twin, an outlet's scope, private
addresses), ``shapes`` (does a link look like an article?), ``dates`` (dates a URL spells out). The names are
re-exported here, so ``from crawler.urls import normalize_url`` keeps working.
"""

from crawler.urls.dates import date_from_url, month_bounds, month_from_url
from crawler.urls.hosts import host_of, in_scope, is_private_address, is_private_host, same_host, www_twin
from crawler.urls.normal import (MAX_URL_LENGTH, TRACKING_PARAMS, TRACKING_PREFIXES, canonical_url, normalize_url,
                                 strip_url)
from crawler.urls.shapes import looks_like_article

__all__ = ["MAX_URL_LENGTH", "TRACKING_PARAMS", "TRACKING_PREFIXES", "canonical_url", "date_from_url", "host_of",
           "in_scope", "is_private_address", "is_private_host", "looks_like_article", "month_bounds",
           "month_from_url", "normalize_url", "same_host", "strip_url", "www_twin"]
