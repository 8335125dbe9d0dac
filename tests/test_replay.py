"""Offline replay: a crawl answered from WARC files, without any network connection."""

from __future__ import annotations

import os
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive.replay import ReplayIndex, replay_key
from tests.crawl import REPO, crawl
from tests.sites import Reply, SiteServer
from tests.test_recorder import ARTICLE, LIVE

NETGUARD = REPO / "tests" / "netguard"


def offline_env(log: Path) -> dict[str, str]:
    """Environment that makes any internet connection attempt fail and be logged."""
    return {"PYTHONPATH": f"{NETGUARD}{os.pathsep}{REPO}", "NETGUARD_LOG": str(log)}


@pytest.fixture(scope="module")
def recorded(tmp_path_factory):
    """A live crawl of a small site (robots, redirect, 503 then 200, gzip), then the server is gone."""
    archive = tmp_path_factory.mktemp("live")
    with SiteServer() as site:
        base = site.origin
        site.route(f"{base}/robots.txt", "User-agent: *\nDisallow: /private\n")
        site.route(f"{base}/a.html", ARTICLE)
        site.route(f"{base}/gz.html", Reply(body=ARTICLE, gzip=True, chunked=True))
        site.redirect(f"{base}/moved", f"{base}/a.html")
        site.route(f"{base}/flaky.html", Reply(body="busy", status=503), ARTICLE.replace("Lavrov", "Flaky"))
        urls = [f"{base}/a.html", f"{base}/gz.html", f"{base}/moved", f"{base}/flaky.html"]
        stats, _ = crawl("urllist", archive, spider_args={"urls": ",".join(urls), "topic_name": "rep"},
                         settings={**LIVE, "RETRY_BACKOFF_BASE": "0"})
        assert stats["urllist/parsed"] == 4
    return archive / "rep" / "warc", urls


def test_replay_serves_everything_without_network(recorded, tmp_path):
    warc_dir, urls = recorded
    log = tmp_path / "net.log"
    base = urls[0].rsplit("/", 1)[0]
    stats, result = crawl("urllist", tmp_path / "out",
                          spider_args={"urls": ",".join(urls + [f"{base}/never-archived.html"]), "topic_name": "rep"},
                          settings={"REPLAY_FROM": warc_dir, "ALLOW_PRIVATE_HOSTS": "True"},
                          env=offline_env(log))
    assert not log.exists() or log.read_text() == "", log.read_text()
    assert stats["urllist/parsed"] == 4
    assert stats["replay/miss"] == 1
    # robots.txt, a.html, gz.html, 301 + a.html again, 503 + 200
    assert stats["replay/hit"] == 7
    assert stats["retry/count"] == 1
    assert stats["downloader/response_status_count/301"] == 1
    assert not (tmp_path / "out" / "rep" / "warc").exists() or not list((tmp_path / "out" / "rep" / "warc").iterdir())
    assert "never-archived" in result.stderr  # the miss is named in the DEBUG log


def test_replay_can_write_a_new_warc_when_asked(recorded, tmp_path):
    warc_dir, urls = recorded
    stats, _ = crawl("urllist", tmp_path / "out", spider_args={"urls": urls[0], "topic_name": "rep"},
                     settings={"REPLAY_FROM": warc_dir, "WARC_ENABLED": "True", "ALLOW_PRIVATE_HOSTS": "True"},
                     env=offline_env(tmp_path / "net.log"))
    assert stats["warc/records_written"] >= 2


def _write_warc(path: Path, bodies: dict[str, bytes], gzip: bool = True) -> None:
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip, warc_version="1.1")
        for url, body in bodies.items():
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body),
                                                          length=len(body), http_headers=headers))


def test_corrupt_member_keeps_earlier_records_and_names_file_and_offset(tmp_path, caplog):
    path = tmp_path / "x.warc.gz"
    _write_warc(path, {f"http://e.test/{n}": b"<p>page %d</p>" % n for n in range(4)})
    data = path.read_bytes()
    cut = len(data) // 2
    path.write_bytes(data[:cut] + b"\x1f\x8b\x08garbage-not-gzip" + data[cut:])
    index = ReplayIndex(tmp_path)
    assert index.errors and str(path) in index.errors[0] and "offset" in index.errors[0]
    assert index.lookup("GET", "http://e.test/0") is not None


def test_truncated_last_record_and_non_warc_file(tmp_path):
    path = tmp_path / "a.warc.gz"
    _write_warc(path, {"http://e.test/a": b"A" * 5000, "http://e.test/b": b"B" * 5000})
    path.write_bytes(path.read_bytes()[:-100])
    (tmp_path / "notes.warc").write_bytes(b"this is not a WARC file at all\n")
    index = ReplayIndex(tmp_path)
    assert index.lookup("GET", "http://e.test/a") is not None
    assert len(index.errors) == 2


def test_canonical_match_and_recorded_order():
    assert replay_key("HTTP://Example.COM:80/a?b=2&a=1#frag") == replay_key("http://example.com/a?a=1&b=2")


def test_wrong_digest_is_refused(tmp_path):
    path = tmp_path / "d.warc"
    _write_warc(path, {"http://e.test/d": b"<p>original text</p>"}, gzip=False)
    data = path.read_bytes().replace(b"original text", b"tampered text")
    path.write_bytes(data)
    from crawler.archive.replay import ReplayError, _read_record

    pointer = ReplayIndex(tmp_path).lookup("GET", "http://e.test/d")
    with pytest.raises(ReplayError, match=r"d\.warc offset \d+: digest mismatch"):
        _read_record(pointer, verify=True)
