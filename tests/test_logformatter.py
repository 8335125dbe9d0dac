"""The item log lines: one short line each, and none built below LOG_LEVEL."""

from __future__ import annotations

import logging

import pytest
from scrapy.exceptions import DropItem
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler

from crawler.items import ArticleItem
from crawler.logformatter import ArticleLogFormatter

REQUEST = Request("http://daily.test/a")
RESPONSE = HtmlResponse("http://daily.test/a", body=b"<html></html>", request=REQUEST)


def formatter(**settings) -> ArticleLogFormatter:
    return ArticleLogFormatter.from_crawler(get_crawler(settings_dict=settings))


def item() -> ArticleItem:
    return ArticleItem(url="http://daily.test/a", final_url="http://daily.test/a", outlet="Daily", outlet_slug="daily",
                       via="sitemap", html=b"", status=200, fetched_at="2026-01-01T00:00:00Z")


def test_lines_name_the_article_not_its_text():
    lines = formatter(LOG_LEVEL="DEBUG")
    scraped = lines.scraped(item(), RESPONSE, None)
    assert scraped["level"] == logging.DEBUG and scraped["args"]["item"] == "http://daily.test/a"
    dropped = lines.dropped(item(), DropItem("not kept (duplicate)"), RESPONSE, None)
    assert dropped["level"] == logging.INFO and dropped["args"]["reason"] == "not kept (duplicate)"
    assert lines.crawled(REQUEST, RESPONSE, None)["level"] == logging.DEBUG


@pytest.mark.parametrize("level", ["INFO", "info", logging.INFO])
def test_lines_below_the_log_level_are_not_built(level):
    lines = formatter(LOG_LEVEL=level)
    assert lines.crawled(REQUEST, RESPONSE, None) is None
    assert lines.scraped(item(), RESPONSE, None) is None
    assert lines.dropped(item(), DropItem("off topic"), RESPONSE, None)["level"] == logging.INFO
    assert formatter(LOG_LEVEL="WARNING").dropped(item(), DropItem("off topic"), RESPONSE, None) is None


def test_errors_are_always_built():
    assert formatter(LOG_LEVEL="CRITICAL").item_error(item(), ValueError(), RESPONSE, None)["level"] == logging.ERROR


def test_every_line_is_built_when_logging_is_left_to_the_application():
    """Without Scrapy's handler (LOG_ENABLED=False) the application's own handlers decide what to keep."""
    lines = formatter(LOG_ENABLED=False, LOG_LEVEL="WARNING")
    assert lines.crawled(REQUEST, RESPONSE, None) is not None
    assert lines.scraped(item(), RESPONSE, None) is not None
