"""The frontier: nothing discovery found is lost to a kill, redirects are remembered, dates checked before fetching.

The site sends validators and answers 304 like real ones do, so a run after a kill sees unchanged listings: what
they listed must come from the frontier the killed run stored before it saved their validators.
"""

from __future__ import annotations

import random
import sqlite3

import pytest
from scrapy.http import HtmlResponse, Request
from scrapy.utils.test import get_crawler
from warcio.archiveiterator import ArchiveIterator

from crawler.contracts import Kind, Meta
from crawler.spiders.frontier import Frontier
from crawler.store.redis import RedisStore
from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed, section_page
from tests.support.newsroom import build_newsroom
from tests.support.processes import FAST, kill_when, popen_crawl
from tests.support.redisserver import redis_server


def archived(topic_dir) -> list[str]:
    return [entry["url"] for entry in read_manifest(topic_dir / "manifest.jsonl")]


def test_kill_between_a_listing_and_its_articles_loses_nothing(tmp_path):
    archive = tmp_path / "archive"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, article_delay=30)  # the articles hang: the kill lands before them
        process = popen_crawl(room.topic_file, archive, site.proxy_url)
        july = [u for u in room.sitemaps if "2021-07" in u]

        def listings_settled() -> bool:  # every July sitemap read and its validators committed, articles asked for
            if not any(site.count(u) for u in room.expected):
                return False
            try:
                with sqlite3.connect(f"file:{archive / 'newsroom' / 'state.sqlite'}?mode=ro", uri=True) as db:
                    marks = ",".join("?" * len(july))
                    return db.execute(f"SELECT count(*) FROM fetched WHERE etag IS NOT NULL AND url IN ({marks})",
                                      july).fetchone()[0] == len(july)
            except sqlite3.Error:
                return False

        assert kill_when(process, listings_settled), "the crawl ended before its articles were requested"
        state = sqlite3.connect(archive / "newsroom" / "state.sqlite")
        assert state.execute("SELECT count(*) FROM fetched WHERE etag IS NOT NULL").fetchone()[0] >= 5
        state.close()
        build_newsroom(site, tmp_path)  # the same site, now answering at once; listings still answer 304
        before = len(site.requests())
        stats, _ = crawl("coverage", archive, spider_args={"topic": str(room.topic_file)}, settings=FAST,
                         env={"http_proxy": site.proxy_url})
        second = site.requests()[before:]
    assert any(r.path.endswith("sitemap-index.xml") and "If-None-Match" in r.headers for r in second)
    assert sorted(archived(archive / "newsroom")) == sorted(room.expected)
    assert sum(v for k, v in stats.items() if k.endswith("/resumed")) >= len(room.expected)
    assert not any(r.url in room.outside for r in second)


@pytest.mark.parametrize("validators", [True, False])
def test_random_kills_then_a_clean_run_archive_every_article_once(tmp_path, validators):
    rng = random.Random(17 if validators else 18)
    archive = tmp_path / "archive"
    with SiteServer() as site:
        room = build_newsroom(site, tmp_path, validators=validators, article_delay=0.15)
        for _ in range(4):
            process = popen_crawl(room.topic_file, archive, site.proxy_url)
            seen = len(site.requests())
            wait = rng.randint(1, 12)
            kill_when(process, lambda: len(site.requests()) - seen >= wait, after=rng.uniform(0, 0.2))
        crawl("coverage", archive, spider_args={"topic": str(room.topic_file)}, settings=FAST,
              env={"http_proxy": site.proxy_url})
    urls = archived(archive / "newsroom")
    assert sorted(set(urls)) == sorted(room.expected), "lost articles"
    assert len(urls) == len(set(urls)), "duplicates"


SHORT_TOPIC = """name = "redirects"
query = 'Lavrov'
since = 2021-07-10
until = 2021-07-20
[[outlet]]
name = "Alpha"
url = "http://www.alpha.test/"
feeds = ["http://www.alpha.test/feed.xml"]
"""


def build_redirecting_outlet(site: SiteServer) -> dict[str, str]:
    a = "http://www.alpha.test"
    urls = {"article": f"{a}/world/lavrov-says-mission-failed", "short": f"{a}/news/2021-07-16/lavrov",
            "go": f"{a}/go/2021-07-16/partner-lavrov-in-tashkent", "partner": "http://www.partner.test/lavrov-story"}
    site.route(f"{a}/robots.txt", robots_txt())
    site.route(f"{a}/", section_page("Alpha", [(urls["short"], "Lavrov says the mission failed"),
                                               (urls["go"], "Partner: Lavrov in Tashkent")]))
    site.route(f"{a}/feed.xml", Reply(body=rss_feed("Alpha", [
        {"url": urls["article"], "title": "Lavrov says mission failed", "published": "2021-07-16"}]),
        headers=[("Content-Type", "application/rss+xml"), ("ETag", '"f1"')]))
    site.redirect(urls["short"], urls["article"], status=302)
    site.redirect(urls["go"], urls["partner"])
    site.route(urls["article"], article_page("Lavrov says mission failed", [
        "Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president."], published="2021-07-16"))
    site.route(urls["partner"], article_page("Partner", ["Lavrov in Tashkent, as told by a partner site."]))
    return urls


