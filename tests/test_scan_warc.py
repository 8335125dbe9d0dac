"""scan-warc: a topic's articles out of WARC collections others made (crawler/commands/scan_warc.py, its
prefilter crawler/archive/scan.py, its spider crawler/spiders/scan.py), local files and HTTP URLs alike."""

from __future__ import annotations

import json
import random
import tomllib
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.archive.scan import Prefilter, ScanResult, needles, open_source, scan_stream
from crawler.topic import parse_topic
from tests.support.crawl import run_scrapy
from tests.support.scanwarc import TOPIC, damaged_copy, write_collection
from tests.support.sites import Reply, SiteServer
from tests.support.warc import warcio_check


@pytest.fixture(scope="module")
def collections(tmp_path_factory) -> tuple[Path, Path, set[str], set[str]]:
    """Two collections of about 3000 records each: ``a`` (outlets A and B) read from disk, ``b`` (outlet C)."""
    root = tmp_path_factory.mktemp("collections")
    rng = random.Random(24)
    a = write_collection(root / "a.warc.gz", rng, filler_pairs=1500, part="a")
    b = write_collection(root / "b.warc.gz", rng, filler_pairs=1400, part="b")
    assert a.records > 3000 and b.records > 2800
    return root / "a.warc.gz", root / "b.warc.gz", a.expected, b.expected


def topic_file(directory: Path) -> Path:
    path = directory / "topic.toml"
    path.write_text(TOPIC, encoding="utf-8")
    return path


def scan(topic: Path, archive: Path, *sources: str, check: bool = True):
    return run_scrapy(["scan-warc", str(topic), *sources, "-s", f"ARCHIVE_DIR={archive}", "-s", "EXTRACT_WORKERS=0",
                       "-s", "LOG_LEVEL=INFO"], check=check)


def manifest(topic_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (topic_dir / "manifest.jsonl").read_text().splitlines()]


def records(path: Path) -> list[tuple[str, dict[str, str], bytes]]:
    with open(path, "rb") as fh:
        return [(r.rec_type, dict(r.rec_headers.headers), r.content_stream().read() if r.rec_type == "metadata"
                 else b"") for r in ArchiveIterator(fh)]


@pytest.mark.parametrize("reader", ["checked", "fastwarc", "warcio"])
def test_the_prefilter_keeps_records_on_the_outlets_that_hold_a_term_and_both_readers_agree(collections, reader):
    a, _, expected, _ = collections
    topic = parse_topic(tomllib.loads(TOPIC))
    prefilter = Prefilter({h for o in topic.outlets for h in o.hosts}, needles(topic.query), 16 << 20)
    written: list[bytes] = []
    result = ScanResult()
    stream = open_source(str(a), timeout=10)
    scan_stream(stream, str(a), prefilter, written.append, result, set(), reader)
    traps = {"https://www.outlet-a.test/world/2021/05/02/lavrov-taliban-may",
             "https://news.outlet-b.test/sport/lavrov-cricket", "https://www.outlet-a.test/europe/lavrov-berlin"}
    assert set(result.urls) == expected | traps  # relevance and the window are the crawl's to judge
    assert result.repeated == 1 and not result.damaged and stream.count == a.stat().st_size
    assert len(written) == 2 * len(result.urls)  # each record, then the metadata record naming its source


def test_needles_are_the_positive_terms_in_their_utf8_forms():
    topic = parse_topic(tomllib.loads(TOPIC.replace("Lavrov AND", '"foreign  Minister" AND Лавров AND')))
    found = needles(topic.query)
    assert b"minister" in found and b"afghan" in found and b"cricket" not in found  # a phrase: its longest word
    assert "лавров".encode() in found and "ЛАВРОВ".encode().lower() in found


