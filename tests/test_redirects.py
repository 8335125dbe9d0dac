"""Redirect memory on single responses: which hops are stored in the topic's state, and under which URLs.

Later runs go straight to a remembered target, so a hop stored under the wrong URL (or one that is not a
redirect of an article) would make a crawl skip or refetch pages.
"""

from __future__ import annotations

import pytest
from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.fetch.redirects import RedirectMemoryMiddleware
from crawler.run import TopicRun
from crawler.store import SqliteStore as State


@pytest.fixture
def state(tmp_path):
    state = State(tmp_path / "state.sqlite")
    yield state
    state.close()


def middleware(state: State | None) -> RedirectMemoryMiddleware:
    crawler = get_crawler(Spider)
    crawler.spider = Spider("coverage")
    if state is not None:  # the crawl's run holds the store (crawler.run.TopicRun)
        crawler.topic_run = TopicRun(topic=None, paths=None, store=state)
    return RedirectMemoryMiddleware.from_crawler(crawler)


def answer(url: str, status: int, location: str | None, kind: str = "article") -> tuple[Request, Response]:
    request = Request(url, meta={"kind": kind})
    headers = {"Location": location} if location is not None else {}
    return request, Response(url, status=status, headers=headers, request=request)


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_of_an_article_is_remembered_between_canonical_urls(state, status):
    memory = middleware(state)
    request, response = answer("https://www.alpha.test/s/1?utm_source=rss", status, "../story")
    assert memory.process_response(request, response) is response  # Scrapy's redirect middleware follows it
    assert state.redirect_of("https://www.alpha.test/s/1") == "https://www.alpha.test/story"
    assert memory.stats.get_value("redirects/remembered") == 1


@pytest.mark.parametrize("status, location, kind", [
    (200, "https://www.alpha.test/story", "article"),  # not a redirect
    (304, "https://www.alpha.test/story", "article"),
    (301, "https://www.alpha.test/feed2", "feed"),  # listings are requested again each run anyway
    (301, None, "article"),  # no Location: nothing to follow
    (301, "https://www.alpha.test/a?utm_source=x", "article"),  # to itself, once canonical
])
def test_other_answers_leave_no_memory(state, status, location, kind):
    memory = middleware(state)
    request, response = answer("https://www.alpha.test/a", status, location, kind)
    assert memory.process_response(request, response) is response
    assert state.redirect_of("https://www.alpha.test/a") is None
    assert memory.stats.get_value("redirects/remembered") is None


def test_a_spider_without_an_archive_state_is_passed_through():
    memory = middleware(None)
    request, response = answer("https://www.alpha.test/a", 301, "https://www.alpha.test/b")
    assert memory.process_response(request, response) is response
