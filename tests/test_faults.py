"""Hostile and broken input, and a bad network, in one live crawl: nothing crashes, nothing bad is let in.

Outlets served locally: one well-behaved, one whose feed leads to every kind of broken page, one that answers 500
to everything, one whose host does not resolve. The crawl must finish, keep the good articles, refuse what
must be refused, and count each outlet's errors.
"""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

GOOD, BAD, STORM = "http://www.good.test", "http://www.hostile.test", "http://www.storm.test"
NOWHERE = "http://www.nowhere.invalid"
IDN = "http://новости.test"  # an internationalised host name: on the wire as xn--b1amarcd.test
IDN_WIRE = "http://" + "новости.test".encode("idna").decode("ascii")
MAXSIZE = 1024 * 1024
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]
RUSSIAN = ["Министр иностранных дел России Сергей Лавров (Lavrov) заявил, что миссия США в Афганистане провалилась.",
           "По его словам, поспешный вывод войск США и НАТО привел к быстрому ухудшению обстановки в стране."]
TOPIC = f"""
name = "faults"
query = 'Lavrov'

[[outlet]]
name = "Good"
url = "{GOOD}/"
feeds = ["{GOOD}/feed.xml"]

[[outlet]]
name = "Hostile"
url = "{BAD}/"
feeds = ["{BAD}/feed.xml"]

[[outlet]]
name = "Storm"
url = "{STORM}/"
feeds = ["{STORM}/feed.xml"]

[[outlet]]
name = "Nowhere"
url = "{NOWHERE}/"

[[outlet]]
name = "Novosti"
url = "{IDN}/"
feeds = ["{IDN}/feed.xml"]
"""


def page(title: str, body: list[str] = BODY) -> str:
    return article_page(title, body, published="2021-07-16")