def test_scan_keeps_exactly_the_topics_articles_from_files_and_urls_and_adds_nothing_the_second_time(
        tmp_path, collections):
    a, b, expected_a, expected_b = collections
    archive = tmp_path / "archive"
    topic = topic_file(tmp_path)
    with SiteServer() as site:
        site.route(f"{site.origin}/cc-news/b.warc.gz", Reply(body=b.read_bytes(), chunked=True,
                                                             headers=[("Content-Type", "application/warc")]))
        url = f"{site.origin}/cc-news/b.warc.gz"
        result = scan(topic, archive, str(a), url)
        topic_dir = archive / "lavrov-scan"
        entries = manifest(topic_dir)
        assert {e["url"] for e in entries} == expected_a | expected_b, result.stderr[-3000:]
        assert {e["source"] for e in entries} == {"warc-scan"} and {e["via"] for e in entries} == {"warc-scan"}
        assert all(e["captured_at"] == "2021-07-17T08:00:00+00:00" for e in entries)
        assert "kept for extraction" in result.stderr

        files = sorted((topic_dir / "warc").glob("*.warc.gz"))
        assert files
        for path in files:
            check = warcio_check(path)
            assert check.returncode == 0, check.stdout + check.stderr
        copied = [r for path in files for r in records(path)]
        responses = {h["WARC-Record-ID"]: h["WARC-Target-URI"] for kind, h, _ in copied if kind == "response"}
        assert set(responses.values()) >= expected_a | expected_b
        metadata = [(h, body.decode()) for kind, h, body in copied if kind == "metadata"]
        assert {h["WARC-Concurrent-To"] for h, _ in metadata} == set(responses)
        sources = {line.split(": ", 1)[1] for _, body in metadata for line in body.splitlines()
                   if line.startswith("source: ")}
        assert sources == {str(a), url}
        assert all("offset: " in body for _, body in metadata)
        assert {e["warc_record_id"] for e in entries} <= set(responses)

        report = json.loads((topic_dir / "report.json").read_text())
        assert report["sources"]["outlets"]["outlet-a"] == {"warc-scan": 2}
        assert report["sources"]["outlets"]["outlet-c"] == {"warc-scan": 2}
        # the two off-topic traps are a section-shaped and a short URL: not article-shaped, so never extracted
        assert report["totals"]["off_topic"] == 0 and report["totals"]["out_of_window"] == 1

        before = {path.name: path.stat().st_size for path in (topic_dir / "warc").iterdir()}
        text_before = sorted(p.name for p in (topic_dir / "text").iterdir())
        scan(topic, archive, str(a), url)
        assert manifest(topic_dir) == entries
        assert {path.name: path.stat().st_size for path in (topic_dir / "warc").iterdir()} == before
        assert sorted(p.name for p in (topic_dir / "text").iterdir()) == text_before


@pytest.mark.parametrize("how", ["reset", "cut"])
def test_a_source_that_breaks_off_keeps_what_came_before_it(tmp_path, collections, how):
    """A server that resets the connection halfway (after a pause: a reset discards what the client has not
    read yet), or whose file ends halfway: what came before is kept, and the warning names the source."""
    a, _, expected_a, _ = collections
    archive = tmp_path / "archive"
    half = a.stat().st_size // 2
    reply = Reply(body=a.read_bytes(), reset_after=half, reset_delay=1.0) if how == "reset" \
        else Reply(body=a.read_bytes(), cut=half)
    with SiteServer() as site:
        site.route(f"{site.origin}/a.warc.gz", reply)
        result = scan(topic_file(tmp_path), archive, f"{site.origin}/a.warc.gz")
    expected_line = "read stopped" if how == "reset" else "the source ends inside this gzip member"
    assert f"warning: {site.origin}/a.warc.gz: " in result.stderr and expected_line in result.stderr, result.stderr
    urls = {e["url"] for e in manifest(archive / "lavrov-scan")}
    assert urls and urls <= expected_a  # the story's records lie in the first half of the file


