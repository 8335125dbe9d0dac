"""The project deployed to a real scrapyd and scheduled twice: the second job fetches no article again.

scrapyd runs on 127.0.0.1 on a free port with its own config; the project is deployed as an egg through the
``addversion.json`` API, as ``scrapyd-deploy`` does; jobs get the topic file and archive directory as absolute
paths. scrapyd's crawls reach the outlets through the local test server acting as a proxy.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from pipelines.manifest import read_manifest
from tests.support.crawl import REPO
from tests.support.network import free_port
from tests.support.sites import SiteServer, article_page, robots_txt, rss_feed

HOST = "http://www.scheduled.test"
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president."]


def build_egg(workdir: Path) -> Path:
    """The project as an egg (what ``scrapyd-deploy`` uploads): packages, package data, the settings entry point."""
    source = workdir / "source"
    source.mkdir()
    for name in ("crawler", "pipelines"):
        shutil.copytree(REPO / name, source / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "scrapy.cfg", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run([sys.executable, "-c", "from setuptools import setup; setup()", "-q", "bdist_egg", "-d",
                    str(workdir / "dist")], cwd=source, check=True, capture_output=True)
    return next((workdir / "dist").glob("*.egg"))


def post(url: str, fields: dict[str, str | list[str]], files: dict[str, Path] | None = None) -> dict:
    boundary = "----presswarc-test"
    parts: list[bytes] = []
    for name, value in fields.items():
        for item in value if isinstance(value, list) else [value]:
            parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{item}\r\n'.encode())
    for name, path in (files or {}).items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
                     "Content-Type: application/octet-stream\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


@pytest.fixture
def scrapyd(tmp_path):
    with SiteServer() as site:
        port = free_port()
        config = tmp_path / "scrapyd.conf"
        config.write_text(f"[scrapyd]\nbind_address = 127.0.0.1\nhttp_port = {port}\neggs_dir = {tmp_path / 'eggs'}\n"
                          f"logs_dir = {tmp_path / 'logs'}\ndbs_dir = {tmp_path / 'dbs'}\nitems_dir =\n"
                          "max_proc = 1\npoll_interval = 0.5\n")
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
        env.update(http_proxy=site.proxy_url)
        env.pop("SCRAPY_SETTINGS_MODULE", None)
        process = subprocess.Popen([sys.executable, "-m", "scrapyd", "--nodaemon", "--pidfile=", "-l",
                                    str(tmp_path / "scrapyd.log")], cwd=tmp_path, env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                get(f"{base}/daemonstatus.json")
                break
            except OSError:
                time.sleep(0.1)
        try:
            yield base, site
        finally:
            process.terminate()
            process.wait(timeout=30)


def run_job(base: str, topic: Path, archive: Path, tmp_path: Path) -> str:
    job = post(f"{base}/schedule.json", {"project": "presswarc", "spider": "coverage", "topic": str(topic),
                                         "setting": [f"ARCHIVE_DIR={archive}", "DOWNLOAD_DELAY=0",
                                                     "EXTRACT_WORKERS=0"]})
    assert job["status"] == "ok", job
    deadline = time.time() + 180
    while time.time() < deadline:
        jobs = get(f"{base}/listjobs.json?project=presswarc")
        if any(j["id"] == job["jobid"] for j in jobs["finished"]):
            return job["jobid"]
        time.sleep(0.5)
    logs = "\n".join(p.read_text()[-3000:] for p in tmp_path.rglob("*.log"))
    pytest.fail(f"scrapyd job {job['jobid']} did not finish\n{logs}")


def test_scheduled_twice_the_second_job_fetches_no_article(scrapyd, tmp_path):
    base, site = scrapyd
    urls = [f"{HOST}/news/lavrov-afghanistan-{n}" for n in range(3)]
    site.route(f"{HOST}/robots.txt", robots_txt())
    site.route(f"{HOST}/", "<html><body><p>home</p></body></html>")
    site.route(f"{HOST}/feed.xml", rss_feed("Scheduled", [{"url": u, "title": f"Lavrov on Afghanistan {n}",
                                                          "published": "2021-07-16"} for n, u in enumerate(urls)]))
    for n, url in enumerate(urls):
        site.route(url, article_page(f"Lavrov on Afghanistan {n}", [f"Part {n}."] + BODY, published="2021-07-16"))
    topic = tmp_path / "topics" / "scheduled.toml"
    topic.parent.mkdir()
    topic.write_text(f'name = "scheduled"\nquery = "Lavrov AND Afghan*"\n\n[[outlet]]\nname = "Scheduled"\n'
                     f'url = "{HOST}/"\nfeeds = ["{HOST}/feed.xml"]\n')
    egg = build_egg(tmp_path)
    added = post(f"{base}/addversion.json", {"project": "presswarc", "version": "1"}, {"egg": egg})
    assert added["status"] == "ok" and added["spiders"] >= 1, added
    archive = tmp_path / "archive"

    run_job(base, topic, archive, tmp_path)
    first = [r.url for r in site.requests()]
    assert sorted(u for u in first if "/news/" in u) == sorted(urls)
    entries = list(read_manifest(archive / "scheduled" / "manifest.jsonl"))
    assert len(entries) == 3

    run_job(base, topic, archive, tmp_path)
    second = [r.url for r in site.requests()][len(first):]
    assert second and not [u for u in second if "/news/" in u]  # the feed was read again, no article refetched
    assert len(list(read_manifest(archive / "scheduled" / "manifest.jsonl"))) == 3
