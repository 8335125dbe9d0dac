"""Responses cut short are flagged ``truncated``: real crawls of a real HTTP server whose articles come whole or
with their compressed streams cut off, in every content-coding Scrapy decodes, alone and stacked."""

from __future__ import annotations

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import CODINGS, Reply, SiteServer, article_page, robots_txt, rss_feed
from tests.support.warc import warcio_check

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
