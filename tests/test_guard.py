"""Every request stays on the outlet's hosts and off private addresses: discovery requests (sitemap children
listed by the outlet's own index), redirect hops, and host names that resolve to loopback.

Real crawls against a real server on 127.0.0.1; what was requested is read from the server's log and what was
archived from the WARC files, since a refused request must leave no trace in either.
"""

from __future__ import annotations

import pytest

from tests.support.crawl import crawl
from tests.support.sites import SiteServer, article_page, news_sitemap, robots_txt, sitemap_index
from tests.support.network import archived_urls, loopback_name

A = "http://www.alpha.test"
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]
FAST = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0", "BACKOFF_BASE": "0"}


def topic(url: str) -> str:
    return f'name = "guard"\nquery = "Lavrov"\nsince = 2021-07-10\nuntil = 2021-07-20\n\n' \
           f'[[outlet]]\nname = "Alpha"\nurl = "{url}/"\n'


def article(title: str) -> str:
    return article_page(title, BODY, published="2021-07-16")


@pytest.fixture(scope="module")
def sitemap_run(tmp_path_factory):
    """An outlet whose sitemap index lists one child of its own and children elsewhere: another site, an
    intranet name, a loopback service by name and port, a literal private address, a link-local address."""
    tmp = tmp_path_factory.mktemp("guard")
    (tmp / "topic.toml").write_text(topic(A))
    with SiteServer() as site:
        foreign = [f"http://sitemaps.elsewhere.test/alpha.xml", "http://intranet/sitemap.xml",
                   f"http://localhost:{site.port}/sitemap.xml", "http://10.1.2.3/sitemap.xml",
                   "http://169.254.169.254/latest/meta-data/"]
        site.route(f"{A}/robots.txt", robots_txt(sitemaps=[f"{A}/sitemap-index.xml"]))
        site.route(f"{A}/", "<html><body><p>home</p></body></html>")
        site.route(f"{A}/sitemap-index.xml", sitemap_index([(f"{A}/news-sitemap.xml", "2021-07-16")]
                                                           + [(url, "2021-07-16") for url in foreign]))
        site.route(f"{A}/news-sitemap.xml", news_sitemap([{"url": f"{A}/news/lavrov-kabul", "title": "Lavrov",
                                                           "published": "2021-07-16"}]))
        site.route(f"{A}/news/lavrov-kabul", article("Lavrov on Kabul"))
        for url in foreign:
            site.route(url, news_sitemap([{"url": f"{A}/news/planted", "title": "Lavrov",
                                           "published": "2021-07-16"}]))
        stats, result = crawl("coverage", tmp / "archive", spider_args={"topic": str(tmp / "topic.toml")},
                              settings=FAST, env={"http_proxy": site.proxy_url})
        log = site.requests()
    return {"stats": stats, "log": log, "foreign": foreign, "dir": tmp / "archive" / "guard"}


def test_sitemap_children_off_the_outlet_are_never_requested(sitemap_run):
    requested = {entry.url for entry in sitemap_run["log"]}
    assert f"{A}/news/lavrov-kabul" in requested  # the outlet's own child was read and its article fetched
    hosts = {entry.host for entry in sitemap_run["log"]}
    assert hosts == {"www.alpha.test"}, hosts
    assert f"{A}/news/planted" not in requested


def test_refused_children_are_not_archived(sitemap_run):
    archived = archived_urls(sitemap_run["dir"] / "warc")
    assert f"{A}/news/lavrov-kabul" in archived
    assert not [url for url in archived if not url.startswith(A)]


def test_refusals_are_counted(sitemap_run):
    stats = sitemap_run["stats"]
    # The spider does not even ask for children off the outlet (another site, the intranet name, localhost and
    # the literal addresses); the guard below it refuses whatever would still leave (next test).
    assert stats["coverage/alpha/sitemaps_offsite"] == 5
    assert not any(key.startswith("guard/") for key in stats)


@pytest.mark.parametrize("url, reason", [
    ("http://www.other.test/sitemap.xml", "offsite"), ("http://intranet/sitemap.xml", "offsite"),
    ("http://localhost:8080/sitemap.xml", "private_host"), ("http://10.1.2.3/sitemap.xml", "private_host"),
    ("http://169.254.169.254/latest/meta-data/", "private_host"),
])
def test_the_guard_refuses_any_request_off_the_outlet(url, reason):
    from scrapy.exceptions import IgnoreRequest
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    from crawler.middlewares.guard import RequestGuardMiddleware

    crawler = get_crawler(settings_dict={"GUARD_ALLOW_PRIVATE_HOSTS": False})
    guard = RequestGuardMiddleware.from_crawler(crawler)
    request = Request(url, meta={"outlet": "alpha", "kind": "sitemap", "outlet_hosts": ["www.alpha.test", "alpha.test"]})
    with pytest.raises(IgnoreRequest):
        guard.process_request(request)
    assert crawler.stats.get_value(f"guard/{reason}") == 1
    guard.process_request(Request(f"{A}/sitemap.xml", meta=dict(request.meta)))  # its own host passes


LOOPBACK = loopback_name()
needs_name = pytest.mark.skipif(LOOPBACK is None, reason="no host name other than localhost resolves to "
                                                          "127.0.0.1 on this machine")


def resolver_crawl(tmp_path, allow: bool):
    """An outlet on a host name that resolves to 127.0.0.1, reached without a proxy: only the resolver can
    tell where it leads."""
    with SiteServer() as site:
        origin = f"http://{LOOPBACK}:{site.port}"
        (tmp_path / "topic.toml").write_text(topic(origin))
        site.route(f"{origin}/robots.txt", robots_txt())
        site.route(f"{origin}/", "<html><body><p>home</p></body></html>")
        stats, result = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                              settings={**FAST, "GUARD_ALLOW_PRIVATE_HOSTS": str(allow)}, check=False)
        return stats, result, site.requests()


@needs_name
def test_a_name_resolving_to_loopback_is_refused_at_resolution(tmp_path):
    stats, result, log = resolver_crawl(tmp_path, allow=False)
    assert log == []  # no connection reached the server
    assert result.returncode == 3  # nothing could be fetched
    assert stats["guard/private_address"] == 2  # robots.txt and the home page, each once: not retried
    assert "retry/count" not in stats
    assert f"{LOOPBACK} resolves to 127.0.0.1, a private address" in result.stderr
    assert "Traceback" not in result.stderr


@needs_name
def test_the_same_name_is_crawled_when_private_hosts_are_allowed(tmp_path):
    """The counterpart of the test above: the name does lead to the server, so the refusal was the resolver's."""
    stats, result, log = resolver_crawl(tmp_path, allow=True)
    assert result.returncode == 0, result.stderr[-3000:]
    assert {entry.path for entry in log} >= {"/robots.txt", "/"}
    assert "guard/private_address" not in stats
