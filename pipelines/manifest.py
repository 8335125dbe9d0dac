"""``manifest.jsonl``: one JSON object per text file, appended as the files are written.

Each line is written with a single ``write`` on a file opened with ``O_APPEND`` and then fsynced, so lines from
several processes never interleave and a crash leaves at most one torn last line. Readers skip such a line;
the next writer cuts it off before appending, so it never glues onto a new line.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterator

logger = logging.getLogger(__name__)

# whole names only (fullmatch), ASCII digits only; a later version of an article is NNN_<16 hex>.vN.txt
_SEQUENCE_RE = re.compile(r"([0-9]+)_[0-9a-f]{16}(?:\.v[0-9]+)?\.txt")


def read_manifest(path: str | Path) -> Iterator[dict[str, Any]]:
    """The manifest's complete entries; a torn or unparsable line is skipped with a warning."""
    path = Path(path)
    if not path.exists():
        return
    with open(path, "rb") as fh:
        for number, raw in enumerate(fh, 1):
            if not raw.endswith(b"\n"):
                logger.warning("%s: torn last line %d skipped", path, number)
                return
            try:
                entry = json.loads(raw)
            except ValueError:
                logger.warning("%s: unreadable line %d skipped", path, number)
                continue
            if not isinstance(entry, dict) or not isinstance(entry.get("file"), str) or not all(
                    isinstance(entry[key], str) for key in ("url", "canonical_url", "final_url") if entry.get(key)):
                logger.warning("%s: line %d is not a manifest entry (a file name and text URLs are required) and is "
                               "skipped", path, number)
                continue
            yield entry


def sequence_of(file_name: str) -> int | None:
    """The NNN of a ``NNN_<16 hex>.txt`` name (or of a later version's ``NNN_<16 hex>.vN.txt``)."""
    match = _SEQUENCE_RE.fullmatch(file_name) if isinstance(file_name, str) else None
    return int(match.group(1)) if match else None


def repair_tail(path: str | Path) -> int:
    """Cut a torn last line (no trailing newline) left by a crash; returns the bytes removed."""
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return 0
    with open(path, "r+b") as fh:
        size = fh.seek(0, os.SEEK_END)
        fh.seek(size - 1)
        if fh.read(1) == b"\n":
            return 0
        position = size - 1
        while position > 0:
            step = min(65536, position)
            fh.seek(position - step)
            chunk = fh.read(step)
            newline = chunk.rfind(b"\n")
            if newline >= 0:
                keep = position - step + newline + 1
                break
            position -= step
        else:
            keep = 0
        fh.truncate(keep)
        os.fsync(fh.fileno())
        logger.warning("%s: cut a torn last line of %d bytes", path, size - keep)
        return size - keep


class ManifestWriter:
    """Appends entries to a manifest, one atomic line each.

    A line that cannot be written whole (disk full: a short write, or an error from ``write`` or ``fsync``) is
    taken back before the error is raised, when nothing was appended after it, so a failed append leaves the
    manifest as it was and the next line never glues onto a fragment."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _write(self, data: bytes) -> int:
        return os.write(self._fd, data)

    def append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")
        written = 0
        try:
            written = self._write(line)
            if written != len(line):  # a short write: the file system ran out of room mid-line
                raise OSError(errno.ENOSPC, f"short write ({written} of {len(line)} bytes)", str(self.path))
            os.fsync(self._fd)
        except OSError as exc:
            self._take_back(written)
            if exc.filename is None:
                raise OSError(exc.errno, exc.strerror, str(self.path)) from exc
            raise

    def _take_back(self, written: int) -> None:
        """Cut the ``written`` bytes a failed append left at the end. With ``O_APPEND`` they end where this
        descriptor's offset is; when another worker of a distributed crawl has appended since, they are left
        (not the last line, so not torn: readers skip the unparsable fragment with a warning)."""
        if not written:
            return
        try:
            end = os.lseek(self._fd, 0, os.SEEK_CUR)
            if os.fstat(self._fd).st_size == end:
                os.ftruncate(self._fd, end - written)
            else:
                logger.warning("%s: a fragment of %d bytes stays before other workers' lines", self.path, written)
        except OSError:
            logger.warning("%s: could not take back a failed line; the next start cuts it", self.path)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
