"""Keep the connection headers of a response (``Transfer-Encoding``, ``Connection``, ``Keep-Alive``) for the WARC.

Twisted's HTTP client files these headers apart from the others and Scrapy builds its ``Response`` from the others
only, so a recorder reading ``response.headers`` would archive a chunked response without its
``Transfer-Encoding: chunked`` line. No public hook exposes them; this module wraps the two private functions
involved (the parser's status line handler and Scrapy's header conversion) and, should either disappear in a
future version, leaves Scrapy untouched and says so once in the log.
"""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

_installed = False


def install() -> bool:
    """Make Scrapy responses carry the connection headers too; idempotent. False when not possible."""
    global _installed
    if _installed:
        return True
    try:
        from scrapy.core.downloader.handlers import http11
        parser_class = http11._LenientHTTPClientParser
        agent_class = http11._ScrapyAgent
        original_status = parser_class.statusReceived
        original_headers = agent_class._headers_from_twisted_response
    except AttributeError:
        logger.warning("this Scrapy version hides connection headers (Transfer-Encoding) from the WARC recorder")
        return False

    def statusReceived(self, status):  # noqa: N802 - Twisted's name
        original_status(self, status)
        response = getattr(self, "response", None)
        if response is not None:
            response._connection_headers = self.connHeaders  # filled as the header lines arrive

    def headers_from_twisted_response(response):
        headers = original_headers(response)
        connection = getattr(response, "_connection_headers", None)
        if connection is not None:
            for name, values in connection.getAllRawHeaders():
                if name.lower() != b"content-length":  # Scrapy sets it already
                    headers.setlist(name, values)
        return headers

    parser_class.statusReceived = statusReceived
    agent_class._headers_from_twisted_response = staticmethod(headers_from_twisted_response)
    _installed = True
    return True
