"""Meta-refresh redirects without decoding every page to look for one."""

from __future__ import annotations

from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware
from scrapy.http import Request, Response


class QuickMetaRefreshMiddleware(MetaRefreshMiddleware):
    """Scrapy's ``<meta http-equiv="refresh">`` redirects, without decoding every page to look for one.

    Scrapy decodes the whole body to read its first 4096 characters. Those fit in the first 16 KB of any
    ASCII-compatible encoding, so a page whose first 16 KB do not hold the word ``refresh`` has no such tag and
    is passed on as it is; one with NUL bytes there (UTF-16, UTF-32) gets Scrapy's full check.
    """

    def process_response(self, request: Request, response: Response) -> Request | Response:
        head = response.body[:16384]
        if b"\x00" not in head and b"refresh" not in head.lower():
            return response
        return super().process_response(request, response)
