"""Scheduled runs: each run adds only what is new and never refetches or rewrites what the archive holds."""

from __future__ import annotations

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

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
    assert site.count(article_url(2)) == 3  # a 503 is tried again, up to SETTLED_ERROR_RETRY_RUNS runs


WIRE = [
    "Russian Foreign Minister Sergei Lavrov said on Friday that the United States had failed in its mission in "
    "Afghanistan and blamed the withdrawal of foreign forces for the rapidly deteriorating stability.",
    "Taliban insurgents in Afghanistan have capitalised on the last stages of the withdrawal of foreign troops to "
    "launch offensives, capturing a swath of districts and border crossings.",
    "Lavrov said the crisis had increased the threat of terrorism and worsened problems surrounding drug "
    "trafficking, which he said had reached an unprecedented level.",
    "Earlier this week, ex-Soviet Tajikistan said nearly 350 Afghan refugees had crossed its border fleeing the "
    "Taliban advances, and called up reservists to bolster its defences.",
]
OTHER = "http://www.echo.test"


def test_second_run_adds_a_new_story_and_points_a_wire_copy_at_the_first(tmp_path):
    topic = TOPIC + f'\n[[outlet]]\nname = "Echo"\nurl = "{OTHER}/"\nfeeds = ["{OTHER}/feed.xml"]\n'
    (tmp_path / "topic.toml").write_text(topic)
    topic_dir = tmp_path / "archive" / "incremental"
    with SiteServer() as site:
        for host in (HOST, OTHER):
            site.route(f"{host}/robots.txt", robots_txt())
            site.route(f"{host}/", "<html><body><p>home</p></body></html>")
        site.route(f"{HOST}/feed.xml", feed([1], "a1"))
        site.route(article_url(1), article_page("Lavrov: the US failed in Afghanistan", WIRE, published="2021-07-16"))
        site.route(f"{OTHER}/feed.xml", Reply(body=rss_feed("Echo", []), headers=[("ETag", '"e1"')]))
        first = run(site, tmp_path)
        assert [p for p in paths_of(first) if p.startswith("/news/")] == ["/news/lavrov-afghanistan-1"]
        files = {p.name: p.read_bytes() for p in (topic_dir / "text").iterdir()}

        copy = f"{OTHER}/world/russia-says-us-failed-in-afghanistan"
        edited = [WIRE[0].replace("capitalised", "capitalized")] + WIRE[1:3] + [WIRE[3] + " Officials confirmed it."]
        site.route(copy, article_page("Russia says US failed in Afghanistan", edited, published="2021-07-16"))
        site.route(f"{OTHER}/feed.xml", Reply(body=rss_feed("Echo", [{"url": copy, "title": "Russia says US failed",
                                                                      "published": "2021-07-16"}]),
                                              headers=[("ETag", '"e2"')]))
        site.route(f"{HOST}/feed.xml", feed([1, 2], "a2"))
        serve_articles(site, [2])
        second = run(site, tmp_path)
    requested = [r.url for r in second["_requests"]]
    assert article_url(1) not in requested  # nothing from run 1 is fetched again
    feed_requests = [r for r in second["_requests"] if r.path == "/feed.xml"]
    assert {r.headers.get("If-None-Match") for r in feed_requests} == {'"a1"', '"e1"'}
    entries = list(read_manifest(topic_dir / "manifest.jsonl"))
    new = entries[1:]
    assert sorted(e["url"] for e in new) == sorted([article_url(2), copy])
    assert sorted(e["file"][:3] for e in new) == ["001", "002"]
    near = next(e for e in new if e["url"] == copy)
    assert near["duplicate_of"] == entries[0]["file"] and near["similarity"] >= 0.8
    for name, content in files.items():
        assert (topic_dir / "text" / name).read_bytes() == content


def test_deleted_state_is_rebuilt_and_nothing_is_fetched_again(site, tmp_path):
    topic_dir = tmp_path / "archive" / "incremental"
    site.route(f"{HOST}/feed.xml", feed([1, 2], "v1"))
    serve_articles(site, [1, 2])
    run(site, tmp_path)
    for name in ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm"):
        (topic_dir / name).unlink(missing_ok=True)
    site.route(f"{HOST}/feed.xml", feed([1, 2], "v2"))
    again = run(site, tmp_path)
    assert not [p for p in paths_of(again) if p.startswith("/news/")]
    assert len(list(read_manifest(topic_dir / "manifest.jsonl"))) == 2
    (topic_dir / "state.sqlite").unlink()
    from tests.support.crawl import run_scrapy
    result = run_scrapy(["rebuild-state", str(topic_dir)])
    assert (topic_dir / "state.sqlite").exists() and result.returncode == 0


def test_a_second_run_of_the_same_topic_exits_at_once(site, tmp_path):
    import os
    import subprocess
    import sys
    import time

    from tests.support.crawl import REPO

    site.route(f"{HOST}/feed.xml", feed([1], "v1"))
    site.route(article_url(1), Reply(body=article_page("Lavrov", BODY, published="2021-07-16"), delay=6))
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(http_proxy=site.proxy_url, PYTHONPATH=str(REPO), SCRAPY_SETTINGS_MODULE="crawler.settings")
    args = [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={tmp_path / 'topic.toml'}",
            "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", "-s", "DOWNLOAD_DELAY=0", "-s", "EXTRACT_WORKERS=0"]
    first = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 30
    while site.count(article_url(1)) == 0 and time.time() < deadline:
        time.sleep(0.05)
    started = time.time()
    second = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert time.time() - started < 15 and first.poll() is None
    assert second.returncode != 0 and "another crawl of this topic is running" in second.stderr
    first.wait(timeout=60)
    assert first.returncode == 0
