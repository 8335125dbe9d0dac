"""The topic lock admits one crawl at a time, however processes race for it and however the last holder died."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from crawler.lock import TopicLock, TopicLocked
from crawler.paths import UnsafeArchive
from tests.support.crawl import REPO
from tests.support.processes import hold_lock
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

TRIALS = 300
CONTENDERS = 3
HOLD = 0.01  # seconds a winner keeps the lock: long enough for a second holder to show up in the record


def _contend(lock_path: Path, record_path: Path, go: int) -> int:
    """One racing process: wait for the start, try the lock, and while holding it record its start and end."""
    os.read(go, 1)  # returns for every contender at once, when the parent closes the pipe
    try:
        lock = TopicLock(lock_path).acquire()
    except TopicLocked:
        return 1
    record = os.open(record_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    os.write(record, f"+{os.getpid()}\n".encode())
    time.sleep(HOLD)
    os.write(record, f"-{os.getpid()}\n".encode())
    lock.release()
    return 0


def _fork(work, *close: int) -> int:
    """A child process running ``work()`` and exiting with its status; it never returns into pytest. It first
    closes ``close``: the write ends of pipes it waits on, which only the parent may hold."""
    pid = os.fork()
    if pid == 0:
        status = 3
        try:
            for fd in close:
                os.close(fd)
            status = work()
        finally:
            os._exit(status)
    return pid


def _wait(pid: int) -> int:
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def _leave_stale_lock(lock_path: Path) -> None:
    """A process takes the lock and is SIGKILLed while holding it, as a crashed crawl is."""
    ready_r, ready_w = os.pipe()

    def hold() -> int:
        TopicLock(lock_path).acquire()
        os.write(ready_w, b"x")
        time.sleep(60)
        return 0

    pid = _fork(hold, ready_r)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"x"
    os.close(ready_r)
    os.kill(pid, signal.SIGKILL)
    assert _wait(pid) == -signal.SIGKILL


def _overlaps(record: str) -> int:
    """How many times a process started holding the lock while another still held it."""
    holder, overlaps = None, 0
    for line in record.splitlines():
        if line.startswith("+"):
            overlaps += holder is not None
            holder = line[1:]
        elif line[1:] == holder:
            holder = None
    return overlaps


@pytest.mark.parametrize("stale", [False, True], ids=["fresh", "after-sigkill"])
def test_racing_processes_never_hold_the_lock_together(tmp_path, stale):
    """300 trials of three processes started at the same instant: no two ever hold the lock at once, and in every
    trial one gets it (after a SIGKILLed holder too: the kernel released its lock, nothing had to take it over)."""
    overlapping, unlocked = 0, 0
    for trial in range(TRIALS):
        lock_path = tmp_path / f"t{trial}" / "crawl.lock"
        record_path = tmp_path / f"t{trial}.record"
        lock_path.parent.mkdir()
        if stale:
            _leave_stale_lock(lock_path)
            assert lock_path.read_text().strip().isdigit()  # the dead holder's pid is still in the file
        go_r, go_w = os.pipe()
        pids = [_fork(lambda: _contend(lock_path, record_path, go_r), go_w) for _ in range(CONTENDERS)]
        os.close(go_r)
        os.close(go_w)  # start them all
        statuses = [_wait(pid) for pid in pids]
        assert set(statuses) <= {0, 1}, statuses
        record = record_path.read_text() if record_path.exists() else ""
        overlapping += _overlaps(record) > 0
        unlocked += not record
    assert overlapping == 0, f"two processes held the lock at once in {overlapping} of {TRIALS} trials"
    assert unlocked == 0, f"no process got the lock in {unlocked} of {TRIALS} trials"


def test_a_held_lock_names_its_holder_and_survives_release(tmp_path):
    """The refusal names the holder's pid; releasing closes the file but never unlinks it (an unlinked file would
    let a later process lock a new file while an earlier one still holds the old)."""
    path = tmp_path / "crawl.lock"
    ready_r, ready_w = os.pipe()
    stop_r, stop_w = os.pipe()

    def hold() -> int:
        lock = TopicLock(path).acquire()
        os.write(ready_w, b"x")
        os.read(stop_r, 1)
        lock.release()
        return 0

    pid = _fork(hold, stop_w)
    os.close(ready_w)
    assert os.read(ready_r, 1) == b"x"
    with pytest.raises(TopicLocked, match=rf"another crawl of this topic is running \(pid {pid}, lock "):
        TopicLock(path).acquire()
    os.close(stop_w)
    assert _wait(pid) == 0
    assert path.exists()
    mine = TopicLock(path).acquire()
    assert path.read_text() == f"{os.getpid()}\n"
    with pytest.raises(TopicLocked):  # a second lock in the same process is refused too
        TopicLock(path).acquire()
    mine.release()
    assert path.exists() and not mine.held


def test_a_symlink_at_the_lock_file_is_not_followed(tmp_path):
    target = tmp_path / "elsewhere"
    target.write_text("precious\n")
    (tmp_path / "crawl.lock").symlink_to(target)
    with pytest.raises(UnsafeArchive, match="is a symlink"):
        TopicLock(tmp_path / "crawl.lock").acquire()
    assert target.read_text() == "precious\n"


HOST = "http://www.lock.test"
TOPIC = f"""
name = "locked"
query = 'Lavrov'

