"""Versions across scheduled runs: kept articles asked for again on their schedule, changes written as new files.

One local site, four runs of the real crawl with a controllable clock (``VERSIONS_NOW``): an article that changes
(headline and a paragraph, then a correction appended), one that answers 304, one whose HTML changes only in an ad
slot and a timestamp, one served again byte for byte, one that goes 404, one that sends the reader home.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.fetch.versions import points_passed, versions_enabled
from crawler.store import SqliteStore, TrackedArticle
from crawler.topic import load_topic
from pipelines.manifest import read_manifest
from pipelines.render import url_hash
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

HOST = "http://www.echo.test"
TOPIC = f"""
name = "versions"
query = 'Lavrov AND Afghan*'
since = 2021-07-10
until = 2021-07-20

[[outlet]]
name = "Echo Daily"
url = "{HOST}/"
feeds = ["{HOST}/feed.xml"]
"""
BODY = [
    "Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
    "He spoke at a regional conference in Tashkent attended by the Afghan president.",
    "Moscow is watching the situation on the borders of its Central Asian allies closely, he added.",
]
ADDED = "Lavrov later told reporters that Russia would keep its embassy in Kabul open."
CORRECTION = "Correction: An earlier version of this article misstated the city where the conference was held."
SETTINGS = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "RETRY_TIMES": "0", "EXTRACT_WORKERS": "0",
            "VERSIONS_ENABLED": "True"}
NAMES = ("changing", "not-modified", "ads", "identical", "removed", "sent-home")


def url(name: str) -> str:
    return f"{HOST}/news/lavrov-{name}"


def page(title: str, paragraphs: list[str], noise: str = "") -> str:
    """An article page; ``noise`` goes into the page outside the article (an ad slot, a render timestamp)."""
    return article_page(title, paragraphs, published="2021-07-16", site_name="Echo Daily").replace(
        "<body>", f"<body>{noise}", 1)


def ad(n: int) -> str:
    return (f'<div class="ad-slot" data-rendered="2021-07-16T10:0{n}:00Z"><a href="/ads/{n}">Advertisement {n}</a>'
            f"</div><script>window.renderedAt = '2021-07-16T10:0{n}:00Z';</script>")


@pytest.fixture
def site(tmp_path):
    (tmp_path / "topic.toml").write_text(TOPIC)
    items = [{"url": url(name), "title": f"Lavrov on Afghanistan ({name})", "published": "2021-07-16"}
             for name in NAMES]
    with SiteServer() as server:
        server.route(f"{HOST}/robots.txt", robots_txt())
        server.route(f"{HOST}/", "<html><body><p>Echo Daily</p></body></html>")
        server.route(f"{HOST}/feed.xml", Reply(body=rss_feed("Echo Daily", items),
                                               headers=[("Content-Type", "application/rss+xml"), ("ETag", '"f1"')]))
        server.route(url("changing"), page("Lavrov: US mission in Afghanistan failed", BODY),
                     page("Lavrov says US mission in Afghanistan has failed", BODY + [ADDED]),
                     page("Lavrov says US mission in Afghanistan has failed", BODY + [ADDED, CORRECTION]))
        server.route(url("not-modified"), Reply(body=page("Lavrov meets Afghan delegation", BODY),
                                                headers=[("ETag", '"a1"')]))
        server.route(url("ads"), *[page("Lavrov warns of Afghan refugees", BODY, ad(n)) for n in (1, 2, 3)])
        server.route(url("identical"), page("Lavrov and the Afghan border", BODY))
        server.route(url("removed"), page("Lavrov in Tashkent on Afghanistan", BODY),
                     Reply(body="<html><body><h1>Not found</h1></body></html>", status=404))
        server.route(url("sent-home"), page("Lavrov on Afghan talks", BODY),
                     Reply(status=301, headers=[("Location", f"{HOST}/")]))
        yield server


def run(site: SiteServer, tmp_path, now: datetime | None = None) -> dict:
    start = len(site.requests())
    settings = dict(SETTINGS, **({"VERSIONS_NOW": now.isoformat()} if now else {}))
    stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                     settings=settings, env={"http_proxy": site.proxy_url})
    stats["_requests"] = site.requests()[start:]
    return stats


def article_requests(stats: dict) -> list[str]:
    return sorted(r.path for r in stats["_requests"] if r.path.startswith("/news/"))


def records(topic_dir) -> list:
    found = []
    for path in sorted((topic_dir / "warc").glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type in ("response", "revisit"):
                    found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                                  record.rec_headers.get_header("WARC-Profile"),
                                  record.rec_headers.get_header("WARC-Refers-To-Target-URI"),
                                  record.rec_headers.get_header("WARC-Refers-To"),
                                  record.rec_headers.get_header("WARC-Record-ID")))
    return found


def test_three_runs_keep_every_version_and_show_the_changes(site, tmp_path):
    topic_dir = tmp_path / "archive" / "versions"
    start = datetime.now(timezone.utc)
    first = run(site, tmp_path)
    assert article_requests(first) == sorted(f"/news/lavrov-{name}" for name in NAMES)
    first_files = {p.name: p.read_bytes() for p in (topic_dir / "text").iterdir()}
    assert len(first_files) == 6
    changing = next(n for n in first_files if n.endswith(f"_{url_hash(url('changing'))}.txt"))
    stem = changing[:-len(".txt")]

    second = run(site, tmp_path, start + timedelta(hours=2))  # past the 1 h point: every kept article again
    requests = [r for r in second["_requests"] if r.path.startswith("/news/")]
    assert sorted(r.path for r in requests) == sorted(f"/news/lavrov-{name}" for name in NAMES)
    assert next(r for r in requests if r.path.endswith("not-modified")).headers.get("If-None-Match") == '"a1"'
    assert second["versions/not_modified"] == 1 and second["versions/removed"] == 2
    assert second["versions/unchanged"] == 2  # the ad slot and timestamp, and the identical payload

    third = run(site, tmp_path, start + timedelta(hours=8))  # past 6 h: the ones still there, once more
    assert article_requests(third) == sorted(f"/news/lavrov-{name}" for name in NAMES
                                             if name not in ("removed", "sent-home"))
    fourth = run(site, tmp_path, start + timedelta(hours=9))  # no point passed since: nothing is asked for
    assert article_requests(fourth) == []

    files = {p.name: p.read_bytes() for p in (topic_dir / "text").iterdir()}
    assert {n: files[n] for n in first_files} == first_files  # nothing written was changed
    assert sorted(set(files) - set(first_files)) == [f"{stem}.v2.txt", f"{stem}.v3.txt"]
    assert files[f"{stem}.v2.txt"].decode().startswith(" date 2021-07-16 Lavrov says US mission in Afghanistan has")
    assert files[f"{stem}.v3.txt"].decode().endswith(ADDED + "\n\n" + CORRECTION + "\n")

    lines = list(read_manifest(topic_dir / "manifest.jsonl"))
    versions = [line for line in lines if line.get("version")]
    assert [(v["file"], v["version"], v["previous"], v["changed"]) for v in versions] == [
        (f"{stem}.v2.txt", 2, changing, "both"), (f"{stem}.v3.txt", 3, f"{stem}.v2.txt", "body")]
    assert all(v["url"] == url("changing") and v["captured_at"] for v in versions)
    assert versions[0]["captured_at"] < versions[1]["captured_at"]

    found = records(topic_dir)
    not_modified = [r for r in found if r[0] == "revisit" and r[1] == url("not-modified")]
    assert len(not_modified) == 2
    assert {r[2] for r in not_modified} == {"http://netpreserve.org/warc/1.1/revisit/server-not-modified"}
    original = next(r for r in found if r[0] == "response" and r[1] == url("not-modified"))
    assert {(r[3], r[4]) for r in not_modified} == {(url("not-modified"), original[5])}
    identical = [r for r in found if r[0] == "revisit" and r[1] == url("identical")]
    assert [r[2] for r in identical] == ["http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"] * 2
    assert len([r for r in found if r[0] == "response" and r[1] == url("ads")]) == 3  # kept, no new version
    for path in sorted((topic_dir / "warc").glob("*.warc.gz")):  # the revisit records are valid WARC/1.1
        check = subprocess.run([sys.executable, "-m", "crawler.archive", "check", str(path)], capture_output=True,
                               text=True)
        assert check.returncode == 0, check.stdout + check.stderr

    store = SqliteStore(topic_dir / "state.sqlite", read_only=True)
    try:
        removed = {a.url: a.removed for a in store.tracked_articles() if a.removed}
    finally:
        store.close()
    assert removed == {url("removed"): "404", url("sent-home"): "redirected home"}

    report = json.loads((topic_dir / "report.json").read_text())
    assert report["totals"]["kept"] == 6 and len(report["articles"]) == 6  # versions are not more articles
    part = report["versions"]
    assert part["totals"] == {"changed_articles": 1, "new_versions": 2, "title_changes": 1, "corrections": 1,
                              "removed": 2}
    assert part["outlets"]["echo-daily"]["changed"] == 2 and part["outlets"]["echo-daily"]["removed"] == 2
    second_version = part["changed"][0]
    assert second_version["title_before"] == "Lavrov: US mission in Afghanistan failed"
    assert second_version["title_after"] == "Lavrov says US mission in Afghanistan has failed"
    assert ["insert", ADDED] in second_version["diff"]
    assert part["changed"][1]["correction"] == CORRECTION
    markdown = (topic_dir / "report.md").read_text()
    assert "## Changed articles" in markdown and f"+{CORRECTION}" in markdown and f"+{ADDED}" in markdown
    assert "### Removed articles" in markdown and "redirected home" in markdown
    assert re.search(r"` \d{3}_[0-9a-f]{16}\.v2\.txt `, replaces ` \d{3}_[0-9a-f]{16}\.txt `", markdown)  # code: no escapes
    page_html = (topic_dir / "report.html").read_text()
    assert f"<ins>{ADDED}</ins>" in page_html
    assert "<del>Lavrov: US mission in Afghanistan failed</del>" in page_html

    # Replay reproduces the versions: every text file byte for byte, the same version lines and removals.
    replayed = tmp_path / "replayed" / "versions"
    crawl("coverage", tmp_path / "replayed", spider_args={"topic": str(tmp_path / "topic.toml")},
          settings={**SETTINGS, "REPLAY_FROM": str(topic_dir / "warc")})
    assert {p.name: p.read_bytes() for p in (replayed / "text").iterdir()} == files
    again = [line for line in read_manifest(replayed / "manifest.jsonl") if line.get("version")]
    fields = ("file", "version", "previous", "changed", "captured_at", "url")
    assert [[v[k] for k in fields] for v in again] == [[v[k] for k in fields] for v in versions]
    assert json.loads((replayed / "report.json").read_text())["versions"]["totals"] == part["totals"]


def test_the_schedule_decays_and_ends(tmp_path):
    article = TrackedArticle("https://a.test/a", "https://a.test/a", "https://a.test/a", "alpha", "000_x.txt", 1,
                             "2021-07-16T09:00:00+00:00")
    at = datetime(2021, 7, 16, 9, tzinfo=timezone.utc)
    schedule = [1, 6, 24, 72, 168]
    assert [points_passed(article, schedule, at + timedelta(hours=h)) for h in (0.5, 1, 7, 30, 100, 200, 9999)] == [
        0, 1, 2, 3, 4, 5, 5]


def test_versions_are_on_by_default_for_recent_topics_only(tmp_path):
    from scrapy.settings import Settings

    (tmp_path / "topic.toml").write_text(TOPIC)
    topic = load_topic(tmp_path / "topic.toml")
    settings = Settings({"VERSIONS_ENABLED": None})
    assert versions_enabled(settings, topic, datetime(2021, 7, 25, tzinfo=timezone.utc))
    assert not versions_enabled(settings, topic, datetime(2021, 7, 28, tzinfo=timezone.utc))
    assert versions_enabled(Settings({"VERSIONS_ENABLED": "True"}), topic, datetime(2030, 1, 1, tzinfo=timezone.utc))


def test_workers_of_a_cluster_check_each_article_once(site, tmp_path, redis_url):
    """Distributed: what is tracked lives in Redis, and two workers starting together claim each due check once."""
    from concurrent.futures import ThreadPoolExecutor

    topic_dir = tmp_path / "archive" / "versions"
    cluster = {"CLUSTER_REDIS_URL": redis_url}
    start = datetime.now(timezone.utc)
    crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
          settings={**SETTINGS, **cluster}, env={"http_proxy": site.proxy_url})
    before = len(site.requests())
    later = {**SETTINGS, **cluster, "VERSIONS_NOW": (start + timedelta(hours=2)).isoformat()}
    with ThreadPoolExecutor(2) as pool:
        runs = [pool.submit(crawl, "coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                            settings=later, env={"http_proxy": site.proxy_url}, check=False) for _ in range(2)]
        results = [future.result() for future in runs]
    # a worker that found every check taken fetched nothing: exit status 3, as any worker with nothing left to do
    assert sorted(process.returncode for _, process in results)[0] == 0
    assert {process.returncode for _, process in results} <= {0, 3}
    stats = [s for s, _ in results]
    asked = sorted(r.path for r in site.requests()[before:] if r.path.startswith("/news/"))
    assert asked == sorted(f"/news/lavrov-{name}" for name in NAMES)  # once each, whichever worker asked
    assert sum(s.get("versions/checks", 0) for s in stats) == len(NAMES)
    assert sum(s.get("versions/not_modified", 0) for s in stats) == 1
    versions = [line for line in read_manifest(topic_dir / "manifest.jsonl") if line.get("version")]
    assert [(v["version"], v["changed"]) for v in versions] == [(2, "both")]
    assert (topic_dir / "text" / versions[0]["file"]).read_text().endswith(ADDED + "\n")


def test_a_state_rebuilt_from_the_manifest_tracks_each_article_at_its_newest_version(tmp_path):
    """The manifest is the record of what was kept: a lost state (or one from before versions were tracked) gets
    every article back at its newest version, keyed by the first version's URL."""
    from pipelines.versions import restore_tracked

    lines = [{"file": "000_0123456789abcdef.txt", "url": url("a"), "final_url": url("a") + "?x", "outlet_slug": "echo",
              "title": "First", "fetched_at": "2021-07-16T09:00:00+00:00", "warc_record_id": "<urn:uuid:1>"},
             {"file": "001_1123456789abcdef.txt", "url": url("b"), "outlet_slug": "echo",
              "fetched_at": "2021-07-16T09:05:00+00:00"},
             {"file": "000_0123456789abcdef.v2.txt", "url": url("a"), "outlet_slug": "echo", "title": "Second",
              "version": 2, "previous": "000_0123456789abcdef.txt", "fetched_at": "2021-07-16T12:00:00+00:00",
              "warc_record_id": "<urn:uuid:2>"}]
    store = SqliteStore(tmp_path / "state.sqlite")
    try:
        assert restore_tracked(store, lines) == 2
        a = store.tracked(url("a"))
        assert (a.file, a.version, a.title, a.first_captured, a.request_url, a.record_id, a.warc_date) == (
            "000_0123456789abcdef.v2.txt", 2, "Second", "2021-07-16T09:00:00+00:00", url("a") + "?x", "<urn:uuid:2>",
            "2021-07-16T12:00:00Z")
        assert restore_tracked(store, lines) == 0  # already tracked at that version: left as it is
    finally:
        store.close()


