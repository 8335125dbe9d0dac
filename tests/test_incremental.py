"""Scheduled runs: each run adds only what is new and never refetches or rewrites what the archive holds."""

from __future__ import annotations

import pytest

from pipelines.manifest import read_manifest
from tests.crawl import crawl
from tests.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

HOST = "http://www.delta.test"
TOPIC = f"""
name = "incremental"
query = 'Lavrov AND Afghan*'

[[outlet]]
name = "Delta Post"
url = "{HOST}/"
feeds = ["{HOST}/feed.xml"]
"""
BODY = [
    "Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
    "He spoke at a regional conference in Tashkent attended by the Afghan president.",
    "Moscow is watching the situation on the borders of its Central Asian allies closely, he added.",
]
SETTINGS = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "RETRY_TIMES": "0", "EXTRACT_WORKERS": "0"}


def article_url(n: int) -> str:
    return f"{HOST}/news/lavrov-afghanistan-{n}"


def feed(numbers: list[int], etag: str) -> Reply:
    items = [{"url": article_url(n), "title": f"Lavrov on Afghanistan, part {n}", "published": "2021-07-16"}
             for n in numbers]
    return Reply(body=rss_feed("Delta Post", items), headers=[("Content-Type", "application/rss+xml"),
                                                              ("ETag", f'"{etag}"')])


def serve_articles(site: SiteServer, numbers: list[int]) -> None:
    for n in numbers:
        site.route(article_url(n), article_page(f"Lavrov on Afghanistan, part {n}", [f"Part {n}."] + BODY,
                                                published="2021-07-16", site_name="Delta Post"))


def run(site: SiteServer, tmp_path) -> dict:
    start = len(site.requests())
    stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                     settings=SETTINGS, env={"http_proxy": site.proxy_url})
    stats["_requests"] = site.requests()[start:]
    return stats


@pytest.fixture
def site(tmp_path):
    (tmp_path / "topic.toml").write_text(TOPIC)
    with SiteServer() as server:
        server.route(f"{HOST}/robots.txt", robots_txt())
        server.route(f"{HOST}/", "<html><body><p>Delta Post</p></body></html>")
        yield server


def paths_of(stats: dict) -> list[str]:
    return [r.path for r in stats["_requests"]]


def test_second_run_fetches_only_what_is_new(site, tmp_path):
    topic_dir = tmp_path / "archive" / "incremental"
    site.route(f"{HOST}/feed.xml", feed([1, 2], "v1"))
    serve_articles(site, [1, 2, 3])
    first = run(site, tmp_path)
    assert sorted(p for p in paths_of(first) if p.startswith("/news/")) == ["/news/lavrov-afghanistan-1",
                                                                          "/news/lavrov-afghanistan-2"]
    files = {p.name: p.read_bytes() for p in (topic_dir / "text").iterdir()}
    assert sorted(int(name[:3]) for name in files) == [0, 1]

    second = run(site, tmp_path)  # the feed answers 304: nothing else is requested
    feed_requests = [r for r in second["_requests"] if r.path == "/feed.xml"]
    assert feed_requests and feed_requests[0].headers.get("If-None-Match") == '"v1"'
    assert not [p for p in paths_of(second) if p.startswith("/news/")]
    assert second.get("coverage/delta-post/discovery_unchanged") == 1

    site.route(f"{HOST}/feed.xml", feed([1, 2, 3], "v2"))
    third = run(site, tmp_path)
    assert [p for p in paths_of(third) if p.startswith("/news/")] == ["/news/lavrov-afghanistan-3"]
    entries = list(read_manifest(topic_dir / "manifest.jsonl"))
    assert sorted(e["url"] for e in entries[:2]) == [article_url(1), article_url(2)]
    assert entries[2]["url"] == article_url(3) and entries[2]["file"].startswith("002_")
    for name, content in files.items():  # nothing existing is renamed or rewritten
        assert (topic_dir / "text" / name).read_bytes() == content
    assert len(list((topic_dir / "text").iterdir())) == 3


def test_errors_are_retried_on_later_runs_with_a_cap(site, tmp_path):
    site.route(f"{HOST}/feed.xml", feed([1, 2], "v1"), feed([1, 2], "v2"), feed([1, 2], "v3"), feed([1, 2], "v4"))
    site.route(article_url(1), Reply(body="gone", status=404))
    site.route(article_url(2), Reply(body="busy", status=503))
    for _ in range(4):
        run(site, tmp_path)
    assert site.count(article_url(1)) == 2  # a 404 twice is given up
    assert site.count(article_url(2)) == 3  # a 503 is tried again, up to ERROR_RETRY_RUNS runs
