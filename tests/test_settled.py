""""Already settled by an earlier run" (crawler/fetch/settled.py): which listed article URLs a run asks for again.

The verdicts are checked against a real SQLite store filled the way a crawl fills it (outcomes, redirect hops);
two crawls of a real site check that the component is what makes a second run skip what the first settled.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scrapy import Spider, signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.test import get_crawler

from crawler.contracts import Kind, Outcome
from crawler.fetch.settled import UNSETTLED, MAX_REDIRECT_MEMORY_HOPS, SettledMiddleware, Verdict
from crawler.run import TopicRun
from crawler.store import SqliteStore
from tests.support.crawl import crawl
from tests.support.settings import project_settings_dict
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

HOSTS = frozenset({"www.alpha.test", "alpha.test"})
A = "https://www.alpha.test/news/a"
B = "https://www.alpha.test/news/b"
C = "https://www.alpha.test/news/c"


@pytest.fixture
def store(tmp_path):
    state = SqliteStore(tmp_path / "state.sqlite")
    yield state
    state.close()


def opened(store: SqliteStore | None, **settings) -> SettledMiddleware:
    """The middleware as a crawl builds it, opened with the spider (the run holds the store)."""
    crawler = get_crawler(Spider, settings_dict=project_settings_dict(**settings))
    if store is not None:
        crawler.topic_run = TopicRun(topic=None, paths=None, store=store)
    middleware = SettledMiddleware.from_crawler(crawler)
    crawler.signals.send_catch_log(signals.spider_opened, spider=Spider.from_crawler(crawler, name="coverage"))
    return middleware


def record(store: SqliteStore, url: str, outcome: Outcome, status: int | None = 200, days_ago: float = 0) -> None:
    fetched_at = (datetime.now(timezone.utc) - timedelta(days=days_ago)).isoformat(timespec="seconds")
    store.record_outcome(url, kind=Kind.ARTICLE, outlet="alpha", outcome=outcome, status=status, fetched_at=fetched_at)


def test_a_url_no_run_settled_is_fetched_as_listed(store):
    settled = opened(store)
    assert settled.verdict(A, HOSTS) == Verdict(A)
    assert settled.stats.get_stats().get("settled/skipped") is None


@pytest.mark.parametrize("outcome", [o for o in Outcome if o != Outcome.ERROR and o not in UNSETTLED])
def test_every_outcome_but_an_error_settles_a_url(store, outcome):
    settled = opened(store)
    record(store, A, outcome)
    assert settled.verdict(A, HOSTS) == Verdict(None, "archived_earlier")
    assert settled.stats.get_value("settled/skipped") == 1


@pytest.mark.parametrize("outcome", sorted(UNSETTLED))
def test_what_was_refused_or_dated_by_a_listing_is_never_settled(store, outcome):
    """Recorded for the report only: robots.txt may allow it later, a budget is per run, a window may widen."""
    settled = opened(store)
    record(store, A, outcome)
    record(store, A, outcome)
    assert settled.verdict(A, HOSTS) == Verdict(A) and not settled.is_settled(A)


def test_an_error_is_tried_again_up_to_the_cap_and_a_404_twice(store):
    settled = opened(store, SETTLED_ERROR_RETRY_RUNS=3)
    for attempt in range(1, 4):
        record(store, A, Outcome.ERROR, status=503)
        record(store, B, Outcome.ERROR, status=404)
        assert settled.is_settled(A) == (attempt >= 3)
        assert settled.is_settled(B) == (attempt >= 2)


def test_refresh_after_days_fetches_old_archived_articles_again(store):
    settled = opened(store, SETTLED_REFRESH_AFTER_DAYS=7)
    record(store, A, Outcome.KEPT, days_ago=8)
    record(store, B, Outcome.KEPT, days_ago=1)
    store.record_outcome(C, kind=Kind.ARTICLE, outlet="alpha", outcome=Outcome.KEPT, fetched_at="yesterday")
    assert settled.verdict(A, HOSTS) == Verdict(A)
    assert settled.verdict(B, HOSTS).url is None
    assert settled.is_settled(C)  # an unreadable date: kept as it is rather than fetched on every run


def test_a_remembered_redirect_is_followed_to_its_target(store):
    settled = opened(store)
    store.save_redirect(A, B, 301)
    store.save_redirect(B, C, 302)
    assert settled.verdict(A, HOSTS) == Verdict(C, "redirect_remembered")
    assert settled.stats.get_value("settled/redirect_followed") == 1


def test_a_redirect_settles_what_it_leads_to_and_where_it_came_from(store):
    settled = opened(store)
    store.save_redirect(A, B, 301)
    record(store, B, Outcome.KEPT)
    assert settled.verdict(A, HOSTS) == Verdict(None, "archived_earlier")  # its target is archived
    store.save_redirect(C, "https://www.alpha.test/news/d", 301)
    record(store, C, Outcome.OFF_TOPIC)
    assert settled.verdict("https://www.alpha.test/news/d", HOSTS) == Verdict(None, "archived_earlier")


def test_a_redirect_off_the_outlet_or_in_a_loop_settles_the_url(store):
    settled = opened(store)
    store.save_redirect(A, "https://elsewhere.test/story", 301)
    store.save_redirect(B, C, 301)
    store.save_redirect(C, B, 301)
    assert settled.verdict(A, HOSTS) == Verdict(None, "redirected_offsite")
    assert settled.verdict(B, HOSTS) == Verdict(None, "redirect_loop")
    stats = settled.stats.get_stats()
    assert (stats["settled/redirected_offsite"], stats["settled/redirect_loop"]) == (1, 1)


def test_a_chain_longer_than_a_fetch_would_follow_counts_as_a_loop(store):
    settled = opened(store)
    chain = [f"https://www.alpha.test/hop/{n}" for n in range(MAX_REDIRECT_MEMORY_HOPS + 2)]
    for source, target in zip(chain, chain[1:]):
        store.save_redirect(source, target, 301)
    assert settled.redirect_target(chain[0]) is None
    assert settled.redirect_target(chain[2]) == chain[-1]


def test_without_a_store_nothing_is_settled_and_closing_lets_it_go(store):
    assert opened(None).verdict(A, HOSTS) == Verdict(A)
    settled = opened(store)
    record(store, A, Outcome.KEPT)
    settled.spider_closed(None)
    assert settled.store is None and settled.verdict(A, HOSTS) == Verdict(A)


def test_switched_off_it_is_not_configured():
    with pytest.raises(NotConfigured):
        SettledMiddleware.from_crawler(get_crawler(Spider, settings_dict=project_settings_dict(SETTLED_ENABLED=False)))


def test_its_settings_reach_it(store):
    settled = opened(store, SETTLED_ERROR_RETRY_RUNS=5, SETTLED_REFRESH_AFTER_DAYS=2)
    assert (settled.error_retry_runs, settled.refresh_after_days) == (5, 2.0)
    assert (opened(store).error_retry_runs, opened(store).refresh_after_days) == (3, None)  # crawler/settings.py


# -- in a crawl --

HOST = "http://www.delta.test"
TOPIC = f"""
name = "settled"
query = 'Lavrov AND Afghan*'

