"""Files that appear whole or not at all, below every layer that writes them (text files, index, reports, topic copy).

A file is written to a temporary name of its own (``mkstemp``: ``O_CREAT|O_EXCL`` and a random name, so nothing
planted in the directory is ever written through), fsynced, renamed over its target, and the directory fsynced (a
rename is not durable until then). It gets the mode a plain new file would (``0666`` less the umask), not
mkstemp's ``0600``: a web server or pywb reads the archive as another user.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
SQLITE_FULL = 13


@contextmanager
def atomic_file(directory: Path, name: str) -> Iterator[IO[str]]:
    """A UTF-8 text stream whose content replaces ``directory/name`` when the block ends without an error."""
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as stream:
            os.fchmod(stream.fileno(), 0o666 & ~umask())
            yield stream
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, Path(directory) / name)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    fsync_directory(Path(directory))


def write_atomic(directory: Path, name: str, content: str) -> Path:
    """Write ``directory/name`` so that it appears whole or not at all (see the module docstring)."""
    with atomic_file(directory, name) as stream:
        stream.write(content)
    return Path(directory) / name


def fsync_directory(directory: Path) -> None:
    """Make the names in ``directory`` durable (a rename is not, until its directory is synced)."""
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def umask() -> int:
    """The process's umask, read without changing it (``os.umask`` can only set it, racing other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    current = os.umask(0o022)
    os.umask(current)
    return current


def is_disk_full(exc: BaseException | None) -> bool:
    """Whether an exception (or one it was raised from) says the disk is full."""
    seen = 0
    while exc is not None and seen < 10:
        if isinstance(exc, OSError) and exc.errno in FULL_ERRNOS:
            return True
        if isinstance(exc, sqlite3.Error) and (getattr(exc, "sqlite_errorcode", None) == SQLITE_FULL
                                               or "disk is full" in str(exc)):
            return True
        exc = exc.__cause__ or exc.__context__
        seen += 1
    return False
