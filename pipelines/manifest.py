"""``manifest.jsonl``: one JSON object per text file, appended as the files are written.

Each line is written with a single ``write`` on a file opened with ``O_APPEND`` and then fsynced, so lines from
several processes never interleave and a crash leaves at most one torn last line. Readers skip such a line;
the next writer cuts it off before appending, so it never glues onto a new line.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Iterator

logger = logging.getLogger(__name__)

_SEQUENCE_RE = re.compile(r"^(\d+)_[0-9a-f]{16}\.txt$")


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
            if isinstance(entry, dict):
                yield entry


def sequence_of(file_name: str) -> int | None:
    """The NNN of a ``NNN_<16 hex>.txt`` name."""
    match = _SEQUENCE_RE.match(file_name)
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
    """Appends entries to a manifest, one atomic line each."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        repair_tail(self.path)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, entry: dict[str, Any]) -> None:
        line = (json.dumps(entry, ensure_ascii=False, sort_keys=False) + "\n").encode("utf-8")
        written = os.write(self._fd, line)
        if written != len(line):  # a short write (disk full) must not leave a line others would glue onto
            raise OSError(f"{self.path}: short write ({written} of {len(line)} bytes)")
        os.fsync(self._fd)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