[[outlet]]
name = "Lock Post"
url = "{HOST}/"
feeds = ["{HOST}/feed.xml"]
"""


def test_the_crawling_process_holds_the_lock_until_it_dies(tmp_path):
    """A running crawl holds the lock itself: a second crawl stops at once with one line naming its pid; once the
    first is SIGKILLed, the next crawl runs without any stale lock in its way."""
    (tmp_path / "topic.toml").write_text(TOPIC)
    article = f"{HOST}/news/lavrov-1"
    page = article_page("Lavrov speaks", ["Lavrov spoke about the talks at length today."] * 3,
                        published="2021-07-16")
    with SiteServer() as site:
        site.route(f"{HOST}/robots.txt", robots_txt())
        site.route(f"{HOST}/", "<html><body><p>Lock Post</p></body></html>")
        site.route(f"{HOST}/feed.xml", Reply(body=rss_feed("Lock Post", [
            {"url": article, "title": "Lavrov speaks", "published": "2021-07-16"}]),
            headers=[("Content-Type", "application/rss+xml")]))
        site.route(article, Reply(body=page, delay=30), page)
        env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
        env.update(http_proxy=site.proxy_url, PYTHONPATH=str(REPO), SCRAPY_SETTINGS_MODULE="crawler.settings")
        args = [sys.executable, "-m", "scrapy", "crawl", "coverage", "-a", f"topic={tmp_path / 'topic.toml'}",
                "-s", f"ARCHIVE_DIR={tmp_path / 'archive'}", "-s", "DOWNLOAD_DELAY=0", "-s", "EXTRACT_WORKERS=0",
                "-s", "RETRY_TIMES=0"]
        first = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while site.count(article) == 0 and time.time() < deadline:
                time.sleep(0.05)
            assert site.count(article) == 1 and first.poll() is None
            with pytest.raises(TopicLocked, match=f"pid {first.pid},"):
                TopicLock(tmp_path / "archive" / "locked" / "crawl.lock").acquire()
            second = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
            assert second.returncode == 1
            errors = [line for line in second.stderr.splitlines() if "error" in line.lower()]
            assert errors == [f"error: another crawl of this topic is running (pid {first.pid}, lock "
                              f"{tmp_path / 'archive' / 'locked' / 'crawl.lock'}); wait for it to finish or stop it"]
            assert "Traceback" not in second.stderr
        finally:
            first.kill()
            first.wait(timeout=30)
        third = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
        assert third.returncode == 0, third.stderr[-3000:]
        assert "another crawl" not in third.stderr
        assert len(list((tmp_path / "archive" / "locked" / "text").iterdir())) == 1


def test_lock_deleted_while_held_admits_no_second(tmp_path):
    lock = tmp_path / "crawl.lock"
    holder = hold_lock(lock)
    try:
        lock.unlink()  # e.g. a cleanup script, or a user "removing a stale lock"
        with pytest.raises(TopicLocked):
            TopicLock(lock).acquire()
    finally:
        holder.kill()
        holder.wait()


def test_lock_replaced_while_held_admits_no_second(tmp_path):
    lock = tmp_path / "crawl.lock"
    holder = hold_lock(lock)
    try:
        other = tmp_path / "x"
        other.write_text("")
        os.replace(other, lock)  # e.g. rsync/restore of the topic dir
        with pytest.raises(TopicLocked):
            TopicLock(lock).acquire()
    finally:
        holder.kill()
        holder.wait()
