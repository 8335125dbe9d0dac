"""Slow and unwilling servers cost the crawl little: a trickling response is given up after a grace period, a
timeout is retried once, and a Retry-After longer than the crawl will wait ends that outlet's run at once.

One real crawl of four outlets on a real server; request counts and times come from the server's log.
"""

from __future__ import annotations

import re

import pytest

from crawler.middlewares.retry import BackoffRetryMiddleware, retry_after_seconds
from scrapy.http import Response
from scrapy.utils.test import get_crawler
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

A, B, C, S = "http://www.alpha.test", "http://www.beta.test", "http://www.gamma.test", "http://www.slow.test"
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]
GRACE, TIMEOUT = 1.5, 4
# A download delay as real crawls have: without one the outlet's next request leaves the moment an answer
# arrives, before any middleware has read it.
SETTINGS = {"DOWNLOAD_DELAY": "1", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0", "RETRY_TIMES": "3",
            "BACKOFF_BASE": "0", "CONCURRENT_REQUESTS_PER_DOMAIN": "1", "DOWNLOAD_TIMEOUT": str(TIMEOUT),
            "MINRATE_GRACE": str(GRACE), "CLOSESPIDER_TIMEOUT": "60"}


def topic() -> str:
    outlets = "".join(f'\n[[outlet]]\nname = "{name}"\nurl = "{url}/"\nfeeds = ["{url}/feed.xml"]\n'
                      for name, url in (("Alpha", A), ("Beta", B), ("Gamma", C), ("Slow", S)))
    return f'name = "retry"\nquery = "Lavrov"\nsince = 2021-07-10\nuntil = 2021-07-20\n{outlets}'


def articles(site: SiteServer, origin: str, replies: dict[str, Reply | str]) -> None:
    site.route(f"{origin}/robots.txt", robots_txt())
    site.route(f"{origin}/", "<html><body><p>home</p></body></html>")
    site.route(f"{origin}/feed.xml", rss_feed("feed", [{"url": f"{origin}{path}", "title": f"Lavrov {path}",
                                                        "published": "2021-07-16"} for path in replies]))
    for path, reply in replies.items():
        site.route(f"{origin}{path}", reply)


def page(title: str) -> str:
    return article_page(title, BODY, published="2021-07-16")


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("retry")
    (tmp / "topic.toml").write_text(topic())
    forever = Reply(body="come back much later", status=429, headers=[("Retry-After", "999999")])
    past_the_run = Reply(body="come back later", status=503, headers=[("Retry-After", "90")])
    with SiteServer() as site:
        articles(site, A, {f"/news/lavrov-{n}": forever for n in range(3)})
        articles(site, B, {f"/news/lavrov-{n}": page(f"Lavrov beta {n}") for n in range(3)})
        articles(site, C, {f"/news/lavrov-{n}": past_the_run for n in range(2)})
        articles(site, S, {"/news/trickle": Reply(body=page("Lavrov trickle"), trickle=0.3),
                           "/news/stall": Reply(body=page("Lavrov stall"), delay=30),
                           "/news/fine": page("Lavrov fine")})
        stats, result = crawl("coverage", tmp / "archive", spider_args={"topic": str(tmp / "topic.toml")},
                              settings=SETTINGS, env={"http_proxy": site.proxy_url}, timeout=150)
        log = site.requests()
    return {"stats": stats, "stderr": result.stderr, "log": log}


def requests_to(run, prefix: str) -> list[str]:
    return [entry.url for entry in run["log"] if entry.url.startswith(prefix)]


def test_a_retry_after_beyond_the_cap_ends_the_outlets_run(run):
    articles_asked = [url for url in requests_to(run, A) if "/news/" in url]
    assert len(articles_asked) == 1  # the one that answered 429; the others were dropped, not requested
    assert run["stats"]["coverage/alpha/retry_after_exceeded"] == 3
    assert run["stderr"].count("alpha asks to wait 999999 s before the next request (Retry-After)") == 1


def test_other_outlets_go_on(run):
    assert sorted(url for url in requests_to(run, B) if "/news/" in url) == [f"{B}/news/lavrov-{n}" for n in range(3)]
    assert run["stats"]["finish_reason"] == "finished"  # not the CLOSESPIDER_TIMEOUT: nothing waited 90 s


def test_a_retry_after_beyond_the_runs_time_left_ends_the_outlets_run(run):
    """90 s is under BACKOFF_MAX (120 s) but over what is left of a run with CLOSESPIDER_TIMEOUT = 60."""
    assert len([url for url in requests_to(run, C) if "/news/" in url]) == 1
    assert run["stats"]["coverage/gamma/retry_after_exceeded"] == 2


def test_a_trickling_response_is_given_up_after_the_grace_period(run):
    assert len(requests_to(run, f"{S}/news/trickle")) == 1  # not retried
    given_up = re.search(r"too slow: \d+ bytes in ([\d.]+) s, under MINRATE_BYTES_PER_SEC .*/news/trickle",
                         run["stderr"])
    assert given_up and GRACE <= float(given_up[1]) <= 2 * GRACE
    assert run["stats"]["download/too_slow"] == 1


def test_a_timeout_is_retried_once_only(run):
    times = [entry.time for entry in run["log"] if entry.url == f"{S}/news/stall"]
    assert len(times) == 2  # RETRY_TIMES is 3, but each attempt costs a whole DOWNLOAD_TIMEOUT
    assert f"{S}/news/fine" in requests_to(run, S)


def test_retry_after_is_read_as_seconds_or_a_date():
    def response(value: str) -> Response:
        return Response("http://www.alpha.test/", status=429, headers={"Retry-After": value})

    assert retry_after_seconds(response("120")) == 120.0
    assert retry_after_seconds(response("Wed, 21 Oct 2015 07:28:00 GMT"), now=1445412480.0 - 60) == 60.0
    assert retry_after_seconds(response("soon")) is None


def test_the_longest_wait_is_the_cap_or_the_time_left_in_the_run():
    capped = BackoffRetryMiddleware.from_crawler(get_crawler(settings_dict={"BACKOFF_MAX": 120.0}))
    assert capped.longest_wait() == 120.0
    short = BackoffRetryMiddleware.from_crawler(get_crawler(settings_dict={"BACKOFF_MAX": 120.0,
                                                                           "CLOSESPIDER_TIMEOUT": 30}))
    assert 29.0 < short.longest_wait() <= 30.0
