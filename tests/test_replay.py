"""Offline replay: a crawl answered from WARC files, without any network connection."""

from __future__ import annotations

import os
from dataclasses import replace
from io import BytesIO
from pathlib import Path

import pytest
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from crawler.archive.replay import ReplayIndex, replay_key
from tests.support.crawl import REPO, crawl
from tests.support.live import ARTICLE, LIVE
from tests.support.sites import Reply, SiteServer

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
                         settings={**LIVE, "BACKOFF_BASE": "0"})
        assert stats["urllist/parsed"] == 4
    return archive / "rep" / "warc", urls


def test_replay_serves_everything_without_network(recorded, tmp_path):
    warc_dir, urls = recorded
    log = tmp_path / "net.log"
    base = urls[0].rsplit("/", 1)[0]
    stats, result = crawl("urllist", tmp_path / "out",
                          spider_args={"urls": ",".join(urls + [f"{base}/never-archived.html"]), "topic_name": "rep"},
                          settings={"REPLAY_FROM": warc_dir, "GUARD_ALLOW_PRIVATE_HOSTS": "True"},
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
    warnings = [line for line in result.stderr.splitlines()
                if "WARNING:" in line and "WARNING: Disabled " not in line]  # components off by configuration
    assert not warnings, "a replay of a healthy archive logs no warnings"


def test_a_replay_source_without_warc_files_is_refused_in_one_line(recorded, tmp_path):
    """Pointing REPLAY_FROM at a crawl's topic folder (its WARC files are in warc/) stops at once, and says so."""
    warc_dir, urls = recorded
    for source, expected in ((warc_dir.parent, f"a crawl keeps its archive in {warc_dir}"),
                             (tmp_path / "missing", "no such file or directory")):
        _, result = crawl("urllist", tmp_path / "out", spider_args={"urls": urls[0], "topic_name": "rep"},
                          settings={"REPLAY_FROM": source}, check=False)
        assert result.returncode == 2
        assert f"error: REPLAY_FROM={source}: " in result.stderr and expected in result.stderr
        assert "Traceback" not in result.stderr and "Spider opened" not in result.stderr


def test_replay_can_write_a_new_warc_when_asked(recorded, tmp_path):
    warc_dir, urls = recorded
    stats, _ = crawl("urllist", tmp_path / "out", spider_args={"urls": urls[0], "topic_name": "rep"},
                     settings={"REPLAY_FROM": warc_dir, "WARC_ENABLED": "True", "GUARD_ALLOW_PRIVATE_HOSTS": "True"},
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


def test_a_record_of_a_host_with_a_trailing_dot_answers_the_normalised_request(tmp_path):
    """Someone else's record of ``https://WWW.E.TEST./a`` (the fully qualified name, in capitals) is the page a
    crawl asks for as ``https://www.e.test/a``: crawler.urls drops that dot, and so must the replay's match."""
    _write_warc(tmp_path / "fqdn.warc.gz", {"https://WWW.E.TEST./a": b"<p>a</p>", "http://E.test.:80/b": b"<p>b</p>"})
    index = ReplayIndex(tmp_path)
    assert index.lookup("GET", "https://www.e.test/a").url == "https://WWW.E.TEST./a"
    assert index.lookup("GET", "http://e.test/b").url == "http://E.test.:80/b"


def test_wrong_digest_is_refused(tmp_path):
    path = tmp_path / "d.warc"
    _write_warc(path, {"http://e.test/d": b"<p>original text</p>"}, gzip=False)
    data = path.read_bytes().replace(b"original text", b"tampered text")
    path.write_bytes(data)
    from crawler.archive.replay import ReplayError, read_record

    pointer = ReplayIndex(tmp_path).lookup("GET", "http://e.test/d")
    with pytest.raises(ReplayError, match=r"d\.warc offset \d+: digest mismatch"):
        read_record(pointer, verify=True)


def test_bytes_that_pass_for_an_arc_header_are_not_served(tmp_path):
    """A stale offset can land on bytes warcio reads as an old ARC header; they are refused, not served."""
    from crawler.archive.replay import ReplayError, read_record

    path = tmp_path / "arc.warc"
    _write_warc(path, {"http://e.test/a": b"<p>real</p>"}, gzip=False)
    offset = path.stat().st_size
    with open(path, "ab") as fh:
        fh.write(b"http://e.test/a 10.0.0.1 20210716000000 text/html 9\n<p>x</p>\n\n")
    pointer = replace(ReplayIndex(tmp_path).lookup("GET", "http://e.test/a"), offset=offset)
    with pytest.raises(ReplayError, match="no WARC record at this offset"):
        read_record(pointer, verify=True)


def test_a_record_for_another_url_is_not_served(tmp_path):
    from crawler.archive.replay import ReplayError, read_record

    _write_warc(tmp_path / "two.warc.gz", {"http://e.test/a": b"<p>a</p>", "http://e.test/b": b"<p>b</p>"})
    index = ReplayIndex(tmp_path)
    pointer_b = index.lookup("GET", "http://e.test/b")
    swapped = replace(index.lookup("GET", "http://e.test/a"), offset=pointer_b.offset)
    with pytest.raises(ReplayError, match="a record for http://e.test/b where one for http://e.test/a"):
        read_record(swapped, verify=True)


def test_tampered_http_header_is_refused_too(tmp_path):
    """The block digest covers the HTTP headers, so an edited header is caught, not only an edited body."""
    path = tmp_path / "h.warc"
    _write_warc(path, {"http://e.test/h": b"<p>text</p>"}, gzip=False)
    path.write_bytes(path.read_bytes().replace(b"Content-Type: text/html", b"Content-Type: text/xml!"))
    from crawler.archive.replay import ReplayError, read_record

    pointer = ReplayIndex(tmp_path).lookup("GET", "http://e.test/h")
    with pytest.raises(ReplayError, match="digest mismatch"):
        read_record(pointer, verify=True)
    assert read_record(pointer, verify=False).body == b"<p>text</p>"


def _without_block_digest(data: bytes, hex_payload_digest: bool = False) -> bytes:
    """A WARC written by a tool that sets only WARC-Payload-Digest (optionally in base16)."""
    import base64
    import re

    data = re.sub(rb"WARC-Block-Digest: [^\r]*\r\n", b"", data)
    if hex_payload_digest:
        data = re.sub(rb"(WARC-Payload-Digest: sha1:)([A-Z2-7]+)",
                      lambda m: m.group(1) + base64.b32decode(m.group(2)).hex().encode(), data)
    return data


@pytest.mark.parametrize("hex_payload_digest", [False, True])
def test_payload_digest_alone_is_checked(tmp_path, hex_payload_digest):
    from crawler.archive.replay import ReplayError, read_record

    good, bad = tmp_path / "good", tmp_path / "bad"
    for directory, body in ((good, b"<p>original text</p>"), (bad, b"<p>original text</p>")):
        directory.mkdir()
        _write_warc(directory / "p.warc", {"http://e.test/p": body}, gzip=False)
        data = _without_block_digest((directory / "p.warc").read_bytes(), hex_payload_digest)
        assert b"WARC-Block-Digest" not in data and b"WARC-Payload-Digest" in data
        if directory is bad:
            data = data.replace(b"original text", b"tampered text")
        (directory / "p.warc").write_bytes(data)
    assert read_record(ReplayIndex(good).lookup("GET", "http://e.test/p"), verify=True).body == (
        b"<p>original text</p>")
    with pytest.raises(ReplayError, match="digest mismatch"):
        read_record(ReplayIndex(bad).lookup("GET", "http://e.test/p"), verify=True)


def test_digest_encodings():
    import base64
    import hashlib

    from crawler.archive.replay import digest_matches

    digest = hashlib.sha1(b"x").digest()
    assert digest_matches("sha1:" + base64.b32encode(digest).decode(), b"x")
    assert digest_matches("sha1:" + digest.hex(), b"x")
    assert digest_matches("sha1:" + base64.b64encode(digest).decode(), b"x")
    assert digest_matches("sha1:" + digest.hex(), b"y") is False
    assert digest_matches("sha256:" + hashlib.sha256(b"x").hexdigest(), b"x")
    assert digest_matches("no-such-algorithm:abc", b"x") is None


def _pointers(index: ReplayIndex) -> dict:
    return {key: [(p.path, p.offset, p.record_type, p.digest) for p in pointers]
            for key, pointers in index.exact.items()}


def test_the_cdxj_index_locates_the_same_records_as_a_scan(recorded, caplog):
    from crawler.archive.replay import read_record, find_cdxj

    warc_dir, _ = recorded
    assert find_cdxj(warc_dir) == warc_dir.parent / "index.cdxj"
    with caplog.at_level("INFO", logger="crawler.archive.replay"):
        indexed = ReplayIndex(warc_dir)
    assert "located through" in caplog.text
    scanned = ReplayIndex(warc_dir, use_cdxj=False)
    assert _pointers(indexed) == _pointers(scanned) and len(indexed) >= 7
    revisits = [p for pointers in indexed.exact.values() for p in pointers if p.record_type == "revisit"]
    assert revisits  # a.html fetched twice: the second copy is a revisit, found through its own headers
    for revisit in revisits:
        served = read_record(revisit, verify=True)
        original = indexed.original_of(revisit, served.refers_to_uri, served.refers_to_date)
        assert original is not None and original.url == revisit.url
    for key, pointers in scanned.exact.items():
        for scan_pointer, index_pointer in zip(pointers, indexed.exact[key]):
            by_scan, by_index = read_record(scan_pointer, True), read_record(index_pointer, True)
            assert by_scan == by_index and by_index.record_id == scan_pointer.record_id


def test_a_file_the_index_does_not_cover_is_scanned(recorded, tmp_path):
    import shutil

    warc_dir, _ = recorded
    shutil.copytree(warc_dir.parent, tmp_path / "rep")
    later = tmp_path / "rep" / "warc" / "later.warc.gz"
    _write_warc(later, {"http://e.test/later": b"<p>written after the index</p>"})
    os.utime(later, (later.stat().st_mtime + 60,) * 2)
    index = ReplayIndex(tmp_path / "rep" / "warc")
    assert index.lookup("GET", "http://e.test/later") is not None
    assert len(index) == len(ReplayIndex(warc_dir)) + 1


def test_a_stale_index_entry_is_a_clear_error(tmp_path):
    from crawler.archive.replay import ReplayError, read_record

    warc = tmp_path / "warc"
    warc.mkdir()
    path = warc / "s.warc.gz"
    _write_warc(path, {"http://e.test/s": b"<p>page</p>", "http://e.test/t": b"<p>other</p>"})
    (tmp_path / "index.cdxj").write_text(
        'test,e)/s 20210716000000 {"url": "http://e.test/s", "mime": "text/html", "status": "200", '
        '"length": "300", "offset": "7", "filename": "s.warc.gz"}\n'
        "a torn line without fields\n")
    os.utime(tmp_path / "index.cdxj", (path.stat().st_mtime + 60,) * 2)
    index = ReplayIndex(warc)
    assert index.lookup("GET", "http://e.test/t") is None  # the index covers the file: no scan
    with pytest.raises(ReplayError, match=r"s\.warc\.gz offset 7: unreadable record"):
        read_record(index.lookup("GET", "http://e.test/s"), verify=True)


def test_replay_drops_request_shaping_middlewares_only():
    from scrapy.utils.test import get_crawler

    from crawler.archive.replay import ReplayAddon
    from crawler.settings import DOWNLOADER_MIDDLEWARES

    def enabled(settings_dict):
        crawler = get_crawler(settings_dict={"ADDONS": {ReplayAddon: 0},
                                             "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES, **settings_dict})
        crawler._apply_settings()
        names = set()
        for setting in ("DOWNLOADER_MIDDLEWARES", "SPIDER_MIDDLEWARES"):
            for key, priority in crawler.settings.get_component_priority_dict_with_base(setting).items():
                if priority is not None:
                    names.add(key if isinstance(key, str) else f"{key.__module__}.{key.__name__}")
        return names

    live, replay = enabled({}), enabled({"REPLAY_FROM": "somewhere"})
    dropped = {name.rsplit(".", 1)[1] for name in live - replay}
    assert dropped == {"DefaultHeadersMiddleware", "DownloadTimeoutMiddleware", "HttpAuthMiddleware",
                       "HttpProxyMiddleware"}
    assert any(name.endswith("RobotsMiddleware") for name in replay)
    assert any(name.endswith("CookiesMiddleware") for name in replay)


@pytest.mark.parametrize("replay", [False, True], ids=["live", "replay"])
def test_only_a_replay_judges_cookie_domains_with_the_bundled_suffix_list(tmp_path, replay):
    """The crawl process Scrapy's command line builds (its add-ons' pre-crawler step included), in a fresh Python:
    a replay's cookies middleware uses tldextract's bundled list (it never downloads one), a live crawl's is
    Scrapy's own, untouched."""
    import json
    import subprocess
    import sys

    script = ("import json\n"
              "from scrapy.crawler import CrawlerProcess\n"
              "from scrapy.downloadermiddlewares import cookies\n"
              "from scrapy.utils.project import get_project_settings\n"
              "scrapys = cookies._split_domain\n"
              "settings = get_project_settings()\n"
              f"settings.set('REPLAY_FROM', {str(tmp_path) if replay else None!r}, priority='cmdline')\n"
              "CrawlerProcess(settings)\n"
              "print(json.dumps([cookies._split_domain is scrapys, list(cookies._split_domain.suffix_list_urls)]))\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "SCRAPY_SETTINGS_MODULE": "crawler.settings"}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    untouched, urls = json.loads(result.stdout.strip().splitlines()[-1])
    if replay:
        assert not untouched and urls == []
    else:
        assert untouched and urls  # Scrapy's TLDExtract, with its list URLs
