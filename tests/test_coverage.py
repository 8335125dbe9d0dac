"""The coverage spider end to end: a real crawl of three fake outlets served on 127.0.0.1.

The outlets are reached through the test server acting as an HTTP proxy, so they keep realistic hostnames;
what was and was not requested is read from the server's own request log.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, news_sitemap, robots_txt, rss_feed, section_page, sitemap_index

ON_TOPIC = [
    "Russian Foreign Minister Sergei Lavrov said on Friday that the United States had failed in Afghanistan.",
    "Lavrov blamed the hasty withdrawal of American and NATO troops for the rapid deterioration of security.",
    "Taliban insurgents have captured a swath of districts and border crossings in recent weeks, he said.",
    "Moscow is closely watching the Taliban advance near the borders of its Central Asian allies.",
]
OFF_TOPIC = [
    "The central bank kept its key rate unchanged on Friday, citing slowing inflation in the second quarter.",
    "Analysts had expected the decision after a string of weaker economic data in recent weeks.",
    "The rouble firmed slightly against the dollar after the announcement in Moscow on Friday afternoon.",
]
CRICKET = [
    "Lavrov attended the Afghanistan cricket match in Tashkent, officials said on Friday.",
    "The Afghanistan cricket team won by six wickets in a match watched by diplomats from the region.",
    "Fans of the sport in Kabul celebrated late into the night, according to local reporters.",
]

A, B, C = "http://www.alpha.test", "http://www.beta.test", "http://www.gamma.test"

TOPIC = f"""
name = "lavrov-test"
query = 'Lavrov AND (Afghan* OR Taliban) AND NOT cricket'
since = 2021-07-10
until = 2021-07-20
languages = ["en"]

[[outlet]]
name = "Alpha News"
url = "{A}/"

[[outlet]]
name = "Beta Daily"
url = "{B}/"
feeds = ["{B}/feed.xml", "{B}/broken-feed.xml"]
sections = ["{B}/world/"]

