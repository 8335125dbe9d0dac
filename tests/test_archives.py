"""A story of July 2021 collected from the web archives: a real pywb as the Wayback Machine (behind a front that
answers in the Internet Archive's CDX dialect) and Common Crawl-like collections (an index answering like
Common Crawl's, a range server holding the WARC files), all on 127.0.0.1. The live outlets no longer list the
story, and one is gone; with ``archives_only`` no outlet is contacted at all."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.urls.normal import canonical_url
from tests.support.crawl import REPO, crawl
from tests.support.live import LIVE
from tests.support.sites import SiteServer, article_page, section_page
from tests.support.story2021 import ALPHA, BETA, FORBIDDEN, GAMMA, SHARED, build_story, topic_file
from tests.support.webarchives import ON_TOPIC, Faults, Pywb, cc_index, ia_front, range_server

NETGUARD = REPO / "tests" / "netguard"
OUTLET_HOSTS = ("www.alpha.test", "www.beta.test", "www.gone.test", "www.gamma.test", "alpha.test", "beta.test")


class Archives:
    """The stand-ins, started once for the module; each test sets the faults it wants."""

    def __init__(self, root: Path) -> None:
        self.story = build_story(root / "story")
        self.ia_faults, self.cc_faults, self.range_faults = Faults(), Faults(), Faults()
        self.pywb = Pywb(root / "pywb", [self.story.wayback_warc])
        self.ia = None
        self.cc = cc_index(self.story.collections, self.cc_faults)
        self.data = range_server(self.story.cc_dir, self.range_faults)

    def settings(self) -> dict[str, str]:
        return {**LIVE, "ARCHIVES_WAYBACK_CDX_URL": f"{self.ia.origin}/cdx",
                "ARCHIVES_WAYBACK_REPLAY_URL": self.pywb.replay,
                "ARCHIVES_COMMONCRAWL_INDEX_URL": f"{self.cc.origin}/collinfo.json",
                "ARCHIVES_COMMONCRAWL_DATA_URL": f"{self.data.origin}/", "ARCHIVES_DELAY": "0",
                "EXTRACT_WORKERS": "0", "BACKOFF_BASE": "0.2", "PROGRESS_INTERVAL": "0"}


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    stand_ins = Archives(tmp_path_factory.mktemp("archives"))
    with stand_ins.pywb:
        stand_ins.ia = ia_front(stand_ins.pywb.cdx, stand_ins.ia_faults)
        with stand_ins.ia, stand_ins.cc, stand_ins.data:
            yield stand_ins


def live_site(site: SiteServer, still_listed: bool = False) -> None:
    """The outlets today: home pages listing other stories (``still_listed``: Alpha's still links the shared
    story); the gone outlet answers nothing."""
    for outlet in (ALPHA, BETA, GAMMA):
        links = [(f"{outlet}/2026/11/30/new-story", "New story")]
        if still_listed and outlet == ALPHA:
            links.append((SHARED, "Lavrov on Taliban border talks"))
            site.route(SHARED, article(SHARED))
        site.route(f"{outlet}/", section_page("Home", links))
        if still_listed and outlet == BETA:  # today's robots.txt, obeyed for its archived pages too
            site.route(f"{outlet}/robots.txt", "User-agent: *\nDisallow: /news/\n")
        site.route(f"{outlet}/2026/11/30/new-story", article_page("A story of today", ["Nothing of 2021."]))


def article(url: str) -> str:
    return article_page("Lavrov on Taliban border talks", [f"Live copy of {url}.", *ON_TOPIC], published="2021-07-16")


def run(archives: Archives, tmp_path: Path, archives_only: bool, still_listed: bool = False,
        **extra) -> tuple[dict, Path, SiteServer]:
    topic = topic_file(tmp_path / "topic.toml", archives_only)
    with SiteServer() as site:
        live_site(site, still_listed)
        stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(topic)},
                         settings={**archives.settings(), **extra},
                         env={"http_proxy": site.proxy_url, "no_proxy": "127.0.0.1"})
        site.logged = site.requests()
    return stats, tmp_path / "archive" / "past-story", site


def manifest(root: Path) -> list[dict]:
    return [json.loads(line) for line in (root / "manifest.jsonl").read_text().splitlines()]


def records(root: Path) -> list:
    found = []
    for path in sorted((root / "warc").glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                              record.rec_headers.get_header("WARC-Date"), record.content_stream().read()))
    return found


@pytest.fixture(scope="module")
def collected(archives, tmp_path_factory):
    return run(archives, tmp_path_factory.mktemp("only"), archives_only=True)


def test_archives_only_collects_the_window_and_never_contacts_an_outlet(archives, collected):
    stats, root, site = collected
    entries = manifest(root)
    kept = {canonical_url(e["url"]) for e in entries}
    assert kept == {canonical_url(u) for u in archives.story.expected}
    assert not kept & {canonical_url(u) for u in archives.story.outside}
    assert canonical_url(FORBIDDEN) not in kept  # the robots.txt the archive holds says no
    assert stats.get("archives/wayback/robots_forbidden") == 1
    assert stats.get("archives/wayback/redirects_followed") == 1
    assert stats.get("archives/wayback/listings_read") == 1  # Beta's archived feed
    assert stats.get("archives/wayback/dated_outside_by_listing") == 1  # the late story: not fetched at all
    assert [r for r in site.logged if r.host.split(":")[0] in OUTLET_HOSTS] == []
    # Common Crawl: only the collection following the window is asked, never all of them
    asked = " ".join(path for path, _ in archives.cc.log)
    assert "CC-MAIN-2021-31-index" in asked
    assert "CC-MAIN-2020-50" not in asked and "CC-MAIN-2021-43" not in asked
    # gamma.test's two July captures are on two pages of one capture each: both pages were read
    assert "url=gamma.test" in asked and "page=1" in asked and stats["archives/commoncrawl/out_of_window"] == 1


def test_the_manifest_names_each_copy_source_capture_time_and_other_captures(archives, collected):
    _, root, _ = collected
    by_url = {canonical_url(e["url"]): e for e in manifest(root)}
    shared = by_url[canonical_url(SHARED)]
    assert shared["source"] == "wayback"  # the capture closest after publication (the 17th, not the 25th)
    assert shared["captured_at"] == "2021-07-17T09:30:00+00:00"
    assert [(a["source"], a["captured_at"]) for a in shared["also_in"]] == [
        ("commoncrawl", "2021-07-25T10:10:10+00:00")]
    gamma = by_url[canonical_url(f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html")]
    assert (gamma["source"], gamma["captured_at"], gamma["also_in"]) == (
        "commoncrawl", "2021-07-28T10:10:10+00:00", [])
    assert {e["source"] for e in by_url.values()} == {"wayback", "commoncrawl"}


def test_the_live_copy_wins_and_lists_the_archived_captures(archives, tmp_path):
    stats, root, site = run(archives, tmp_path, archives_only=False, still_listed=True)
    by_url = {canonical_url(e["url"]): e for e in manifest(root)}
    shared = by_url[canonical_url(SHARED)]
    assert shared["source"] == "live" and shared["captured_at"] == shared["fetched_at"]
    assert {a["source"] for a in shared["also_in"]} == {"wayback", "commoncrawl"}
    assert sum(stats.get(f"archives/{s}/live_copy", 0) for s in ("wayback", "commoncrawl")) >= 1
    assert not any(url == SHARED and date.startswith("2021") for kind, url, date, _ in records(root)
                   if kind == "response")  # no archived copy of it was written
    assert any(r.host == "www.alpha.test" for r in site.logged)  # live outlets are crawled too
    assert canonical_url(f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html") in by_url
    assert not any("/news/" in url for url in by_url)  # Beta's live robots.txt disallows them now
    assert stats.get("archives/wayback/robots_forbidden", 0) >= 1


def test_the_warc_holds_the_originals_at_their_capture_dates(archives, collected):
    _, root, _ = collected
    for path in (root / "warc").glob("*.warc.gz"):
        check = subprocess.run([sys.executable, "-m", "crawler.archive", "check", str(path)], cwd=REPO,
                               capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert check.returncode == 0, check.stdout + check.stderr
    found = records(root)
    responses = {(url, date) for kind, url, date, _ in found if kind == "response"}
    assert (SHARED, "2021-07-17T09:30:00Z") in responses  # Wayback: the original URL at the capture's time
    assert (f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html", "2021-07-25T10:10:10Z") not in responses
    assert (f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html", "2021-07-28T10:10:10Z") in responses
    metadata = [body for kind, _, _, body in found if kind == "metadata"]
    assert any(b"via: " + archives.pywb.replay.encode() in body for body in metadata)
    assert any(b"collection: CC-MAIN-2021-31" in body and b"offset: " in body for body in metadata)
    # the exchanges with the archives are recorded too (so a replay can answer them)
    urls = {url for kind, url, _, _ in found if kind == "request"}
    assert any(url.startswith(archives.ia.origin) for url in urls)
    assert any(url.startswith(archives.data.origin) for url in urls)
    # no record claims a coding its payload is not in
    shared = next(body for kind, url, date, body in found if kind == "response" and url == SHARED
                  and date.startswith("2021"))
    assert shared.startswith(b"<") or shared[:2] == b"\x1f\x8b"


def test_the_report_counts_articles_per_source_and_failed_captures(collected):
    _, root, _ = collected
    report = json.loads((root / "report.json").read_text())
    outlets = report["sources"]["outlets"]
    assert outlets["alpha"] == {"wayback": 1} and outlets["gamma"] == {"commoncrawl": 1}
    assert "## Sources" in (root / "report.md").read_text()


def test_a_replay_of_the_crawl_never_contacts_the_archives(archives, collected, tmp_path):
    _, root, _ = collected
    log = tmp_path / "netguard.log"
    stats, _ = crawl("coverage", tmp_path / "replayed", spider_args={"topic": str(root / "topic.toml")},
                     settings={**archives.settings(), "REPLAY_FROM": str(root / "warc")},
                     env={"PYTHONPATH": f"{NETGUARD}{os.pathsep}{REPO}", "NETGUARD_LOG": str(log)})
    assert not log.exists() or log.read_text() == ""
    replayed = {canonical_url(e["url"]) for e in manifest(tmp_path / "replayed" / "past-story")}
    assert replayed == {canonical_url(e["url"]) for e in manifest(root)}


def test_archive_faults_are_counted_reported_and_not_fatal(archives, tmp_path):
    archives.ia_faults.rate_limited = 2  # 429 with Retry-After, then answers
    archives.ia_faults.malformed = True
    archives.cc_faults.server_errors = 50  # the Common Crawl index is down for the whole run
    archives.range_faults.cut = 100
    try:
        stats, root, _ = run(archives, tmp_path, archives_only=True, RETRY_TIMES="1")
    finally:
        archives.ia_faults.rate_limited = archives.cc_faults.server_errors = 0
        archives.ia_faults.malformed, archives.range_faults.cut = False, None
    assert stats["archives/wayback/retried"] >= 1
    assert stats["archives/wayback/cdx_malformed_lines"] >= 1
    assert stats["archives/commoncrawl/server_errors"] >= 1
    kept = {canonical_url(e["url"]) for e in manifest(root)}
    assert canonical_url(SHARED) in kept  # Wayback's copies still came
    report = json.loads((root / "report.json").read_text())
    reasons = " ".join(f["why"] for f in report["sources"]["failed"])
    assert "malformed CDX line" in reasons and "HTTP 503" in reasons


def test_a_truncated_range_is_counted_and_reported(archives, tmp_path):
    archives.range_faults.cut = 100
    try:
        stats, root, _ = run(archives, tmp_path, archives_only=True)
    finally:
        archives.range_faults.cut = None
    assert stats["archives/commoncrawl/truncated_ranges"] >= 1
    kept = {canonical_url(e["url"]) for e in manifest(root)}
    assert canonical_url(f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html") not in kept
    report = json.loads((root / "report.json").read_text())
    assert any("range of 100 bytes" in f["why"] for f in report["sources"]["failed"])