@pytest.mark.parametrize("case", ["missing", "not_a_warc", "bad_topic", "http_404", "no_source", "bad_reader",
                                  "bad_clock", "missing_cues", "second_http_404", "symlinked_topic_dir"])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, collections, case):
    a = collections[0]
    archive = tmp_path / "archive"
    topic = topic_file(tmp_path)
    extra: list[str] = []
    with SiteServer() as site:
        if case == "missing":
            sources = [str(a), str(tmp_path / "nope.warc.gz")]
        elif case == "not_a_warc":
            text = tmp_path / "notes.warc.gz"
            text.write_text("these are notes, not a WARC file\n")
            sources = [str(a), str(text)]  # the first one is fine: still nothing is written
        elif case == "bad_topic":
            topic.write_text(TOPIC.replace("since = 2021-07-10", "since = yesterday"))
            sources = [str(a)]
        elif case == "http_404":
            sources = [f"{site.origin}/gone.warc.gz"]
        elif case == "second_http_404":  # known before the first source is read, not after
            site.route(f"{site.origin}/a.warc.gz", Reply(body=a.read_bytes()))
            sources = [f"{site.origin}/a.warc.gz", f"{site.origin}/gone.warc.gz"]
        elif case == "symlinked_topic_dir":  # refused before any source is read
            elsewhere = tmp_path / "elsewhere"
            elsewhere.mkdir()
            archive.mkdir()
            (archive / "lavrov-scan").symlink_to(elsewhere)
            site.route(f"{site.origin}/a.warc.gz", Reply(body=a.read_bytes()))
            sources = [f"{site.origin}/a.warc.gz"]
        elif case == "no_source":
            sources = []
        elif case == "bad_clock":  # the crawl's own settings are checked as `scrapy crawl` checks them
            sources, extra = [str(a)], ["-s", "VERSIONS_NOW=yesterday"]
        elif case == "missing_cues":
            sources, extra = [str(a)], ["-s", f"EXTRACT_CUES_FILE={tmp_path / 'nope.toml'}"]
        else:
            sources, extra = [str(a)], ["-s", "SCAN_WARC_READER=magic"]
        result = run_scrapy(["scan-warc", str(topic), *sources, "-s", f"ARCHIVE_DIR={archive}", *extra],
                            check=False)
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in result.stderr, result.stderr
    if case == "symlinked_topic_dir":
        assert "is a symlink" in lines[0] and site.requests() == [] and list((tmp_path / "elsewhere").iterdir()) == []
    else:
        assert not archive.exists()


def test_a_crawls_own_archive_scanned_keeps_its_articles_not_its_listings(tmp_path):
    """The bundled example's WARC holds, besides its six articles, a search page, section pages, a paginated
    section and a news sitemap, all on the outlets' hosts and naming the query's terms: none of them is an
    article, and a scan keeps exactly the six the crawl keeps."""
    from tests.support.example import EXAMPLE

    archive = tmp_path / "archive"
    scan(EXAMPLE / "topic.toml", archive, str(EXAMPLE / "example.warc.gz"))
    entries = manifest(archive / "lavrov-afghanistan")
    urls = sorted(e["url"] for e in entries)
    assert len(urls) == 6, urls
    assert not [u for u in urls if "sitemap" in u or "suche" in u or u.rstrip("/").endswith("/world") or "page=" in u]


