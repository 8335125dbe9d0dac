"""Reading WARC records whose place or name is known: one at a file offset, or the responses with given IDs or URLs.

The replay, ``scrapy rebuild-state``, ``scrapy reextract`` and ``python -m pipelines.extract --from-warc`` all
read records this way, through warcio's ``ArchiveIterator``; the bounded scanner of
:mod:`crawler.archive.records` is for walking whole files that may be damaged, this module for fetching what an
index or a manifest points at. Being part of ``crawler.archive``, importing it installs the ``br`` decoder of
:mod:`crawler.archive.warcio_compat`, so a record's content reads decoded whatever its encoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Iterable

from warcio.archiveiterator import ArchiveIterator
from warcio.recordloader import ArcWarcRecord

from crawler.archive.records import GZIP_MAGIC


def record_at(fh: BinaryIO, offset: int, *, parse_http: bool = True) -> ArcWarcRecord:
    """The WARC record that starts at ``offset`` of an open WARC file (``.warc.gz`` or ``.warc``), its content
    left to read from ``fh``; ``parse_http=False`` leaves the HTTP headers unparsed in the block.

    ValueError when no WARC record starts there (a stale index): bytes that are neither a gzip member nor a
    ``WARC/1.x`` line never reach warcio's reader, and bytes warcio takes for an old ARC header are refused."""
    return open_record(fh, offset, parse_http=parse_http).record


@dataclass
class OpenRecord:
    """A record opened by :func:`open_record`, with the iterator that read it: only the iterator knows where the
    record ends in the file (its gzip member's end), which a copy of the stored bytes needs."""

    record: ArcWarcRecord
    iterator: ArchiveIterator

    def stored_length(self) -> int | None:
        """How many bytes of a ``.warc.gz`` file the record's gzip member takes, read to its end first (cheap once
        its content is read); None in an uncompressed file, where warcio leaves the record's closing blank lines
        out of the length."""
        self.iterator.read_to_end(self.record)
        if not self.iterator.reader.decompressor:
            return None
        return self.iterator.get_record_length()


def open_record(fh: BinaryIO, offset: int, *, parse_http: bool = True) -> OpenRecord:
    """:func:`record_at`, keeping the iterator (see :class:`OpenRecord`)."""
    fh.seek(offset)
    if not fh.read(7).startswith((GZIP_MAGIC, b"WARC/1.")):  # zeros or text: not for warcio's reader
        raise ValueError("no WARC record at this offset (stale index?)")
    fh.seek(offset)
    iterator = ArchiveIterator(fh, no_record_parse=not parse_http)
    record = next(iter(iterator), None)
    if record is None or record.format != "warc":
        raise ValueError("no WARC record at this offset (stale index?)")
    return OpenRecord(record, iterator)


def response_payloads(files: Iterable[Path], header: str, wanted: set[str]) -> dict[str, tuple[bytes, str | None]]:
    """The decoded payloads and Content-Types of the response records whose WARC header ``header``
    (``WARC-Record-ID``, ``WARC-Target-URI``) has one of the ``wanted`` values, by that value: the first such
    record of the files in the order given; the files are read until every value is found."""
    found: dict[str, tuple[bytes, str | None]] = {}
    for path in files:
        with open(path, "rb") as stream:
            for record in ArchiveIterator(stream):
                value = record.rec_headers.get_header(header)
                if record.rec_type == "response" and value in wanted and value not in found:
                    content_type = record.http_headers.get_header("Content-Type") if record.http_headers else None
                    found[value] = (record.content_stream().read(), content_type)
                    if len(found) == len(wanted):
                        return found
    return found
