"""Crawls as separate processes that a test can kill at a chosen moment (``tests.support.crawl`` runs them to the end)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from tests.support.crawl import REPO

FAST = {"DOWNLOAD_DELAY": "0", "EXTRACT_WORKERS": "0", "AUTOTHROTTLE_ENABLED": "False", "BACKOFF_BASE": "0"}


def popen_crawl(topic_file: Path, archive: Path, proxy: str, settings: dict[str, str] | None = None) -> subprocess.Popen:
    """``scrapy crawl coverage`` on ``topic_file`` through the test site's proxy, in the background."""
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env.update(http_proxy=proxy, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")])),
               SCRAPY_SETTINGS_MODULE="crawler.settings")
    args = [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={topic_file}",
            "-s", f"ARCHIVE_DIR={archive}"]
    for key, value in {**FAST, **(settings or {})}.items():
        args += ["-s", f"{key}={value}"]
    return subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def kill_when(process: subprocess.Popen, condition: Callable[[], bool], timeout: float = 60, after: float = 0.0) -> bool:
    """SIGKILL ``process`` ``after`` seconds once ``condition()`` holds; False when it ended before that."""
    deadline = time.time() + timeout
    while not condition():
        if process.poll() is not None or time.time() > deadline:
            break
        time.sleep(0.01)
    time.sleep(after)
    alive = process.poll() is None
    if alive:
        process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    return alive


def hold_lock(path: Path) -> subprocess.Popen:
    """Another process that takes the topic lock at ``path`` and holds it (for a minute, or until killed)."""
    code = ("import sys,time;sys.path.insert(0,%r);from crawler.lock import TopicLock;"
            "l=TopicLock(%r).acquire();print('held',flush=True);time.sleep(60)") % (str(REPO), str(path))
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process
