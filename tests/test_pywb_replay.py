"""A WARC written by a live crawl replays through pywb, the standard replay tool, with the original body.

pywb pins dependencies that clash with ours (redis==2.10.6 vs scrapy-redis), so it lives in its own
virtualenv: $PYWB_VENV if set, else .pywb-venv in the repository, created here when missing.
"""

from __future__ import annotations

import gzip
import subprocess
import time
import urllib.request

from tests.support.crawl import crawl
from tests.support.live import ARTICLE, LIVE
from tests.support.network import free_port
from tests.support.sites import Reply, SiteServer
from tests.support.webarchives import pywb_venv


def test_pywb_replays_the_original_body(tmp_path):
    body = ARTICLE.replace("Text.", "Replayed text.")
    with SiteServer() as site:
        url = f"{site.origin}/story.html"
        site.route(url, Reply(body=body, gzip=True, chunked=True))
        crawl("urllist", tmp_path / "archive", spider_args={"urls": url, "topic_name": "pywb"}, settings=LIVE)
    warc = next((tmp_path / "archive" / "pywb" / "warc").glob("*.warc.gz"))

    venv = pywb_venv()
    collections = tmp_path / "pywb"
    collections.mkdir()
    subprocess.run([str(venv / "bin" / "wb-manager"), "init", "news"], cwd=collections, check=True)
    subprocess.run([str(venv / "bin" / "wb-manager"), "add", "news", str(warc)], cwd=collections, check=True)
    port = free_port()
    server = subprocess.Popen([str(venv / "bin" / "wayback"), "--port", str(port), "--bind", "127.0.0.1"],
                              cwd=collections, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        replayed = None
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/news/20990101000000id_/{url}",
                                            timeout=10) as answer:
                    replayed = answer.read()
                    if answer.headers.get("Content-Encoding") == "gzip":
                        replayed = gzip.decompress(replayed)
                break
            except OSError:
                time.sleep(0.5)
        assert replayed is not None, "pywb did not answer"
        assert replayed.decode("utf-8") == body
    finally:
        server.terminate()
        server.wait(timeout=30)