@pytest.mark.parametrize("gzipped", [True, False], ids=["warc.gz", "warc"])
def test_records_that_lie_about_their_length_are_named_and_cost_nothing_else(tmp_path, collections, gzipped):
    """Someone else's file with a lying record among the story's and a declared gigabyte among the rest: the
    others are all kept, the liar is not copied (the topic's WARC stays readable by every reader), and the warning
    line, the report's sources section and its failed captures name it."""
    a, _, expected_a, _ = collections
    liar, filler = "http://outlet-a.test/news/lavrov-afghan-border", "https://www.site-3.test/section-3/page-3"
    source = tmp_path / ("damaged.warc.gz" if gzipped else "damaged.warc")
    damaged_copy(a, source, {liar: 300, filler: 10 ** 9}, gzipped=gzipped)
    archive = tmp_path / "archive"
    result = scan(topic_file(tmp_path), archive, str(source))
    topic_dir = archive / "lavrov-scan"
    assert {e["url"] for e in manifest(topic_dir)} == expected_a - {liar}, result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 2 and all(f"{source}: offset " in line for line in warnings), warnings
    assert any(liar in line for line in warnings) and any(filler in line for line in warnings)
    sources = json.loads((topic_dir / "report.json").read_text())["sources"]
    assert sources["archives"]["warc-scan"]["damaged_length_mismatch"] == 2, (warnings, sources)
    assert [(f["url"], f["outlet"]) for f in sources["failed"]] == [(liar, "outlet-a")]
    assert "does not end where its Content-Length" in sources["failed"][0]["why"] \
        or "declares" in sources["failed"][0]["why"]
    assert "## Sources" in (topic_dir / "report.md").read_text()

    from fastwarc.warc import ArchiveIterator as FastIterator

    for path in sorted((topic_dir / "warc").glob("*.warc.gz")):
        check = warcio_check(path)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(path, "rb") as fh:
            by_warcio = sum(1 for _ in ArchiveIterator(fh))
        with open(path, "rb") as fh:
            by_fastwarc = sum(1 for _ in FastIterator(fh, parse_http=False))
        assert by_fastwarc == by_warcio > 0