[[outlet]]
name = "Gamma Times"
url = "{C}/"
sitemaps = ["{C}/broken-sitemap.xml"]
search = "{C}/search?q={{query}}"
"""


def page(title: str, body: list[str], published: str = "2021-07-16", site: str = "Outlet") -> str:
    return article_page(title, body, published=published, site_name=site)


def build_outlets(site: SiteServer) -> dict[str, str]:
    """Routes for the three outlets; returns the named article URLs."""
    urls = {
        "a1": f"{A}/2021/07/16/lavrov-says-us-failed-in-afghanistan.html",
        "a2": f"{A}/2021/07/15/central-bank-holds-key-rate.html",
        "a3": f"{A}/2021/07/01/lavrov-early-afghanistan-warning.html",
        "a_private": f"{A}/private/2021/07/16/lavrov-taliban-secret-briefing.html",
        "b1": f"{B}/world/lavrov-blames-hasty-withdrawal-for-afghan-chaos",
        "b3": f"{B}/world/taliban-advance-worries-moscow-says-lavrov",
        "b4": f"{B}/world/lavrov-warns-of-instability-spreading-from-afghanistan",
        "b5": f"{B}/world/partner-story-about-lavrov-and-afghanistan",
        "elsewhere": "http://www.elsewhere.test/2021/07/16/lavrov-afghanistan-syndicated.html",
        "c1": f"{C}/news/2021/07/17/lavrov-tashkent-conference-afghanistan",
        "c2": f"{C}/news/2021/07/17/lavrov-watches-afghanistan-cricket",
    }
    # Alpha: robots.txt -> sitemap index -> monthly news sitemaps; a disallowed article linked from its home page
    site.route(f"{A}/robots.txt", robots_txt(disallow=["/private/"], sitemaps=[f"{A}/sitemap-index.xml"]))
    site.route(f"{A}/", section_page("Alpha News", [(urls["a_private"], "Lavrov and the Taliban: a briefing")]))
    site.route(f"{A}/sitemap-index.xml", sitemap_index([(f"{A}/sitemap-2021-06.xml", "2021-06-30"),
                                                       (f"{A}/sitemap-2021-07.xml", "2021-07-31")]))
    site.route(f"{A}/sitemap-2021-07.xml", news_sitemap([
        {"url": urls["a1"], "title": "Lavrov says US failed in Afghanistan", "published": "2021-07-16"},
        {"url": urls["a2"], "title": "Central bank holds key rate", "published": "2021-07-15"},
        {"url": urls["a3"], "title": "Lavrov's early Afghanistan warning", "published": "2021-07-01"},
    ]))
    site.route(urls["a1"], page("Lavrov Says U.S. Failed in Afghanistan", ON_TOPIC, site="Alpha News"))
    site.route(urls["a2"], page("Central Bank Holds Key Rate", OFF_TOPIC, "2021-07-15", site="Alpha News"))
    site.route(urls["a3"], page("Lavrov's Early Warning", ON_TOPIC, "2021-07-01", site="Alpha News"))
    site.route(urls["a_private"], page("Secret", ON_TOPIC, site="Alpha News"))
    # Beta: RSS (with a tracking-parameter duplicate) + a paginated section; a broken feed; 503 then 200
    site.route(f"{B}/robots.txt", robots_txt())
    site.route(f"{B}/", section_page("Beta Daily", []))
    site.route(f"{B}/feed.xml", Reply(body=rss_feed("Beta Daily", [
        {"url": urls["b1"], "title": "Lavrov blames hasty withdrawal", "summary": "Afghanistan", "published": "2021-07-16"},
        {"url": urls["b1"] + "?utm_source=rss&utm_medium=feed", "title": "Lavrov blames hasty withdrawal",
         "summary": "Afghanistan", "published": "2021-07-16"},
    ]), headers=[("Content-Type", "application/rss+xml")]))
    site.route(f"{B}/broken-feed.xml", Reply(body="<rss><channel><item><title>broken", headers=[
        ("Content-Type", "application/rss+xml")]))
    site.route(f"{B}/world/", section_page("World", [(urls["b4"], "Lavrov warns of instability"),
                                                   (urls["b5"], "Partner story: Lavrov and Afghanistan")],
                                          next_url=f"{B}/world/?page=2"))
    site.route(f"{B}/world/?page=2", section_page("World, page 2", [(urls["b3"], "Taliban advance worries Moscow")]))
    site.route(urls["b1"], page("Lavrov Blames 'Hasty Withdrawal'", ON_TOPIC[1:] + ON_TOPIC[:1], site="Beta Daily"))
    site.route(urls["b3"], page("Taliban Advance Worries Moscow", ON_TOPIC[2:] + ON_TOPIC[:2], site="Beta Daily"))
    site.route(urls["b4"], Reply(body="busy", status=503),
               page("Lavrov Warns of Instability", ON_TOPIC[3:] + ON_TOPIC[:3], site="Beta Daily"))
    site.redirect(urls["b5"], urls["elsewhere"])
    site.route(urls["elsewhere"], page("Syndicated", ON_TOPIC))
    # Gamma: search results only; a malformed sitemap
    site.route(f"{C}/robots.txt", robots_txt())
    site.route(f"{C}/", section_page("Gamma Times", []))
    site.route(f"{C}/broken-sitemap.xml", Reply(body="<urlset><url><loc>http://x</loc></urlset", headers=[
        ("Content-Type", "application/xml")]))
    site.route(f"{C}/search?q=Lavrov+Afghan+Taliban", section_page("Search", [
        (urls["c1"], "Lavrov at the Tashkent conference"), (urls["c2"], "Lavrov watches cricket")]))
    site.route(urls["c1"], page("Lavrov at the Tashkent Conference", ON_TOPIC[::-1], "2021-07-17", site="Gamma Times"))
    site.route(urls["c2"], page("Lavrov Watches Cricket", CRICKET, "2021-07-17", site="Gamma Times"))
    return urls


@pytest.fixture(scope="module")
def coverage_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("coverage")
    topic = tmp / "topic.toml"
    topic.write_text(TOPIC)
    with SiteServer() as site:
        urls = build_outlets(site)
        stats, result = crawl("coverage", tmp / "archive", spider_args={"topic": str(topic)},
                              settings={"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False",
                                        "BACKOFF_BASE": "0", "EXTRACT_WORKERS": "0"},
                              env={"http_proxy": site.proxy_url})
        log = site.requests()
    return {"stats": stats, "log": log, "urls": urls, "dir": tmp / "archive" / "lavrov-test",
            "stderr": result.stderr}


def requested(run, url: str) -> int:
    return sum(1 for r in run["log"] if r.url == url)


def test_articles_requested_as_discovery_allows(coverage_run):
    urls = coverage_run["urls"]
    for name in ("a1", "a2", "b1", "b3", "c1", "c2"):
        assert requested(coverage_run, urls[name]) == 1, name
    assert requested(coverage_run, urls["b4"]) == 2  # 503, retried, then 200
    assert requested(coverage_run, urls["a3"]) == 0  # dated outside the window by its sitemap
    assert requested(coverage_run, urls["a_private"]) == 0  # robots.txt disallows it
    assert requested(coverage_run, f"{A}/sitemap-2021-06.xml") == 0  # a month outside the window
    assert requested(coverage_run, urls["elsewhere"]) == 0  # a redirect to another site is not followed
    assert not any("utm_source" in r.path for r in coverage_run["log"])
    assert all(r.url.startswith(("http://www.alpha.test", "http://www.beta.test", "http://www.gamma.test"))
               for r in coverage_run["log"])


def test_robots_txt_comes_first_on_every_outlet(coverage_run):
    for host in ("www.alpha.test", "www.beta.test", "www.gamma.test"):
        paths = [r.path for r in coverage_run["log"] if r.host == host]
        assert paths[0] == "/robots.txt", (host, paths[:3])


def test_kept_articles_and_counts(coverage_run):
    urls, stats = coverage_run["urls"], coverage_run["stats"]
    entries = list(read_manifest(coverage_run["dir"] / "manifest.jsonl"))
    kept = sorted(e["url"] for e in entries)
    assert kept == sorted(urls[n] for n in ("a1", "b1", "b3", "b4", "c1"))
    files = sorted(p.name for p in (coverage_run["dir"] / "text").iterdir())
    assert files == sorted(e["file"] for e in entries)
    assert [int(f.split("_")[0]) for f in files] == list(range(5))
    assert stats["coverage/alpha-news/off_topic"] == 1
    assert stats["coverage/gamma-times/off_topic"] == 1
    assert stats["coverage/alpha-news/kept"] == 1 and stats["coverage/beta-daily/kept"] == 3
    assert stats["coverage/beta-daily/discovery_errors"] >= 1  # the broken feed
    assert stats["coverage/gamma-times/discovery_errors"] >= 1  # the malformed sitemap
    for entry in entries:
        assert entry["via"] in {"sitemap", "feed", "section", "search"}
        assert entry["warc_file"] and entry["warc_record_id"]


def test_text_file_content(coverage_run):
    entries = {e["url"]: e for e in read_manifest(coverage_run["dir"] / "manifest.jsonl")}
    entry = entries[coverage_run["urls"]["a1"]]
    content = (coverage_run["dir"] / "text" / entry["file"]).read_text(encoding="utf-8")
    assert content.startswith(" date 2021-07-16 Lavrov Says U.S. Failed in Afghanistan\n\n")
    assert ON_TOPIC[0] in content and content.endswith("\n") and not content.endswith("\n\n")
