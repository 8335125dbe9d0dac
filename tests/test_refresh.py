"""The quick meta-refresh middleware on single requests and responses: the tag is found in any encoding, and a
page without it is passed on undecoded."""

from __future__ import annotations

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse
from scrapy.utils.test import get_crawler

from crawler.middlewares.refresh import QuickMetaRefreshMiddleware

REFRESH = '<html><head><meta http-equiv="Refresh" content="0; url=/news/moved"></head><body>x</body></html>'


def middleware() -> QuickMetaRefreshMiddleware:
    return QuickMetaRefreshMiddleware.from_crawler(get_crawler(settings_dict={"METAREFRESH_ENABLED": True}))


def response(body: bytes, encoding: str = "utf-8") -> HtmlResponse:
    request = Request("http://www.outlet.test/news/old")
    return HtmlResponse(request.url, body=body, encoding=encoding, request=request)


@pytest.mark.parametrize("encoding", ["utf-8", "utf-16", "cp1251"])
def test_a_meta_refresh_redirects_whatever_the_encoding(encoding):
    page = response(REFRESH.encode(encoding), encoding)
    result = middleware().process_response(page.request, page)
    assert isinstance(result, Request)  # the full check ran (Scrapy's own URL encoding decides the rest)
    assert result.url.startswith("http://www.outlet.test/news/moved")


def test_a_page_without_the_tag_is_passed_on_undecoded():
    page = response(b"<html><body>" + b"<p>refreshing news</p>" * 10 + b"x" * 100_000 + b"</body></html>")
    assert middleware().process_response(page.request, page) is page
    plain = response(b"<html><body><p>" + b"y" * 100_000 + b"</p></body></html>")
    assert middleware().process_response(plain.request, plain) is plain
    assert plain._cached_ubody is None  # never decoded


def test_a_tag_past_the_first_4096_characters_is_ignored_as_scrapy_does():
    page = response(b"<html><body>" + b"z" * 20_000 + REFRESH.encode() + b"</body></html>")
    assert middleware().process_response(page.request, page) is page
