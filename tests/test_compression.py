"""Compressed bodies cut short, in every content-coding Scrapy decodes, alone and stacked: the real codecs on
their own, then real crawls of a real HTTP server whose articles come whole or cut off."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest
from warcio.archiveiterator import ArchiveIterator

from crawler.compression import complete_stream, decoded_codings
from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed
from tests.support.warc import warcio_check

CODINGS = ["gzip", "deflate", "br", "zstd", "gzip, br", "gzip, gzip", "br, zstd", "zstd, deflate"]
PAGE = article_page("Lavrov on Afghanistan", [f"Paragraph {n}: Lavrov spoke of Afghanistan and the Taliban, "
                                              f"of Kabul and of the border ({n * 7919})." for n in range(400)],
                    published="2021-07-16").encode()


def encoded(coding: str, body: bytes = PAGE) -> bytes:
    return Reply(body=body, encoding=coding).encoded()


@pytest.mark.parametrize("coding", CODINGS)
def test_whole_streams_are_complete_and_cut_ones_are_not(coding):
    """Each layer must reach its end-of-stream marker; a cut anywhere (the last bytes, the middle, the header)
    leaves one short. Before, only a single gzip or deflate layer was checked."""
    body = encoded(coding)
    codings = decoded_codings([coding.encode()])
    assert complete_stream(body, codings)
    for cut in (len(body) - 1, len(body) - 6, len(body) // 2, 12):
        assert not complete_stream(body[:cut], codings), cut


def test_inner_layer_cut_inside_a_whole_outer_one():
    """gzip inside gzip: the outer stream is whole, the one it carries was cut before it was compressed again."""
    body = gzip.compress(gzip.compress(PAGE)[:-10])
    assert not complete_stream(body, ["gzip", "gzip"])
    assert complete_stream(body, ["gzip"])  # what the old single-layer check saw


def test_concatenated_gzip_members_and_zstd_frames():
    """Python's gzip (and Scrapy) read every member; each must be whole. Trailing zero padding is allowed."""
    two = gzip.compress(PAGE) + gzip.compress(PAGE)
    assert complete_stream(two, ["gzip"]) and complete_stream(two + b"\0\0", ["gzip"])
    assert not complete_stream(two[:-4], ["gzip"])
    frames = encoded("zstd") * 2
    assert complete_stream(frames, ["zstd"]) and not complete_stream(frames[:-3], ["zstd"])


def test_raw_deflate_without_zlib_header():
    import zlib

    packer = zlib.compressobj(wbits=-15)
    raw = packer.compress(PAGE) + packer.flush()
    assert complete_stream(raw, ["deflate"]) and not complete_stream(raw[:-5], ["deflate"])


def test_codings_scrapy_undoes():
    assert decoded_codings([b"gzip, br"]) == ["gzip", "br"]
    assert decoded_codings([b"gzip", b"BR"]) == ["gzip", "br"]
    assert decoded_codings([b"compress, gzip"]) == ["gzip"]  # Scrapy stops at the first it cannot undo
    assert decoded_codings([b"identity"]) == []


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "gzip, br", "deflate"])
def test_bomb_is_complete_and_checked_in_bounded_memory(coding):
    """A body decoding to 300 MB (far past DOWNLOAD_MAXSIZE) is whole-but-oversize, even cut: Scrapy refuses it
    for its size. Without a limit the whole stream is decoded, and memory still stays at a few pieces."""
    bomb = encoded(coding, b"\0" * 300_000_000)
    codings = decoded_codings([coding.encode()])
    assert complete_stream(bomb, codings, 16 << 20) and complete_stream(bomb[:-4], codings, 16 << 20)
    tracemalloc.start()
    try:
        assert complete_stream(bomb, codings, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(bomb) + 4 * 1024 * 1024, peak


# -- real crawls ---------------------------------------------------------------------------------------------

HOST = "http://www.epsilon.test"
TOPIC = f"""
name = "codings"
query = 'Lavrov AND Afghan*'

[[outlet]]
name = "Epsilon News"
url = "{HOST}/"
feeds = ["{HOST}/feed.xml"]
"""
SETTINGS = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "RETRY_TIMES": "0", "EXTRACT_WORKERS": "0",
            "CONCURRENT_REQUESTS_PER_DOMAIN": "8"}


