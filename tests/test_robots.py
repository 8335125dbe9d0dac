"""robots.txt: where its redirects may lead, what a server error means, and how much of a huge file is read.

A robots.txt is requested by Scrapy itself, outside the spider's requests, so it needs the same bounds of its
own: its redirects stay on its host, and a 13 MB file of 300 000 rules is read only as far as Google reads one
(500 KiB), since every request of the crawl is checked against what was parsed.
"""

from __future__ import annotations

import re

import pytest

from crawler.middlewares.robots import capped_robots
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

B, C, D, E = "http://www.beta.test", "http://www.gamma.test", "http://www.delta.test", "http://www.epsilon.test"
Z = "http://www.zeta.test"
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]
FAST = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0", "BACKOFF_BASE": "0"}
HUGE_RULES = 300_000


def topic() -> str:
    outlets = "".join(f'\n[[outlet]]\nname = "{name}"\nurl = "{url}/"\nfeeds = ["{url}/feed.xml"]\n'
                      for name, url in (("Beta", B), ("Gamma", C), ("Delta", D), ("Epsilon", E), ("Zeta", Z)))
    return f'name = "robots"\nquery = "Lavrov"\nsince = 2021-07-10\nuntil = 2021-07-20\n{outlets}'


def huge_robots() -> str:
    """About 13 MB: a rule at the start, 300 000 filler rules, and a rule at the very end."""
    filler = "".join(f"Disallow: /archive/2019/07/16/story-{n:06d}/\n" for n in range(HUGE_RULES))
    return "User-agent: *\nDisallow: /early/\n" + filler + "Disallow: /late/\n"


def serve_outlet(site: SiteServer, origin: str, paths: list[str]) -> None:
    site.route(f"{origin}/", "<html><body><p>home</p></body></html>")
    site.route(f"{origin}/feed.xml", rss_feed("feed", [{"url": f"{origin}{path}", "title": f"Lavrov {path}",
                                                        "published": "2021-07-16"} for path in paths]))
    for path in paths:
        site.route(f"{origin}{path}", article_page(f"Lavrov {path}", BODY, published="2021-07-16"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("robots")
    (tmp / "topic.toml").write_text(topic())
    with SiteServer() as site:
        # Beta's robots.txt redirects to another site; Gamma's to its bare twin; Epsilon's through six hops;
        # Zeta's answers with a server error.
        site.redirect(f"{B}/robots.txt", "http://www.elsewhere.test/robots.txt")
        site.route("http://www.elsewhere.test/robots.txt", robots_txt())
        serve_outlet(site, B, ["/news/lavrov-beta"])
        site.redirect(f"{C}/robots.txt", "http://gamma.test/robots.txt")
        site.route("http://gamma.test/robots.txt", robots_txt(disallow=["/private/"]))
        serve_outlet(site, C, ["/news/lavrov-gamma", "/private/lavrov-gamma"])
        site.route(f"{D}/robots.txt", huge_robots())
        serve_outlet(site, D, ["/news/lavrov-delta", "/early/lavrov-delta", "/late/lavrov-delta"])
        site.redirect(f"{E}/robots.txt", f"{E}/r1")
        for hop in range(1, 6):
            site.redirect(f"{E}/r{hop}", f"{E}/r{hop + 1}")
        site.route(f"{E}/r6", robots_txt())
        serve_outlet(site, E, ["/news/lavrov-epsilon"])
        site.route(f"{Z}/robots.txt", Reply(body="busy", status=503))
        serve_outlet(site, Z, ["/news/lavrov-zeta"])
        stats, result = crawl("coverage", tmp / "archive", spider_args={"topic": str(tmp / "topic.toml")},
                              settings=FAST, env={"http_proxy": site.proxy_url})
        log = site.requests()
    return {"stats": stats, "stderr": result.stderr, "urls": [entry.url for entry in log],
            "warc": tmp / "archive" / "robots" / "warc"}


def test_a_robots_txt_redirect_to_another_site_is_not_followed(run):
    assert not [url for url in run["urls"] if "elsewhere" in url]
    # Its rules are somewhere the crawl does not go: the host is left alone for this run.
    assert [url for url in run["urls"] if url.startswith(B)] == [f"{B}/robots.txt"]
    assert run["stats"]["robotstxt/redirect_refused"] == 2  # Beta's, and Epsilon's seventh hop
    assert "robots.txt of www.beta.test redirects where the crawl does not follow" in run["stderr"]


def test_a_robots_txt_redirect_to_the_www_twin_is_followed_and_obeyed(run):
    assert "http://gamma.test/robots.txt" in run["urls"]
    assert f"{C}/news/lavrov-gamma" in run["urls"]
    assert f"{C}/private/lavrov-gamma" not in run["urls"]


def test_robots_txt_redirects_stop_after_five_hops(run):
    assert f"{E}/r5" in run["urls"] and f"{E}/r6" not in run["urls"]
    assert run["stats"]["robotstxt/too_many_redirects"] == 1
    assert f"{E}/news/lavrov-epsilon" not in run["urls"]


def test_a_robots_txt_answering_a_server_error_disallows_the_host_for_the_run(run):
    assert {url for url in run["urls"] if url.startswith(Z)} == {f"{Z}/robots.txt"}
    assert run["stats"]["robotstxt/unavailable"] == 1
    assert "robots.txt of www.zeta.test answered 503: not crawling that host in this run" in run["stderr"]


def test_only_the_first_500_kib_of_a_huge_robots_txt_are_parsed(run):
    assert run["stats"]["robotstxt/truncated"] == 1
    parsed = re.search(r"robots.txt of www.delta.test is over .*: parsing its first (\d+) bytes \((\d+) received, "
                       r"download stopped\)", run["stderr"])
    assert parsed and int(parsed[1]) <= 500 * 1024 < int(parsed[2]) < 1024 * 1024  # not 13 MB
    assert f"{D}/early/lavrov-delta" not in run["urls"]  # a rule in the first 500 KiB applies
    assert f"{D}/late/lavrov-delta" in run["urls"]  # one past them is never read
    assert f"{D}/news/lavrov-delta" in run["urls"]


def test_the_cut_robots_txt_is_archived_as_truncated(run):
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in run["warc"].glob("*.warc.gz"):
        with open(path, "rb") as fh:
            found += [(record.rec_headers.get_header("WARC-Truncated"), len(record.content_stream().read()))
                      for record in ArchiveIterator(fh) if record.rec_type == "response"
                      and record.rec_headers.get_header("WARC-Target-URI") == f"{D}/robots.txt"]
    assert len(found) == 1
    truncated, size = found[0]
    assert truncated == "length" and 500 * 1024 < size < 1024 * 1024


def test_capped_robots_cuts_at_a_line_and_keeps_sitemaps_past_the_rule_limit():
    body = b"User-agent: *\nDisallow: /a/\nDisallow: /b/\nAllow: /c/\nSitemap: http://x.test/s.xml\n"
    assert capped_robots(body, 0, 0) is body
    assert capped_robots(body, 20, 0) == b"User-agent: *\n"  # never half a rule
    assert capped_robots(body, 0, 2) == b"User-agent: *\nDisallow: /a/\nDisallow: /b/\nSitemap: http://x.test/s.xml\n"
    assert capped_robots(body, 0, 3) is body
