"""The records a replay serves, copied verbatim into the topic's ``warc/``, so a replay leaves a whole archive.

A replay into a new ``ARCHIVE_DIR`` records nothing itself (the source already is an archive), which used to
leave ``warc/`` empty: ``wacz``, ``reextract`` and ``reindex`` had nothing to work on and the manifest named a
file outside the archive. So each response or revisit record the replay serves (and, for a revisit, the record
holding its payload) is copied byte for byte — its gzip member as it is, record ID and ``WARC-Date`` kept, never
re-recorded — into a WARC file of the topic, after a warcinfo record saying where they came from; the manifest
points at the copies and ``index.cdxj`` indexes them when the crawl ends. Records already in the topic's own
``warc/`` (a replay of the topic's own archive) are not copied again.
"""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

from crawler import __version__
from crawler.archive.index import add_to_index
from crawler.archive.records import GZIP_MAGIC, RecordHead, scan
from crawler.archive.writer import RecordLocation, RotatingWarcWriter

logger = logging.getLogger(__name__)


class RecordCopier:
    """Copies served records into ``warc_dir``, each once per run."""

    def __init__(self, warc_dir: Path, index: Path, source: Path, prefix: str, max_size: int) -> None:
        self.warc_dir = warc_dir
        self.index = index
        self.writer = RotatingWarcWriter(warc_dir, prefix=prefix, max_size=max_size, info={
            "software": f"presswarc/{__version__}",
            "description": f"records copied verbatim by a replay of {source}"})
        self.copied: dict[tuple[Path, int], RecordLocation] = {}
        self._lengths: dict[Path, dict[int, int]] = {}
        self._own: dict[Path, bool] = {}

    def own(self, path: Path) -> bool:
        """Whether ``path`` is a file of the topic's own archive (then it is not copied); asked once per file, as
        resolving paths on every request cost more than the copy itself."""
        if path not in self._own:
            self._own[path] = path.resolve().parent == self.warc_dir.resolve()
        return self._own[path]

    def copy(self, path: Path, offset: int, length: int | None = None) -> RecordLocation:
        """The record at ``offset`` of ``path`` (``length`` bytes, when the caller knows), copied (once) into the
        topic's WARC file; where the copy is."""
        key = (path, offset)
        if key not in self.copied:
            length = length or self._length(path, offset)
            with open(path, "rb") as stream:
                stream.seek(offset)
                data = stream.read(length)
            if not data.startswith(GZIP_MAGIC):  # a record of an uncompressed WARC: its own gzip member here
                data = gzip.compress(data, mtime=0)
            self.copied[key] = self.writer.write_raw(data)
        return self.copied[key]

    def _length(self, path: Path, offset: int) -> int:
        if path not in self._lengths:  # one pass over the file's record heads, the first time one is not known
            self._lengths[path] = {head.offset: head.length for head in scan(path) if isinstance(head, RecordHead)}
        return self._lengths[path][offset]

    def close(self) -> int:
        """Close the copy and index it; returns the index lines written (0 when nothing was copied)."""
        self.writer.close()
        if not self.writer.files_written:
            return 0
        files = [self.warc_dir / name for name in self.writer.files_written]
        logger.info("replay: %d records copied into %s", len(self.copied), ", ".join(str(f) for f in files))
        return add_to_index(self.index, files)
