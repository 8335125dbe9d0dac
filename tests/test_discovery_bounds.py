"""Discovery has bounds per outlet: sitemap index depth, sitemaps per run, URLs read per sitemap.

A chain of nested indexes or an index of thousands of children must not turn a five-article crawl into thousands
of requests; the budget goes to the newest sitemaps first.
"""

from __future__ import annotations

from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, robots_txt, section_page, sitemap_index, urlset
from tests.support.processes import FAST

A = "http://www.alpha.test"
TOPIC = f"""name = "bounds"
query = 'Lavrov'
since = 2021-07-10
until = 2021-07-20
max_pages_per_outlet = 5
[[outlet]]
name = "Alpha"
url = "{A}/"
"""
XML = [("Content-Type", "application/xml")]


def bounded_crawl(tmp_path, start: list[str], routes: dict[str, str], settings: dict[str, str]):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC)
    with SiteServer() as site:
        site.route(f"{A}/robots.txt", robots_txt(sitemaps=start))
        site.route(f"{A}/", section_page("Alpha", []))
        for url, body in routes.items():
            site.route(url, Reply(body=body, headers=XML))
        stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(topic)},
                         settings={**FAST, **settings}, env={"http_proxy": site.proxy_url})
        return stats, [r.path for r in site.requests()]


def test_a_chain_of_nested_indexes_stops_at_the_depth_bound(tmp_path):
    routes = {f"{A}/chain/{n}.xml": sitemap_index([(f"{A}/chain/{n + 1}.xml", None)]) for n in range(300)}
    stats, log = bounded_crawl(tmp_path, [f"{A}/chain/0.xml"], routes, {"DISCOVERY_MAX_DEPTH": "3"})
    chain = [p for p in log if p.startswith("/chain/")]
    assert chain == [f"/chain/{n}.xml" for n in range(4)], chain  # the start sitemap and three levels below it
    assert stats["coverage/alpha/sitemaps_too_deep"] == 1


def test_an_index_of_thousands_is_pruned_by_date_then_cut_newest_first(tmp_path):
    children = [(f"{A}/many/part-{n}.xml", f"2021-{1 + n % 12:02d}-{1 + n % 28:02d}") for n in range(2000)]
    routes = {f"{A}/many.xml": sitemap_index(children), **{url: urlset([]) for url, _ in children}}
    stats, log = bounded_crawl(tmp_path, [f"{A}/many.xml"], routes, {"DISCOVERY_MAX_SITEMAPS": "10"})
    many = [p for p in log if p.startswith("/many/")]
    assert len(many) == 10
    newest = sorted(children, key=lambda c: c[1], reverse=True)[:10]
    assert sorted(many) == sorted(url.removeprefix(A) for url, _ in newest)
    assert stats["coverage/alpha/sitemaps_skipped"] == sum(1 for _, day in children if day < "2021-07-10")
    assert stats["coverage/alpha/sitemaps_over_budget"] == 2000 - 10 - stats["coverage/alpha/sitemaps_skipped"]


def test_sitemap_children_on_other_hosts_are_not_requested(tmp_path):
    topic = tmp_path / "topic.toml"
    topic.write_text(TOPIC)
    with SiteServer() as site:
        site.route(f"{A}/robots.txt", robots_txt(sitemaps=[f"{A}/index.xml", "http://www.other.test/sitemap.xml"]))
        site.route(f"{A}/", section_page("Alpha", []))
        site.route(f"{A}/index.xml", Reply(body=sitemap_index([
            ("http://www.other.test/s.xml", None), ("http://intranet/s.xml", None), (f"{A}/own.xml", None)]),
            headers=XML))
        site.route(f"{A}/own.xml", Reply(body=urlset([]), headers=XML))
        stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(topic)}, settings=FAST,
                         env={"http_proxy": site.proxy_url})
        hosts = {r.host for r in site.requests()}
    assert hosts == {"www.alpha.test"}
    assert stats["coverage/alpha/sitemaps_offsite"] == 3
