"""A crawl killed at any point loses nothing: the next run recovers the archive and finishes the crawl.

Kills land at random moments, and at each named step of an article's writes (tests/plugins/torn), where a torn
unit of text file, manifest line and state would lose the article or leave a gap in the numbering.
Also: a write error (disk full, from the enospc plugin or a real full tmpfs) stops the crawl with one clear error
and keeps what was written; Scrapy's JOBDIR pause and resume works with the spider.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from pipelines.manifest import read_manifest
from tests.support.crashsite import (SETTINGS, article_responses, article_urls, build_site, check_archive,
                                     kill_and_resume, kill_at_step, popen_crawl, with_plugin)
from tests.support.crawl import REPO, crawl
from tests.support.sites import SiteServer


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