def test_a_source_that_stalls_or_goes_away_after_the_first_is_read_costs_only_itself(tmp_path, collections):
    """The second source answers the first look, then stalls past the timeout when it is read; a third is gone
    by the time it is read: the first source's articles are kept, and each of the others is named in a line."""
    a, b, expected_a, expected_b = collections
    archive = tmp_path / "archive"
    with SiteServer() as site:
        site.route(f"{site.origin}/a.warc.gz", Reply(body=a.read_bytes()))
        # first answer: the probe; second: the read, which stalls after 200 KB for longer than the timeout
        site.route(f"{site.origin}/b.warc.gz", Reply(body=b.read_bytes()),
                   Reply(body=b.read_bytes(), reset_after=200_000, reset_delay=4.0))
        site.route(f"{site.origin}/c.warc.gz", Reply(body=b.read_bytes()), Reply(status=503, body=b"busy"))
        result = run_scrapy(["scan-warc", str(topic_file(tmp_path)), f"{site.origin}/a.warc.gz",
                             f"{site.origin}/b.warc.gz", f"{site.origin}/c.warc.gz", "-s", f"ARCHIVE_DIR={archive}",
                             "-s", "EXTRACT_WORKERS=0", "-s", "SCAN_WARC_HTTP_TIMEOUT=1"], check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    kept = {e["url"] for e in manifest(archive / "lavrov-scan")}
    assert expected_a <= kept <= expected_a | expected_b  # b's story lies in its first 200 KB, before the stall
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert any(line.startswith(f"warning: {site.origin}/b.warc.gz: ") for line in warnings), warnings
    assert any(line.startswith(f"warning: {site.origin}/c.warc.gz: ") and "503" in line for line in warnings)
    assert "Traceback" not in result.stderr


def test_ctrl_c_during_the_pass_is_one_line_and_writes_nothing(tmp_path, collections):
    import os
    import signal
    import subprocess
    import sys
    import time

    a = collections[0]
    archive = tmp_path / "archive"
    env = dict(os.environ, SCRAPY_SETTINGS_MODULE="crawler.settings", TMPDIR=str(tmp_path),
               PYTHONPATH=os.pathsep.join(filter(None, [str(Path(__file__).resolve().parent.parent),
                                                        os.environ.get("PYTHONPATH")])))
    with SiteServer() as site:
        site.route(f"{site.origin}/slow.warc.gz", Reply(body=a.read_bytes()),
                   Reply(body=a.read_bytes(), trickle=0.05))  # the probe, then a read that takes minutes
        process = subprocess.Popen([sys.executable, "-m", "scrapy", "scan-warc", str(topic_file(tmp_path)),
                                    f"{site.origin}/slow.warc.gz", "-s", f"ARCHIVE_DIR={archive}"],
                                   cwd=Path(__file__).resolve().parent.parent, env=env, stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while site.count(f"{site.origin}/slow.warc.gz") < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(0.5)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("interrupted: ") and "Traceback" not in err, err
    assert not archive.exists()
    assert not list(tmp_path.glob("presswarc-scan-warc-*"))  # the temporary pass is removed too


def test_a_host_written_in_capitals_with_a_trailing_dot_is_the_outlets(tmp_path):
    import gzip as _gzip

    from tests.support.scanwarc import exchange, story, warcinfo

    rng = random.Random(7)
    url = "https://WWW.OUTLET-A.TEST./world/2021/07/16/lavrov-taliban-talks-in-capitals"
    source = tmp_path / "capitals.warc.gz"
    source.write_bytes(warcinfo(source.name) + exchange(url, story(
        "Lavrov warns the Taliban", "Lavrov said the Taliban now control much of Afghanistan.", rng),
        "2021-07-17T08:00:00Z"))
    archive = tmp_path / "archive"
    result = scan(topic_file(tmp_path), archive, str(source))
    assert [e["url"] for e in manifest(archive / "lavrov-scan")] == [
        "https://www.outlet-a.test/world/2021/07/16/lavrov-taliban-talks-in-capitals"], result.stderr[-2000:]
    assert _gzip  # the source is a .warc.gz of one member per record


def test_a_warc_gz_beginning_with_an_empty_gzip_member_is_read(tmp_path):
    import gzip as _gzip

    from tests.support.scanwarc import exchange, story, warcinfo

    url = "https://www.outlet-a.test/world/2021/07/16/lavrov-taliban-talks-after-an-empty-member"
    source = tmp_path / "empty-first.warc.gz"
    source.write_bytes(_gzip.compress(b"", mtime=0) + warcinfo(source.name) + exchange(url, story(
        "Lavrov warns the Taliban", "Lavrov said the Taliban now control much of Afghanistan.", random.Random(8)),
        "2021-07-17T08:00:00Z"))
    archive = tmp_path / "archive"
    result = scan(topic_file(tmp_path), archive, str(source), check=False)
    assert result.returncode == 0, result.stderr[-2000:]
    assert [e["url"] for e in manifest(archive / "lavrov-scan")] == [url]


def test_a_record_whose_header_smuggles_a_field_behind_a_bare_line_feed_is_named_and_not_copied(tmp_path):
    """``X-Note: a<LF>Content-Length: 5`` is one field to a reader splitting at CRLF and two to warcio, which
    splits at LF: copied, the record would be framed by the topic's readers at 5 bytes and its WARC file be
    unreadable past it. It is left out and named; the article beside it is kept."""
    import gzip as _gzip

    from tests.support.scanwarc import exchange, story, warcinfo

    rng = random.Random(9)
    lead = "Lavrov said the Taliban now control much of Afghanistan."
    kept = "https://www.outlet-a.test/world/2021/07/16/lavrov-taliban-talks-beside-a-smuggler"
    smuggler = "https://news.outlet-b.test/2021/07/15/lavrov-kabul-smuggled"
    members = [_gzip.decompress(m) for m in _split_members(exchange(smuggler, story(
        "Lavrov in Kabul", lead, rng), "2021-07-17T08:00:00Z"))]
    response = members[1].replace(b"\r\nContent-Type: application/http", b"\r\nX-Note: a\nContent-Length: 5"
                                  b"\r\nContent-Type: application/http", 1)
    source = tmp_path / "smuggled.warc.gz"
    source.write_bytes(warcinfo(source.name) + _gzip.compress(members[0], mtime=0) + _gzip.compress(response, mtime=0)
                       + exchange(kept, story("Lavrov warns the Taliban", lead, rng), "2021-07-17T08:00:00Z"))
    archive = tmp_path / "archive"
    result = scan(topic_file(tmp_path), archive, str(source), check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    topic_dir = archive / "lavrov-scan"
    assert [e["url"] for e in manifest(topic_dir)] == [kept], result.stderr[-3000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert len(warnings) == 1 and smuggler in warnings[0], warnings
    for path in sorted((topic_dir / "warc").glob("*.warc.gz")):
        check = warcio_check(path)
        assert check.returncode == 0, check.stdout + check.stderr


def _split_members(data: bytes) -> list[bytes]:
    import zlib

    members = []
    while data:
        inflater = zlib.decompressobj(31)
        inflater.decompress(data)
        members.append(data[:len(data) - len(inflater.unused_data)])
        data = inflater.unused_data
    return members


def test_the_prefilter_reads_a_host_in_any_case_with_a_trailing_dot_and_a_port():
    prefilter = Prefilter({"www.outlet-a.test", "outlet-a.test"}, [b"lavrov"], 1 << 20)
    for url in ("https://WWW.OUTLET-A.TEST./x", "https://www.outlet-a.test.:443/x", "http://Outlet-A.Test.:8080/x"):
        assert prefilter.on_outlet(url), url
    assert not prefilter.on_outlet("https://www.outlet-a.test.elsewhere.test./x")


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd", "zstd-two-frames"])
def test_the_prefilter_finds_a_term_in_every_encoded_payload(coding):
    import gzip as _gzip
    import zlib as _zlib

    import brotli
    try:
        from compression import zstd
    except ImportError:
        from backports import zstd

    page = b"<html><body><p>" + b"Local news. " * 300 + b"</p><p>Lavrov spoke.</p></body></html>"
    body = {"gzip": lambda: _gzip.compress(page), "deflate": lambda: _zlib.compress(page),
            "br": lambda: brotli.compress(page), "zstd": lambda: zstd.compress(page),
            "zstd-two-frames": lambda: zstd.compress(page[:40]) + zstd.compress(page[40:])}[coding]()
    name = coding.split("-")[0]
    block = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: {name}\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode() + body
    assert Prefilter({"a.test"}, [b"lavrov"], 1 << 20).wanted(block)
    assert not Prefilter({"a.test"}, [b"taliban"], 1 << 20).wanted(block)


@pytest.mark.parametrize("coding", ["gzip", "deflate", "br", "zstd"])
def test_the_prefilter_reads_what_arrived_of_a_cut_off_encoded_payload(coding):
    """A capture cut short (the crawler's size limit, a dropped connection) keeps its first bytes: a term in
    them is found, and a cut stream is never an error."""
    import gzip as _gzip
    import random as _random
    import zlib as _zlib

    import brotli
    try:
        from compression import zstd
    except ImportError:
        from backports import zstd

    # incompressible and over 128 KB (a zstd block; a block is decodable only whole): the cut falls after the term
    noise = _random.Random(3).randbytes(200_000).hex().encode()
    page = b"<html><body><p>Lavrov spoke.</p><p>" + noise + b"</p></body></html>"
    body = {"gzip": _gzip.compress, "deflate": _zlib.compress, "br": brotli.compress, "zstd": zstd.compress}[coding](
        page)
    cut = body[:len(body) // 2]
    block = (f"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: {coding}\r\n"
             f"Content-Length: {len(body)}\r\n\r\n").encode() + cut
    assert Prefilter({"a.test"}, [b"lavrov"], 1 << 20).wanted(block)
    assert not Prefilter({"a.test"}, [b"taliban"], 1 << 20).wanted(block)
