"""A WARC recorder that cannot start stops the crawl: nothing is kept (or marked done) without its record."""
from __future__ import annotations

import socket
import re

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

A = "http://www.alpha.test"
BODY = [f"Russian Foreign Minister Sergei Lavrov said the mission in Afghanistan had failed ({n})." for n in range(20)]
FAST = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0", "RETRY_TIMES": "0"}


@pytest.mark.parametrize("how", ["bad_setting", "open_dir"])
def test_no_article_is_kept_without_its_warc_record(tmp_path, how):
    (tmp_path / "topic.toml").write_text(
        'name = "nowarc"\nquery = "Lavrov"\nsince = 2021-07-10\nuntil = 2021-07-20\n\n'
        f'[[outlet]]\nname = "Alpha"\nurl = "{A}/"\nfeeds = ["{A}/feed.xml"]\n')
    settings = dict(FAST)
    if how == "bad_setting":
        settings["WARC_MAX_SIZE"] = "1GB"
    else:  # bad luck: a directory (or unreadable file) named like an abandoned .open file
        host = re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname())
        (tmp_path / "archive" / "nowarc" / "warc" / f"presswarc-20240101000000000-00001-{host}-999999.warc.gz.open"
         ).mkdir(parents=True)
    with SiteServer() as site:
        site.route(f"{A}/robots.txt", robots_txt())
        site.route(f"{A}/", "<html><body>home</body></html>")
        site.route(f"{A}/feed.xml", Reply(body=rss_feed("Alpha", [
            {"url": f"{A}/news/lavrov-kabul", "title": "Lavrov", "published": "2021-07-16"}]),
            headers=[("Content-Type", "application/rss+xml")]))
        site.route(f"{A}/news/lavrov-kabul", article_page("Lavrov on Kabul", BODY, published="2021-07-16"))
        stats, result = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                              settings=settings, env={"http_proxy": site.proxy_url}, check=False)
    kept = list(read_manifest(tmp_path / "archive" / "nowarc" / "manifest.jsonl"))
    warcs = list((tmp_path / "archive" / "nowarc" / "warc").glob("*.warc.gz"))
    print("rc", result.returncode, "kept", len(kept), "warcs", warcs, "warc_file", [e.get("warc_file") for e in kept])
    assert not (kept and not warcs), "articles kept (and marked done) with no WARC record of them"
    if how == "bad_setting":
        # refused before the crawl starts, as every setting of the wrong kind (crawler/commands/crawl.py)
        assert result.returncode == 2 and "-s WARC_MAX_SIZE=1GB: expected a whole number" in result.stderr
        assert not kept