def response_records(topic_dir) -> list[tuple[str, str]]:
    found = []
    for path in sorted((topic_dir / "warc").glob("*.warc.gz")):
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                if record.rec_type in ("response", "revisit"):
                    found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI")))
    return found


def test_a_url_that_redirected_is_not_requested_again(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(SHORT_TOPIC)
    archive = tmp_path / "archive"
    with SiteServer() as site:
        urls = build_redirecting_outlet(site)
        crawl("coverage", archive, spider_args={"topic": str(topic)}, settings=FAST, env={"http_proxy": site.proxy_url})
        first = len(site.requests())
        records_before = response_records(archive / "redirects")
        stats, _ = crawl("coverage", archive, spider_args={"topic": str(topic)}, settings=FAST,
                         env={"http_proxy": site.proxy_url})
        second = [r.url for r in site.requests()[first:]]
    assert archived(archive / "redirects") == [urls["article"]]
    for name in ("short", "go", "article", "partner"):
        assert urls[name] not in second, f"{name} requested again: {second}"
    new_records = response_records(archive / "redirects")[len(records_before):]
    assert ("response", urls["article"]) not in new_records
    assert stats.get("coverage/alpha/redirected_offsite") == 1


def test_an_undated_link_waits_for_the_feed_that_dates_it_outside_the_window(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(SHORT_TOPIC)
    a = "http://www.alpha.test"
    old, new = f"{a}/world/lavrov-old-interview", f"{a}/world/lavrov-new-interview"
    with SiteServer() as site:
        site.route(f"{a}/robots.txt", robots_txt())
        site.route(f"{a}/", section_page("Alpha", [(old, "Lavrov interview"), (new, "Lavrov in Tashkent")]))
        site.route(f"{a}/feed.xml", Reply(delay=1.5, body=rss_feed("Alpha", [
            {"url": old, "title": "Lavrov interview", "published": "2021-05-02"},
            {"url": new, "title": "Lavrov in Tashkent", "published": "2021-07-16"}]),
            headers=[("Content-Type", "application/rss+xml")]))
        for url in (old, new):
            site.route(url, article_page("Lavrov interview", ["Sergei Lavrov spoke about Afghanistan at length."]))
        stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(topic)}, settings=FAST,
                         env={"http_proxy": site.proxy_url})
        assert site.count(old) == 0, "an article the feed dated outside the window was fetched"
        assert site.count(new) == 1
    assert stats.get("coverage/alpha/skipped_out_of_window", 0) >= 1


def test_a_clusters_held_articles_go_once_another_worker_reads_the_last_listing(tmp_path):
    """Two workers' frontiers on one Redis store, as in a cluster: worker B reads the feed worker A queued (B's
    own copies were dropped as duplicates) while A's home page is still unread, so B holds the feed's articles;
    once A reads the home page, B's next look releases them. Counted per worker, B would hold them until it ran
    out of work."""
    def listing(url: str, kind: Kind) -> Request:
        return Request(url, meta={Meta.OUTLET: "o", Meta.KIND: kind})

    def read(frontier: Frontier, request: Request, leads_to: list[Request]) -> list[Request]:
        response = HtmlResponse(request.url, body=b"<html></html>", request=request)
        return frontier.read_page(response, "o", lambda: leads_to, scope="..")

    with redis_server(tmp_path) as url:
        stores = [RedisStore(url, topic="cluster"), RedisStore(url, topic="cluster")]
        a, b = (Frontier(store, get_crawler().stats, None, None, max_sitemaps=10) for store in stores)
        home, feed = listing("http://o.test/", Kind.HOME), listing("http://o.test/feed.xml", Kind.FEED)
        assert a.schedule("o", [home, feed]) == [home, feed]
        copies = [listing(home.url, Kind.HOME), listing(feed.url, Kind.FEED)]
        assert b.schedule("o", copies) == copies
        for copy in copies:  # dropped by the shared duplicate filter
            assert b.discovery_done(copy) == []
        articles = [listing(f"http://o.test/news/{n}", Kind.ARTICLE) for n in range(3)]
        assert read(b, feed, articles) == []  # held: the home page may still date them
        assert b.release_read() == []
        assert read(a, home, []) == []
        assert [r.url for r in b.release_read()] == [r.url for r in articles]
        assert b.release_read() == [] and stores[0].listings_in_flight(["o"]) == {"o": 0}
        for store in stores:
            store.close()
