"""The topic lock: one crawl of a topic at a time (ARCHIVE_DIR/<topic>/crawl.lock).

The lock is the kernel's: ``fcntl.flock`` on the lock file, kept open for the life of the crawl. The kernel
gives it to one process only, however many race for it, and releases it when that process ends in any way
(an exception, SIGTERM, SIGKILL), so a dead crawl never blocks the next one and no "stale lock" has to be
recognized and taken over. The file is never unlinked: a process that unlinked a locked
file would let the next one lock a new file of the same name while the old one is still held. The pid written
into it is for people and error messages only; nothing decides on it.
"""

from __future__ import annotations

import errno
import fcntl
import os
from pathlib import Path

from crawler.paths import UnsafeArchive


class TopicLocked(RuntimeError):
    """Another live process is crawling the same topic."""


class TopicLock:
    """An exclusive ``flock`` on a topic's lock file, held from :meth:`acquire` to :meth:`release` (or the end of
    the process). A second lock of the same file fails at once, in another process as in this one."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None
        self._directory: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> "TopicLock":
        """Take the lock or raise :class:`TopicLocked` naming the pid that holds it; never waits."""
        if self._fd is not None:
            return self
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise UnsafeArchive(f"{self.path} is a symlink; the lock file is never opened through one") from None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _read_pid(fd)
            os.close(fd)
            holder = f"pid {owner}" if owner else "pid not yet written"
            raise TopicLocked(f"another crawl of this topic is running ({holder}, lock {self.path}); "
                              "wait for it to finish or stop it") from None
        except BaseException:
            os.close(fd)
            raise
        try:
            # The lock file's name may have been taken from under a holder (deleted, replaced by a restore): the
            # topic directory is locked too, and a directory cannot be deleted while it holds the archive.
            directory = os.open(self.path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.flock(directory, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(directory)
                raise TopicLocked(f"another crawl of this topic is running (it holds {self.path.parent}, whose "
                                  f"lock file {self.path.name} was deleted or replaced); wait for it to finish "
                                  "or stop it") from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd, self._directory = fd, directory
        return self

    def release(self) -> None:
        """Give the lock up (closing the file releases it); the file stays, for the next crawl to lock."""
        fd, self._fd = self._fd, None
        directory, self._directory = self._directory, None
        for held in (fd, directory):
            if held is not None:
                os.close(held)


def _read_pid(fd: int) -> int | None:
    try:
        return int(os.pread(fd, 32, 0).split()[0])
    except (OSError, ValueError, IndexError):
        return None
