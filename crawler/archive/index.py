"""The topic's ``index.cdxj``: a sorted CDXJ index (SURT key, timestamp, JSON) of its WARC files, for pywb.

Lines come from ``cdxj-indexer`` (the indexer pywb's own tools use); this module only decides which files to
index and merges new lines into the existing sorted index in one streaming pass, written to a temporary file
and renamed, so a reader never sees a half-written index.
"""

from __future__ import annotations

import fcntl
import heapq
import io
import logging
import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator

from crawler.archive import cdxj
from crawler.archive.records import Damage, scan
from crawler.archive.writer import warc_files
from crawler.fsutil import atomic_file

logger = logging.getLogger(__name__)


def index_lines(files: Iterable[Path]) -> list[str]:
    """Sorted CDXJ lines (response, revisit and metadata records) of some WARC files.

    A file is indexed in one pass; one that does not read cleanly to its end (a damaged region, a torn last
    record) is indexed again record by record over what :func:`crawler.archive.records.scan` finds readable,
    so the records after the damage are indexed too; each damaged region is logged with its file and offset."""
    from cdxj_indexer.main import CDXJIndexer  # imported when first needed: it pulls in pkg_resources (0.1 s)

    class Indexer(CDXJIndexer):
        last_iterator = None

        def _create_record_iter(self, input_):  # keeps the iterator: where its last record ended
            self.last_iterator = super()._create_record_iter(input_)
            return self.last_iterator

    files = [str(f) for f in files]
    if not files:
        return []
    out = io.StringIO()
    indexer = Indexer(output=out, inputs=files, sort=False)
    indexer.output = out
    for name in files:
        lines = io.StringIO()
        with open(name, "rb") as fh:
            try:
                indexer.process_one(fh, lines, name)
                clean = _read_to_end(fh, indexer.last_iterator)
            except Exception:  # warcio's errors at damaged data: corrupt gzip, unparseable headers, ...
                clean = False
            if not clean:
                lines = io.StringIO()
                _index_readable_records(indexer, fh, lines, name)
        out.write(lines.getvalue())
    return sorted(line for line in out.getvalue().splitlines(keepends=True) if line.strip())


def _read_to_end(fh: BinaryIO, iterator) -> bool:
    """Whether warcio's pass over a file ended at its end: it stops quietly at a torn gzip member."""
    if getattr(iterator, "err_count", 0):  # a record not followed by its blank lines: a wrong Content-Length
        return False
    size = os.fstat(fh.fileno()).st_size
    info = getattr(iterator, "member_info", None)
    end = info[0] + info[1] if info else 0
    if end >= size:
        return True
    fh.seek(end)
    rest = fh.read(17)
    return len(rest) <= 16 and not rest.strip(b"\r\n")  # an uncompressed file's last CRLF CRLF


def _index_readable_records(indexer, fh: BinaryIO, out: io.StringIO, name: str) -> None:
    for found in scan(name):
        if isinstance(found, Damage):
            logger.error("index: %s", found)
        elif found.rec_type != "request":
            try:
                indexer.process_one(_Window(fh, found.offset, found.offset + found.length), out, name)
            except Exception as exc:
                logger.error("index: %s offset %d: record not indexed (%s: %s)", name, found.offset,
                             type(exc).__name__, exc)


class _Window:
    """Bytes [start, stop) of an open file, with the file's own offsets (warcio records them in the index)."""

    def __init__(self, fh: BinaryIO, start: int, stop: int) -> None:
        self.fh, self.position, self.stop = fh, start, stop

    def tell(self) -> int:
        return self.position

    def read(self, size: int = -1) -> bytes:
        left = self.stop - self.position
        size = left if size is None or size < 0 else min(size, left)
        self.fh.seek(self.position)
        data = self.fh.read(size)
        self.position += len(data)
        return data


def _existing_lines(index: Path, skip_files: set[str]) -> Iterator[str]:
    if not index.exists():
        return
    with open(index, encoding="utf-8") as fh:
        for line in fh:
            if not line.strip():
                continue
            entry = cdxj.parse_line(line)
            if entry is None:
                continue  # a torn line from an interrupted writer is dropped, the rest stays usable
            if entry.fields.get("filename") not in skip_files:
                yield line


@contextmanager
def _index_lock(index: Path) -> Iterator[None]:
    """Serialize index updates: the workers of a distributed crawl each merge their files in when they stop."""
    index.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(index.with_name(index.name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    with os.fdopen(fd, "r+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _write_atomic(index: Path, lines: Iterable[str]) -> int:
    """Write ``index`` whole (crawler.fsutil: an exclusive temporary name renamed over it, the mode a plain new
    file would get, as pywb may read it as another user); returns the number of lines."""
    count = 0
    with atomic_file(index.parent, index.name) as out:
        for line in lines:
            out.write(line if line.endswith("\n") else line + "\n")
            count += 1
    return count


def add_to_index(index: str | Path, files: Iterable[str | Path]) -> int:
    """Merge the lines of ``files`` into ``index`` (replacing earlier lines of the same files)."""
    index = Path(index)
    paths = [Path(f) for f in files]
    new_lines = index_lines(paths)
    names = {p.name for p in paths}
    with _index_lock(index):
        return _write_atomic(index, heapq.merge(_existing_lines(index, names), new_lines))


def rebuild_index(index: str | Path, warc_dir: str | Path) -> int:
    """Index every closed WARC file of ``warc_dir`` from scratch; returns the number of lines."""
    lines = index_lines(warc_files(warc_dir))
    with _index_lock(Path(index)):
        return _write_atomic(Path(index), lines)