def slug(coding: str, cut: bool) -> str:
    return coding.replace(", ", "-") + ("-cut" if cut else "-whole")


def article(name: str) -> bytes:
    return article_page(f"Lavrov on Afghanistan: {name}", [f"Story {name}."] + [
        f"Sergei Lavrov said the mission in Afghanistan had failed, paragraph {n} ({n * 104729})." for n in range(60)],
        published="2021-07-16", site_name="Epsilon News").encode()


@pytest.fixture
def site(tmp_path):
    (tmp_path / "topic.toml").write_text(TOPIC)
    with SiteServer() as server:
        server.route(f"{HOST}/robots.txt", robots_txt())
        server.route(f"{HOST}/", "<html><body><p>Epsilon News</p></body></html>")
        yield server


def serve(site: SiteServer, names: list[str]) -> None:
    items = [{"url": f"{HOST}/news/{name}", "title": f"Lavrov on Afghanistan: {name}", "published": "2021-07-16"}
             for name in names]
    site.route(f"{HOST}/feed.xml", Reply(body=rss_feed("Epsilon News", items),
                                         headers=[("Content-Type", "application/rss+xml")]))


def run(site: SiteServer, tmp_path) -> dict:
    stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                     settings=SETTINGS, env={"http_proxy": site.proxy_url})
    return stats


def kept(tmp_path) -> set[str]:
    return {entry["url"].rsplit("/", 1)[1] for entry in read_manifest(tmp_path / "archive" / "codings" / "manifest.jsonl")}


def responses(tmp_path) -> dict[str, list]:
    found: dict[str, list] = {}
    for path in sorted((tmp_path / "archive" / "codings" / "warc").glob("*.warc.gz")):
        with open(path, "rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type == "response":
                    found.setdefault(record.rec_headers.get_header("WARC-Target-URI"), []).append(
                        (record.rec_headers, record.http_headers, record.raw_stream.read()))
    return found


def test_every_coding_whole_is_kept_and_cut_is_not(site, tmp_path):
    """Cut streams of every coding (alone and stacked) are flagged: no text file, counted truncated, archived
    byte for byte as sent without WARC-Truncated (the record is whole), and the WARC passes `warcio check`."""
    names = [slug(coding, cut) for coding in CODINGS for cut in (False, True)]
    for coding in CODINGS:
        for cut in (False, True):
            site.route(f"{HOST}/news/{slug(coding, cut)}", Reply(body=article(slug(coding, cut)), encoding=coding,
                                                                cut=-7 if cut else None))
    serve(site, names)
    stats = run(site, tmp_path)
    assert kept(tmp_path) == {slug(coding, False) for coding in CODINGS}
    assert stats["coverage/epsilon-news/truncated"] == len(CODINGS)
    assert stats["compression/truncated"] == len(CODINGS)
    records = responses(tmp_path)
    for coding in CODINGS:
        url = f"{HOST}/news/{slug(coding, True)}"
        [(warc_headers, http_headers, raw)] = records[url]
        assert warc_headers.get_header("WARC-Truncated") is None
        assert http_headers.get_header("Content-Encoding") == coding
        assert raw == Reply(body=article(slug(coding, True)), encoding=coding, cut=-7).encoded()
    for path in (tmp_path / "archive" / "codings" / "warc").glob("*.warc.gz"):
        check = warcio_check(path)
        assert check.returncode == 0, check.stdout + check.stderr


def test_cut_article_is_fetched_again_and_kept_when_whole(site, tmp_path):
    """Run 1 gets cut streams (br, zstd, gzip twice): nothing kept, outcome error. Run 2 gets them whole: kept."""
    names = ["br", "zstd", "gzip-gzip"]
    for name, coding in zip(names, ["br", "zstd", "gzip, gzip"]):
        body = article(name)
        site.route(f"{HOST}/news/{name}", Reply(body=body, encoding=coding, cut=-3),
                   Reply(body=body, encoding=coding))
    serve(site, names)
    first = run(site, tmp_path)
    assert kept(tmp_path) == set() and first["coverage/epsilon-news/truncated"] == 3
    second = run(site, tmp_path)
    assert kept(tmp_path) == set(names)
    assert not second.get("coverage/epsilon-news/truncated")
    assert all(site.count(f"{HOST}/news/{name}") == 2 for name in names)