[[outlet]]
name = "Delta Post"
url = "{HOST}/"
feeds = ["{HOST}/feed.xml"]
"""
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president."]
SETTINGS = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "RETRY_TIMES": "0", "EXTRACT_WORKERS": "0"}
KEPT = f"{HOST}/news/lavrov-afghanistan-kept"
BUSY = f"{HOST}/news/lavrov-afghanistan-busy"


@pytest.fixture
def site(tmp_path):
    (tmp_path / "topic.toml").write_text(TOPIC)
    items = [{"url": url, "title": "Lavrov on Afghanistan", "published": "2021-07-16"} for url in (KEPT, BUSY)]
    with SiteServer() as server:
        server.route(f"{HOST}/robots.txt", robots_txt())
        server.route(f"{HOST}/", "<html><body><p>Delta Post</p></body></html>")
        server.route(f"{HOST}/feed.xml", rss_feed("Delta Post", items))  # no validators: read in full each run
        server.route(KEPT, article_page("Lavrov on Afghanistan", BODY, published="2021-07-16"))
        server.route(BUSY, Reply(body="busy", status=503))
        yield server


def run(site: SiteServer, tmp_path, **settings) -> dict:
    stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                     settings={**SETTINGS, **settings}, env={"http_proxy": site.proxy_url})
    return stats


def test_a_second_run_asks_only_for_what_the_first_did_not_settle(site, tmp_path):
    first = run(site, tmp_path)
    assert first.get("settled/skipped") is None and site.count(KEPT) == 1
    second = run(site, tmp_path)
    assert site.count(KEPT) == 1 and site.count(BUSY) == 2  # the kept one is settled, the 503 tried again
    assert second["settled/skipped"] == 1
    assert second["coverage/delta-post/archived_earlier"] == 1  # the figure the report reads


def test_switched_off_a_run_asks_for_every_listed_article_again(site, tmp_path):
    run(site, tmp_path)
    again = run(site, tmp_path, SETTLED_ENABLED="False")
    assert site.count(KEPT) == 2 and "settled/skipped" not in again
    assert len(list((tmp_path / "archive" / "settled" / "text").iterdir())) == 1  # nothing written twice
