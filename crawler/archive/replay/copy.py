"""The records a replay serves, copied verbatim into the topic's ``warc/``, so a replay leaves a whole archive.

A replay into a new ``ARCHIVE_DIR`` records nothing itself (the source already is an archive), which used to
leave ``warc/`` empty: ``wacz``, ``reextract`` and ``reindex`` had nothing to work on and the manifest named a
file outside the archive. So each response or revisit record the replay serves (and, for a revisit, the record
holding its payload) is copied byte for byte — its gzip member as it is, record ID and ``WARC-Date`` kept, never
re-recorded — into a WARC file of the topic, after a warcinfo record saying where they came from; the manifest
points at the copies and ``index.cdxj`` indexes them when the crawl ends. Records already in the topic's own
``warc/`` (a replay of the topic's own archive) are not copied again, nor are records an earlier replay into the
same archive copied (found in its ``index.cdxj`` by URL, capture time and payload digest): running the same
replay twice adds no record twice. The ``metadata`` record right after a copied
record, when it is ``WARC-Concurrent-To`` it (scan-warc's, naming where the record was found), is copied with it:
one short read, no scan of the file.
"""

from __future__ import annotations

import gzip
import logging
import re
import zlib
from pathlib import Path
from typing import BinaryIO

from crawler import __version__
from crawler.archive.cdxj import parse_line, payload_digest
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
        self.reused = 0  # records found already copied by an earlier run
        self._indexed: dict[tuple[str, str, str], RecordLocation] | None = None
        self._lengths: dict[Path, dict[int, int]] = {}
        self._own: dict[Path, bool] = {}

    def own(self, path: Path) -> bool:
        """Whether ``path`` is a file of the topic's own archive (then it is not copied); asked once per file, as
        resolving paths on every request cost more than the copy itself."""
        if path not in self._own:
            self._own[path] = path.resolve().parent == self.warc_dir.resolve()
        return self._own[path]

    def copy(self, path: Path, offset: int, length: int | None = None,
             identity: tuple[str, str | None, str | None] | None = None) -> RecordLocation:
        """The record at ``offset`` of ``path`` (``length`` bytes, when the caller knows), copied (once) into the
        topic's WARC file, with the metadata record right after it when that one is ``WARC-Concurrent-To`` it;
        where the copy is. ``identity`` (URL, WARC-Date, payload digest) finds a copy an earlier run made, which
        is then used instead."""
        key = (path, offset)
        if key not in self.copied and identity is not None:
            earlier = self._earlier_copy(*identity)
            if earlier is not None:
                self.copied[key] = earlier
                self.reused += 1
        if key not in self.copied:
            length = length or self._length(path, offset)
            with open(path, "rb") as stream:
                stream.seek(offset)
                data = stream.read(length)
                companion = _concurrent_metadata(stream, _head(data).get(b"warc-record-id"))
            self.copied[key] = self.writer.write_raw(_member(data))
            if companion is not None and (path, offset + length) not in self.copied:
                self.copied[(path, offset + length)] = self.writer.write_raw(_member(companion))
        return self.copied[key]

    def _earlier_copy(self, url: str, date: str | None, digest: str | None) -> RecordLocation | None:
        if not date or not digest:
            return None
        if self._indexed is None:  # the topic's index, read once, the first time a record is served
            self._indexed = {}
            if self.index.is_file():
                with open(self.index, encoding="utf-8", errors="replace") as lines:
                    for line in map(parse_line, lines):
                        if line is None or "filename" not in line.fields or "offset" not in line.fields:
                            continue
                        fields = line.fields
                        found = payload_digest(fields)
                        if found and (self.warc_dir / fields["filename"]).is_file():
                            self._indexed[(fields.get("url") or "", line.timestamp, found)] = RecordLocation(
                                fields["filename"], int(fields["offset"]))
        return self._indexed.get((url, re.sub(r"\D", "", date)[:14], digest))  # a pointer's digest is sha1:BASE32

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


COMPANION_MAX = 64 * 1024  # a metadata record naming a source is small: one longer is not looked at


def _member(data: bytes) -> bytes:
    """A record's bytes as one gzip member (a record of an uncompressed WARC gets its own)."""
    return data if data.startswith(GZIP_MAGIC) else gzip.compress(data, mtime=0)


def _head(data: bytes) -> dict[bytes, bytes]:
    """The WARC header fields of a record's first bytes (a gzip member or plain), lower-cased names."""
    if data.startswith(GZIP_MAGIC):
        try:
            data = zlib.decompressobj(31).decompress(data[:COMPANION_MAX], COMPANION_MAX)
        except zlib.error:
            return {}
    block = data.partition(b"\r\n\r\n")[0]
    if not block.startswith(b"WARC/"):
        return {}
    fields = {}
    for line in block.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    return fields


def _concurrent_metadata(stream: BinaryIO, record_id: bytes | None) -> bytes | None:
    """The record right after the stream's position when it is a small ``metadata`` record ``WARC-Concurrent-To``
    ``record_id`` (scan-warc writes the one naming a kept record's source there); its bytes, else None. One short
    read: no scan of the file."""
    if not record_id:
        return None
    data = stream.read(COMPANION_MAX)
    if data.startswith(GZIP_MAGIC):
        inflater = zlib.decompressobj(31)
        try:
            inflater.decompress(data, COMPANION_MAX)
        except zlib.error:
            return None
        if not inflater.eof:
            return None
        record = data[:len(data) - len(inflater.unused_data)]
    else:
        end = data.find(b"\r\n\r\n")
        try:
            size = int(_head(data).get(b"content-length", b"-1"))
        except ValueError:
            return None
        if end < 0 or size < 0 or end + 4 + size + 4 > len(data):
            return None
        record = data[:end + 4 + size + 4]
    fields = _head(record)
    if fields.get(b"warc-type") != b"metadata" or fields.get(b"warc-concurrent-to") != record_id:
        return None
    return record