def hostile_pages(site: SiteServer) -> dict[str, str]:
    """Route the hostile outlet's pages; returns name -> URL."""
    urls = {name: f"{BAD}/news/{name}" for name in (
        "empty", "garbage", "cp1251-declared-utf8", "huge", "huge-chunked", "gzip-bomb", "truncated-gzip", "wrong-encoding",
        "deep", "script-only", "reset", "slow", "too-many-requests", "loop-a", "chain-0", "to-file", "to-private",
        "to-elsewhere", "injection")}
    urls["injection"] += "?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%27%3B%20DROP%20TABLE%20articles%3B--"
    long_url = f"{BAD}/news/long?" + "x=" + "a" * 9000
    urls["long-valid"] = f"{BAD}/news/lavrov-" + "b" * 3000  # over Scrapy's 2083, within ours
    site.route(urls["long-valid"], page("Lavrov at a long address", ["A story at an address of 3000 characters."]
                                        + BODY))
    site.route(urls["empty"], Reply(body=b""))
    site.route(urls["garbage"], Reply(body=bytes(range(256)) * 200))
    site.route(urls["cp1251-declared-utf8"], Reply(body=page("Лавров: миссия США провалилась (Lavrov)", RUSSIAN)
                                                   .encode("cp1251", errors="replace"),
                                                   headers=[("Content-Type", "text/html; charset=utf-8")]))
    site.route(urls["huge"], Reply(body=page("Lavrov huge") + "<p>" + "x" * 3_000_000 + "</p>"))
    site.route(urls["huge-chunked"], Reply(body=page("Lavrov huge, no length") + "<p>" + "y" * 3_000_000 + "</p>",
                                           chunked=True))
    site.route(urls["gzip-bomb"], Reply(body=gzip.compress(b"\0" * 200_000_000, compresslevel=9), raw_body=True,
                                        gzip=True))
    site.route(urls["truncated-gzip"], Reply(body=gzip.compress(page("Lavrov truncated").encode())[:300],
                                             raw_body=True, gzip=True))
    site.route(urls["wrong-encoding"], Reply(body=page("Lavrov wrong encoding"), raw_body=True, gzip=True))
    site.route(urls["deep"], Reply(body="<html><body>" + "<div>" * 20000 + "Lavrov deep" + "</div>" * 20000))
    site.route(urls["script-only"], Reply(body="<html><head><script>document.write('Lavrov')</script></head></html>"))
    site.route(urls["reset"], Reply(body=page("Lavrov reset") * 20, reset_after=500))
    site.route(urls["slow"], Reply(body=page("Lavrov slow"), trickle=0.5))
    site.route(urls["too-many-requests"], Reply(body="slow down", status=429, headers=[("Retry-After", "2")]),
               page("Lavrov after the rate limit"))
    site.redirect(urls["loop-a"], f"{BAD}/news/loop-b")
    site.redirect(f"{BAD}/news/loop-b", urls["loop-a"])
    for n in range(30):
        site.redirect(f"{BAD}/news/chain-{n}", f"{BAD}/news/chain-{n + 1}")
    site.route(f"{BAD}/news/chain-30", page("Lavrov at the end of the chain"))
    site.redirect(urls["to-file"], "file:///etc/passwd")
    site.redirect(urls["to-private"], f"{site.origin}/secret")
    site.route(f"{site.origin}/secret", "secret")
    site.redirect(urls["to-elsewhere"], "http://www.elsewhere.test/news/lavrov")
    site.route(urls["injection"], page("Lavrov <script>alert(1)</script> \"quoted\" 'DROP TABLE'"))
    site.route(f"{BAD}/feed.xml", rss_feed("Hostile", [{"url": u, "title": f"Lavrov {n}"} for n, u in urls.items()]
                                           + [{"url": long_url, "title": "Lavrov long"}]))
    urls["long"] = long_url
    return urls


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("faults")
    (tmp / "topic.toml").write_text(TOPIC)
    with SiteServer() as site:
        for outlet in (GOOD, BAD, STORM):
            site.route(f"{outlet}/robots.txt", robots_txt())
            site.route(f"{outlet}/", "<html><body><p>home</p></body></html>")
        good = [f"{GOOD}/news/lavrov-{n}" for n in range(3)]
        site.route(f"{GOOD}/feed.xml", rss_feed("Good", [{"url": u, "title": "Lavrov"} for u in good]))
        for n, url in enumerate(good):
            site.route(url, page(f"Lavrov good story {n}", [f"Good story number {n}."] + BODY))
        urls = hostile_pages(site)
        site.route(f"{IDN_WIRE}/robots.txt", robots_txt())
        site.route(f"{IDN_WIRE}/", "<html><body><p>home</p></body></html>")
        site.route(f"{IDN_WIRE}/feed.xml", rss_feed("Novosti", [{"url": f"{IDN}/news/lavrov-idn", "title": "Lavrov"}]))
        site.route(f"{IDN_WIRE}/news/lavrov-idn", page("Lavrov on an internationalised host"))
        site.route(f"{STORM}/feed.xml", Reply(body="storm", status=500))
        site.route(f"{STORM}/", Reply(body="storm", status=500))
        site.route(f"{STORM}/robots.txt", Reply(body="storm", status=500))
        stats, result = crawl("coverage", tmp / "archive", spider_args={"topic": str(tmp / "topic.toml")},
                              settings={"DOWNLOAD_DELAY": "0", "DOWNLOAD_MAXSIZE": str(MAXSIZE),
                                        "DOWNLOAD_TIMEOUT": "3", "RETRY_TIMES": "2", "BACKOFF_BASE": "0.2",
                                        "EXTRACT_WORKERS": "0", "REDIRECT_MAX_TIMES": "20"},
                              env={"http_proxy": site.proxy_url, "no_proxy": "nowhere.invalid"}, timeout=240)
        log = site.requests()
    return {"stats": stats, "stderr": result.stderr, "log": log, "urls": urls, "good": good,
            "dir": tmp / "archive" / "faults", "origin": site.origin}


def kept(run) -> dict[str, dict]:
    return {e["url"]: e for e in read_manifest(run["dir"] / "manifest.jsonl")}


def test_the_crawl_finishes_and_keeps_the_good_articles(run):
    assert run["stats"]["finish_reason"] == "finished"
    assert set(run["good"]) <= set(kept(run))
    assert "Traceback" not in run["stderr"].split("Spider closed")[0] or "Unhandled error" not in run["stderr"]


def test_broken_pages_are_survived(run):
    entries, urls = kept(run), run["urls"]
    for name in ("empty", "garbage", "script-only", "huge", "huge-chunked", "gzip-bomb", "truncated-gzip", "reset", "slow"):
        assert urls[name] not in entries, name
    assert run["stats"]["coverage/hostile/no_text"] >= 3  # empty, garbage, script only: fetched, nothing to read
    russian = entries[urls["cp1251-declared-utf8"]]
    text = (run["dir"] / "text" / russian["file"]).read_text(encoding="utf-8")
    assert RUSSIAN[0] in text  # decoded from the bytes, not from the wrong declaration
    assert urls["too-many-requests"] in entries


def test_a_long_address_within_the_limit_is_kept(run):
    """Addresses up to 8192 characters are crawled (longer ones are refused with an outcome): Scrapy's own limit,
    2083, would drop an article at a longer one without a word."""
    assert run["urls"]["long-valid"] in kept(run)


