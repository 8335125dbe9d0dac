"""The frontier and redirect memory behave the same in both stores: SQLite (local) and Redis (distributed)."""

from __future__ import annotations

import pytest

from crawler.distributed import RedisState
from crawler.state import FrontierEntry, State


@pytest.fixture(params=["sqlite", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        state = State(tmp_path / "state.sqlite")
        yield state
        state.close()
    else:
        state = RedisState(request.getfixturevalue("redis_url"), topic="t")
        yield state
        state.close()


def article(url: str, **extra) -> FrontierEntry:
    return FrontierEntry(url, "alpha", "article", via="sitemap", **extra)


def test_a_listing_settles_only_with_what_it_listed(store):
    child = FrontierEntry("https://a.test/sitemap-2021-07.xml", "alpha", "sitemap")
    store.settle_discovery("https://a.test/index.xml", [child], '"e1"', None)
    assert store.validators("https://a.test/index.xml") == ('"e1"', None)
    store.settle_discovery(child.url, [article("https://a.test/a1", published="2021-07-16"), article("https://a.test/a2")],
                           None, "Wed, 21 Jul 2021 08:00:00 GMT")
    pending = store.pending()
    assert [e.url for e in pending] == ["https://a.test/a1", "https://a.test/a2"]  # the child is done
    assert pending[0].published == "2021-07-16"


def test_an_article_leaves_the_frontier_when_settled_not_when_it_failed(store):
    store.settle_discovery(None, [article("https://a.test/a1"), article("https://a.test/a2")])
    store.record_outcome("https://a.test/a1", kind="article", outlet="alpha", outcome="error", status=503)
    store.record_outcome("https://a.test/a2", kind="article", outlet="alpha", outcome="off_topic")
    assert [e.url for e in store.pending()] == ["https://a.test/a1"]
    store.drop_pending("https://a.test/a1")
    assert store.pending() == []


def test_redirects_are_remembered_both_ways(store):
    store.save_redirect("https://a.test/s/1", "https://a.test/story", 302)
    assert store.redirect_of("https://a.test/s/1") == "https://a.test/story"
    assert store.redirect_sources("https://a.test/story") == ["https://a.test/s/1"]
    assert store.redirect_of("https://a.test/story") is None
