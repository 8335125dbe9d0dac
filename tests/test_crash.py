"""A crawl killed at any point loses nothing: the next run recovers the archive and finishes the crawl.

Kills land at random moments, and at each named step of an article's writes (tests/plugins/torn), where a torn
unit of text file, manifest line and state would lose the article or leave a gap in the numbering.
Also: a write error (disk full, from the enospc plugin or a real full tmpfs) stops the crawl with one clear error
and keeps what was written; Scrapy's JOBDIR pause and resume works with the spider.
"""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


@pytest.mark.parametrize("kill_after", [1, 5, 11])
def test_killed_crawl_is_finished_by_the_next_run(tmp_path, kill_after):
    result = kill_and_resume(tmp_path, kill_after)
    check_archive(result["dir"])
    assert result["stats"].get("warc/files_recovered", 0) == result["left_open"]


def test_disk_full_stops_the_crawl_cleanly_and_keeps_what_was_written(tmp_path):
    topic_file, archive = tmp_path / "topic.toml", tmp_path / "archive"
    with SiteServer() as site:
        build_site(site, topic_file, delay=0)
        stats, result = crawl("coverage", archive, spider_args={"topic": str(topic_file)}, check=False,
                              settings={**SETTINGS, "CONCURRENT_REQUESTS": "1"},
                              env={"http_proxy": site.proxy_url, "PRESSWARC_FAIL_WARC_WRITE_AFTER": "12",
                                   "PYTHONPATH": os.pathsep.join([str(REPO), str(REPO / "tests" / "plugins" / "enospc")])})
    assert stats["finish_reason"] == "disk_full" and result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "disk full" in errors[0] and "No space left on device" in errors[0], errors
    assert "Traceback" not in result.stderr
    topic_dir = archive / "crash"
    for path in (topic_dir / "warc").glob("*.warc.gz"):
        assert subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)]).returncode == 0
    entries = list(read_manifest(topic_dir / "manifest.jsonl"))
    assert sorted(p.name for p in (topic_dir / "text").iterdir()) == sorted(e["file"] for e in entries)


def test_jobdir_pause_and_resume(tmp_path):
    topic_file, archive = tmp_path / "topic.toml", tmp_path / "archive"
    with SiteServer() as site:
        build_site(site, topic_file, delay=0.3)
        process = popen_crawl(topic_file, archive, site.proxy_url,
                              {"JOBDIR": str(tmp_path / "job"), "CONCURRENT_REQUESTS": "2"})
        deadline = time.time() + 60
        while article_responses(site) < 3 and time.time() < deadline:
            time.sleep(0.02)
        process.send_signal(signal.SIGINT)  # one Ctrl-C: Scrapy pauses, keeping the queue in JOBDIR
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == 0, stderr[-3000:]
        assert list((tmp_path / "job").iterdir())
        before = article_responses(site)
        assert before < len(article_urls())
        crawl("coverage", archive, spider_args={"topic": str(topic_file)},
              settings={**SETTINGS, "JOBDIR": str(tmp_path / "job")}, env={"http_proxy": site.proxy_url})
    check_archive(archive / "crash")


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


@pytest.mark.parametrize("step", ["text_partial", "text_written", "manifest_written", "kept"])
def test_a_crawl_killed_at_any_step_of_an_article_keeps_it_once_without_a_gap(tmp_path, step):
    """Before the article's state committed only after its manifest line, a kill between the text file and its
    line left a files claim that made the next run skip the article as "same canonical URL" for ever."""
    topic_dir, result = kill_at_step(tmp_path, step)
    check_archive(topic_dir)
    assert not [p for p in (topic_dir / "text").iterdir() if p.name.startswith(".")], "temporary file left"
    if step in ("text_partial", "text_written"):
        assert "WARNING" in result.stderr and (topic_dir / "text").is_dir()


def test_a_manifest_line_failing_once_with_enospc_loses_no_article_and_leaves_no_gap(tmp_path):
    """A full disk mid-line: the crawl stops with one error naming the manifest, the half line and the text file
    are taken back, the number is given back; the next run writes the article under that number."""
    topic_file, archive = tmp_path / "topic.toml", tmp_path / "archive"
    with SiteServer() as site:
        build_site(site, topic_file, delay=0)
        stats, failed = crawl("coverage", archive, spider_args={"topic": str(topic_file)}, check=False,
                              settings={**SETTINGS, "CONCURRENT_REQUESTS": "1"},
                              env={"http_proxy": site.proxy_url,
                                   **with_plugin("enospc", PRESSWARC_FAIL_MANIFEST_APPEND_AT="3")})
        topic_dir = archive / "crash"
        entries = list(read_manifest(topic_dir / "manifest.jsonl"))
        assert failed.returncode == 1 and stats["finish_reason"] == "disk_full"
        errors = [line for line in failed.stderr.splitlines() if " ERROR: " in line]
        assert len(errors) == 1 and "disk full" in errors[0] and "manifest.jsonl" in errors[0], errors
        assert "Traceback" not in failed.stderr
        assert len(entries) == 2 and (topic_dir / "manifest.jsonl").read_bytes().count(b"\n") == 2
        assert sorted(p.name for p in (topic_dir / "text").iterdir()) == sorted(e["file"] for e in entries)
        crawl("coverage", archive, spider_args={"topic": str(topic_file)}, settings=SETTINGS,
              env={"http_proxy": site.proxy_url})
    check_archive(topic_dir)


@pytest.fixture
def small_disk(tmp_path):
    """A 1 MB tmpfs: a real file system that fills up (needs root; skipped, saying so, where mount is refused)."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_really_full_disk_gives_one_error_line_and_a_failing_exit(tmp_path, small_disk):
    """Every write fails once the tmpfs is full (WARC, text files, manifest, SQLite, the report): one ERROR
    line, no traceback, exit status 1, and what was written is valid."""
    topic_file = tmp_path / "topic.toml"
    with SiteServer() as site:
        build_site(site, topic_file, delay=0, padding=60_000)
        stats, result = crawl("coverage", small_disk, spider_args={"topic": str(topic_file)}, check=False,
                              settings={**SETTINGS, "LOG_LEVEL": "INFO"}, env={"http_proxy": site.proxy_url})
    errors = [line for line in result.stderr.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "disk full" in errors[0] and str(small_disk) in errors[0], errors
    assert result.stderr.count("Traceback") == 0
    assert result.returncode == 1 and stats["finish_reason"] == "disk_full"
    topic_dir = small_disk / "crash"
    for path in (topic_dir / "warc").glob("*.warc.gz"):
        check = subprocess.run([sys.executable, "-m", "warcio.cli", "check", str(path)], capture_output=True)
        assert check.returncode == 0, check.stdout
    entries = list(read_manifest(topic_dir / "manifest.jsonl"))
    assert sorted(p.name for p in (topic_dir / "text").iterdir()) == sorted(e["file"] for e in entries)
    assert sorted(int(e["file"][:3]) for e in entries) == list(range(len(entries)))
