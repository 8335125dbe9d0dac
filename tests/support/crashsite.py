"""A crash-test site and what a crash test does with it: kill a crawl of it, run it again, check the archive.

Two outlets with eight articles each, served through ``SiteServer`` as a proxy. ``tests/test_crash.py`` kills
crawls of it at chosen points and ``bench/faults.py`` at random ones; both judge the result with ``check_archive``
(every article exactly once, no gap in the numbering, no stray file, every WARC file valid).
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator

from pipelines.manifest import read_manifest
from tests.support.crawl import REPO, crawl
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

OUTLETS = ["http://www.crash-a.test", "http://www.crash-b.test"]
ARTICLES = 8
BODY = ["Russian Foreign Minister Sergei Lavrov said the American mission in Afghanistan had failed.",
        "He spoke at a regional conference in Tashkent attended by the Afghan president, Ashraf Ghani."]
SETTINGS = {"DOWNLOAD_DELAY": "0", "EXTRACT_WORKERS": "0", "AUTOTHROTTLE_ENABLED": "False"}


def article_urls() -> list[str]:
    return [f"{outlet}/news/lavrov-afghanistan-{n}" for outlet in OUTLETS for n in range(ARTICLES)]


def build_site(site: SiteServer, topic_file: Path, delay: float = 0.05, padding: int = 0) -> None:
    """``padding`` bytes of incompressible data in an HTML comment make each page's records slow to write, so
    a kill can land in the middle of one."""
    lines = ['name = "crash"', "query = 'Lavrov'"]
    for number, outlet in enumerate(OUTLETS):
        lines += ["[[outlet]]", f'name = "Outlet {number}"', f'url = "{outlet}/"', f'feeds = ["{outlet}/feed.xml"]']
        site.route(f"{outlet}/robots.txt", robots_txt())
        site.route(f"{outlet}/", "<html><body><p>home</p></body></html>")
        urls = [u for u in article_urls() if u.startswith(outlet)]
        site.route(f"{outlet}/feed.xml", rss_feed(f"Outlet {number}", [
            {"url": u, "title": f"Lavrov story {n}", "published": "2021-07-16"} for n, u in enumerate(urls)]))
        for n, url in enumerate(urls):
            words = [f"Story {number}-{n} begins with its own words, unlike any other story here ({url})."]
            html = article_page(f"Lavrov story {number}-{n}", words + BODY, published="2021-07-16")
            if padding:
                html = html.replace("</body>", f"<!-- {base64.b64encode(os.urandom(padding * 3 // 4)).decode()} -->"
                                    "</body>")
            site.route(url, Reply(body=html, delay=delay))
    topic_file.write_text("\n".join(lines) + "\n")


PLUGINS = REPO / "tests" / "plugins"


def with_plugin(name: str, **variables: str) -> dict[str, str]:
    """The environment that loads the fault-injection plugin ``tests/plugins/<name>`` into a crawl."""
    return {"PYTHONPATH": os.pathsep.join([str(REPO), str(PLUGINS / name)]), **variables}


def popen_crawl(topic_file: Path, archive: Path, proxy: str, extra: dict[str, str] | None = None,
                env_extra: dict[str, str] | None = None) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(http_proxy=proxy, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
               SCRAPY_SETTINGS_MODULE="crawler.settings")
    env.update(env_extra or {})
    args = [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={topic_file}",
            "-s", f"ARCHIVE_DIR={archive}"]
    for key, value in {**SETTINGS, **(extra or {})}.items():
        args += ["-s", f"{key}={value}"]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def article_responses(site: SiteServer) -> int:
    return sum(1 for r in site.requests() if "/news/" in r.path)


def kill_and_resume(tmp: Path, kill_after: int, padding: int = 0, kill_delay: float = 0.0) -> dict:
    """Kill a crawl ``kill_delay`` seconds after its ``kill_after``-th article request, run it again to the end;
    return what the archive says."""
    topic_file, archive = tmp / "topic.toml", tmp / "archive"
    with SiteServer() as site:
        build_site(site, topic_file, padding=padding)
        process = popen_crawl(topic_file, archive, site.proxy_url)
        deadline = time.time() + 60
        while article_responses(site) < kill_after and time.time() < deadline and process.poll() is None:
            time.sleep(0.01)
        time.sleep(kill_delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        topic_dir = archive / "crash"
        left_open = len(list((topic_dir / "warc").glob("*.open")))
        stats, _ = crawl("coverage", archive, spider_args={"topic": str(topic_file)}, settings=SETTINGS,
                         env={"http_proxy": site.proxy_url})
    return {"dir": topic_dir, "left_open": left_open, "stats": stats}


def check_archive(topic_dir: Path) -> dict:
    """Assert the archive is whole; return its figures."""
    warcs = sorted((topic_dir / "warc").glob("*.warc.gz"))
    assert not list((topic_dir / "warc").glob("*.open"))
    records = 0
    for path in warcs:
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        with open(path, "rb") as stream:
            records += sum(1 for _ in ArchiveIterator(stream))
    entries = list(read_manifest(topic_dir / "manifest.jsonl"))
    urls = [e["url"] for e in entries]
    assert sorted(urls) == sorted(article_urls()), "every article exactly once"
    files = sorted(p.name for p in (topic_dir / "text").iterdir())
    assert files == sorted(e["file"] for e in entries), "no half or stray text files"
    assert sorted(int(f[:3]) for f in files) == list(range(len(files))), "no gap in the numbering"
    for path in (topic_dir / "text").iterdir():
        content = path.read_text(encoding="utf-8")
        assert content.startswith(" date 2021-07-16 Lavrov story") and content.endswith("\n")
    raw = (topic_dir / "manifest.jsonl").read_bytes()
    assert raw.endswith(b"\n") and raw.count(b"\n") == len(entries)
    return {"records": records, "files": len(files)}


def kill_at_step(tmp: Path, step: str, after: int = 3) -> tuple[Path, subprocess.CompletedProcess]:
    """A crawl killed (SIGKILL, by the torn plugin) when its ``after``-th article reaches ``step``, then run again
    to the end."""
    topic_file, archive = tmp / "topic.toml", tmp / "archive"
    with SiteServer() as site:
        build_site(site, topic_file, delay=0)
        process = popen_crawl(topic_file, archive, site.proxy_url,
                              env_extra=with_plugin("torn", PRESSWARC_KILL_AT=step, PRESSWARC_KILL_AFTER=str(after)))
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == -signal.SIGKILL, f"not killed at {step}: {stderr[-3000:]}"
        _, result = crawl("coverage", archive, spider_args={"topic": str(topic_file)}, settings=SETTINGS,
                          env={"http_proxy": site.proxy_url})
    return archive / "crash", result