def test_retry_after_is_honoured(run):
    times = [r.time for r in run["log"] if r.url == run["urls"]["too-many-requests"]]
    assert len(times) == 2 and times[1] - times[0] >= 1.9


def test_redirects_that_must_not_be_followed(run):
    paths = [r.path for r in run["log"]]
    assert "/secret" not in paths  # a private address
    assert not any(r.host == "www.elsewhere.test" for r in run["log"])  # another site
    assert paths.count("/news/loop-a") <= 3 and paths.count("/news/loop-b") <= 3
    assert f"{BAD}/news/chain-30" not in [r.url for r in run["log"]]  # more hops than allowed
    assert not any(len(r.path) > 8000 for r in run["log"])  # the over-long URL was never requested


def test_injection_looking_url_is_written_safely(run):
    entry = next(e for url, e in kept(run).items() if "DROP" in url)
    line = next(l for l in (run["dir"] / "manifest.jsonl").read_text().splitlines() if "DROP" in l)
    assert json.loads(line)["url"] == entry["url"]
    assert entry["file"].endswith(".txt") and "/" not in entry["file"]


def test_errors_are_counted_per_outlet_and_others_go_on(run):
    stats = run["stats"]
    assert stats.get("coverage/storm/errors", 0) + stats.get("coverage/storm/discovery_errors", 0) >= 1
    assert stats.get("coverage/nowhere/errors", 0) + stats.get("coverage/nowhere/discovery_errors", 0) >= 1
    assert stats.get("coverage/hostile/errors", 0) >= 4
    report = json.loads((run["dir"] / "report.json").read_text())
    assert report["outlets"]["hostile"]["errors"] >= 4


def test_every_warc_file_is_valid(run):
    files = list((run["dir"] / "warc").glob("*.warc.gz"))
    assert files
    for path in files:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr


def response_records(run) -> dict[str, list]:
    """URL -> [(WARC headers, payload bytes)] of every response record of the crawl."""
    from warcio.archiveiterator import ArchiveIterator

    found: dict[str, list] = {}
    for path in sorted((run["dir"] / "warc").glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    url = record.rec_headers.get_header("WARC-Target-URI")
                    found.setdefault(url, []).append((record.rec_headers, record.content_stream().read()))
    return found


def test_oversize_pages_are_archived_as_truncated(run):
    records, urls = response_records(run), run["urls"]
    announced = records[urls["huge"]]  # Content-Length over the limit: stopped at the headers
    assert [h.get_header("WARC-Truncated") for h, _ in announced] == ["length"]
    assert announced[0][1] == b""
    unannounced = records[urls["huge-chunked"]]  # no length given: cut once the limit is passed
    assert [h.get_header("WARC-Truncated") for h, _ in unannounced] == ["length"]
    assert MAXSIZE // 2 < len(unannounced[0][1]) <= MAXSIZE + 256 * 1024
    assert b"Lavrov huge, no length" in unannounced[0][1]  # the start of what the server sent
    assert not any(h.get_header("WARC-Truncated") for url, recs in records.items() for h, _ in recs
                   if url not in (urls["huge"], urls["huge-chunked"]))
    stats = run["stats"]
    assert stats["download/truncated_oversize"] == 2
    assert stats["warc/truncated_written"] == 2
    assert stats["coverage/hostile/truncated"] >= 2


def test_replayed_truncated_records_are_not_read_as_whole(run, tmp_path):
    (tmp_path / "topic.toml").write_text(TOPIC)
    stats, _ = crawl("coverage", tmp_path / "again", spider_args={"topic": str(tmp_path / "topic.toml")},
                     settings={"REPLAY_FROM": str(run["dir"] / "warc"), "EXTRACT_WORKERS": "0",
                               "RETRY_TIMES": "0", "REDIRECT_MAX_TIMES": "20"}, timeout=120)
    entries = {e["url"] for e in read_manifest(tmp_path / "again" / "faults" / "manifest.jsonl")}
    assert run["urls"]["huge"] not in entries and run["urls"]["huge-chunked"] not in entries
    assert set(run["good"]) <= entries
    assert stats["coverage/hostile/truncated"] >= 2


def test_an_internationalised_host_is_crawled_by_its_ascii_name(run):
    assert any(r.host == IDN_WIRE.split("//")[1] and r.path == "/news/lavrov-idn" for r in run["log"])
    entries = [e for e in kept(run).values() if e.get("outlet") == "Novosti"]
    assert len(entries) == 1 and entries[0]["url"].endswith("/news/lavrov-idn")