def test_what_changed_reads_the_cleaned_text_only():
    from crawler.report.versions import correction_pattern, word_diff
    from pipelines.versions import version_file_name, what_changed

    first = " date 2021-07-16 Lavrov speaks\n\nOne.\n\nTwo.\n"
    assert what_changed(first, first) is None
    assert what_changed(first, " date 2021-07-17 Lavrov speaks\n\nOne.\n\nTwo.\n") is None  # the date stamp alone
    assert what_changed(first, " date 2021-07-16 Lavrov spoke\n\nOne.\n\nTwo.\n") == "title"
    assert what_changed(first, " date 2021-07-16 Lavrov speaks\n\nOne.\n\nTwo!\n") == "body"
    assert what_changed(first, "Lavrov spoke\n\nOne.\n") == "both"
    assert version_file_name("007_0123456789abcdef.txt", 3) == "007_0123456789abcdef.v3.txt"
    assert word_diff(["a b c"], ["a x c", "d"]) == [("equal", "a"), ("delete", "b"), ("insert", "x"),
                                                   ("equal", "c"), ("insert", "d")]
    german = correction_pattern(["de"])
    assert german.match("Korrektur: In einer früheren Fassung hieß es ...")
    assert correction_pattern(["en"]).match("Update (17 July, 10:00 GMT): Lavrov later said ...")
    assert not correction_pattern(["en"]).match("Updates on the talks were expected later: none came.")
