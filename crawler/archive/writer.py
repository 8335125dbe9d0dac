"""WARC files on disk: naming, rotation, the ``.open`` suffix, warcinfo heads and crash recovery.

A file is written as ``<prefix>-<UTC timestamp>-<serial>-<host>-<pid>.warc.gz.open``, one gzip member per
record, flushed after every record, and renamed without ``.open`` when closed. A crash therefore leaves at most
one torn record at the tail of an ``.open`` file; :func:`recover_warc` cuts it off and renames the file. The
writer knows nothing about Scrapy or articles: it takes warcio records and says where it put them.
"""

from __future__ import annotations

import atexit
import logging
import os
import re
import socket
import weakref
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO, Iterable, Iterator, Mapping

from warcio.recordloader import ArcWarcRecord
from warcio.warcwriter import WARCWriter

from crawler.process import pid_alive

logger = logging.getLogger(__name__)

OPEN_SUFFIX = ".open"
WARC_SUFFIX = ".warc.gz"
_NAME_RE = re.compile(r"^(?P<prefix>.+)-(?P<ts>\d{17})-(?P<serial>\d{5})-(?P<host>.+)-(?P<pid>\d+)\.warc\.gz$")


@dataclass(frozen=True)
class RecordLocation:
    """Where a record landed: the final file name (without ``.open``) and its byte offset."""

    warc_file: str
    offset: int


def _safe_host() -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "_", socket.gethostname()) or "host"


class RotatingWarcWriter:
    """Appends records to the current WARC file of a directory, starting a new file past ``max_size`` bytes."""

    def __init__(
        self,
        directory: str | Path,
        prefix: str = "presswarc",
        max_size: int = 1_000_000_000,
        info: Mapping[str, str] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]+", "_", prefix) or "presswarc"
        self.max_size = max_size
        self.info = dict(info or {})
        self.builder = WARCWriter(None, gzip=True, warc_version="1.1")
        self.files_written: list[str] = []
        self._serial = 0
        self._fh = None
        self._warc: WARCWriter | None = None
        self._name: str | None = None
        _LIVE_WRITERS.add(self)

    @property
    def current_file(self) -> str | None:
        return self._name

    def _new_name(self) -> str:
        self._serial += 1
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S%f")[:17]
        return f"{self.prefix}-{stamp}-{self._serial:05d}-{_safe_host()}-{os.getpid()}{WARC_SUFFIX}"

    def _open(self) -> None:
        self._name = self._new_name()
        self._fh = open(self.directory / (self._name + OPEN_SUFFIX), "xb")
        self._warc = WARCWriter(self._fh, gzip=True, warc_version="1.1")
        info = dict(self.info, format="WARC File Format 1.1",
                    conformsTo="https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/")
        self._warc.write_record(self._warc.create_warcinfo_record(self._name, info))
        self._fh.flush()

    def write(self, records: Iterable[ArcWarcRecord]) -> list[RecordLocation]:
        """Write records contiguously into one file (a request stays next to its response)."""
        if self._fh is None:
            self._open()
        assert self._warc is not None and self._fh is not None and self._name is not None
        locations = []
        for record in records:
            locations.append(RecordLocation(self._name, self._fh.tell()))
            self._warc.write_record(record)
        self._fh.flush()
        if self._fh.tell() >= self.max_size:
            self.close()
        return locations

    def write_raw(self, data: bytes) -> RecordLocation:
        """Append one record's bytes as they are (a gzip member copied from another WARC file, say)."""
        if self._fh is None:
            self._open()
        assert self._fh is not None and self._name is not None
        location = RecordLocation(self._name, self._fh.tell())
        self._fh.write(data)
        self._fh.flush()
        if self._fh.tell() >= self.max_size:
            self.close()
        return location

    def close(self) -> None:
        """Close the current file and drop its ``.open`` suffix; a no-op when nothing is open."""
        if self._fh is None:
            return
        fh, name = self._fh, self._name
        self._fh = self._warc = self._name = None
        fh.flush()
        os.fsync(fh.fileno())
        fh.close()
        assert name is not None
        os.replace(self.directory / (name + OPEN_SUFFIX), self.directory / name)
        self.files_written.append(name)
        logger.info("WARC file closed: %s", self.directory / name)


_LIVE_WRITERS: "weakref.WeakSet[RotatingWarcWriter]" = weakref.WeakSet()


@atexit.register
def _close_live_writers() -> None:
    """An interpreter exiting on an exception still closes and renames its files."""
    for writer in list(_LIVE_WRITERS):
        try:
            writer.close()
        except Exception:  # a failing close must not hide the others
            logger.exception("could not close WARC file %s", writer.current_file)


@dataclass(frozen=True)
class Recovery:
    """What recovering one ``.open`` file did."""

    path: Path
    records: int
    cut_bytes: int


def recover_warc(path: str | Path) -> Recovery:
    """Keep the complete records of a torn ``.open`` WARC file, cut the rest, and rename it.

    A record is complete when its gzip member ends whole (zlib checks the trailer's CRC and length) and holds
    exactly one WARC record: a ``WARC/`` header block, then ``Content-Length`` bytes, then the closing blank
    line. Only the member and the record framing are read; payloads are never decoded, so a content-encoding
    warcio cannot read (br, zstd, stacked codings) costs no record. The file is truncated at the start of the
    first incomplete record, and the result passes ``warcio check``. An uncompressed file is checked the same
    way, record after record.
    """
    path = Path(path)
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        ends = list(complete_records(fh))
    good_end = ends[-1] if ends else 0
    if good_end < size:
        logger.warning("%s: torn record at offset %d cut (%d bytes)", path, good_end, size - good_end)
        with open(path, "r+b") as fh:
            fh.truncate(good_end)
            os.fsync(fh.fileno())
    final = path.with_name(path.name[: -len(OPEN_SUFFIX)]) if path.name.endswith(OPEN_SUFFIX) else path
    if not ends:
        path.unlink()
        return Recovery(final, 0, size)
    os.replace(path, final)
    return Recovery(final, len(ends), size - good_end)


_MAX_HEADER_BLOCK = 1 << 20  # a WARC header block longer than this is not one


class _RecordFraming:
    """Follows the bytes of one WARC record: the header block, ``Content-Length`` bytes, CRLF CRLF."""

    def __init__(self) -> None:
        self._head = b""
        self._remaining: int | None = None  # bytes of block and closing CRLF CRLF still to come
        self._last = b""  # the last four bytes of the record seen so far

    def feed(self, data: bytes) -> bytes:
        """Take the record's bytes out of ``data``; returns what lies beyond its end. Raises ValueError when
        the bytes are not a WARC record."""
        if self._remaining is None:
            self._head += data
            end = self._head.find(b"\r\n\r\n")
            if end < 0:
                if len(self._head) > _MAX_HEADER_BLOCK or not (b"WARC/".startswith(self._head[:5])):
                    raise ValueError("not a WARC header block")
                return b""
            self._remaining = _content_length(self._head[:end]) + 4
            data, self._head = self._head[end + 4:], b""
        take = data[:self._remaining]
        self._remaining -= len(take)
        self._last = (self._last + take)[-4:]
        return data[len(take):]

    @property
    def complete(self) -> bool:
        return self._remaining == 0 and self._last == b"\r\n\r\n"


def _content_length(head: bytes) -> int:
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"WARC/"):
        raise ValueError("not a WARC header block")
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            return int(value.strip())
    raise ValueError("WARC record without Content-Length")


def complete_records(fh: BinaryIO) -> Iterator[int]:
    """File offsets at which the complete records of a WARC file end, in order, up to the first torn one.

    A ``.warc.gz`` file must hold one record per gzip member; memory stays flat whatever the records hold.
    """
    fh.seek(0)
    compressed = fh.read(2) == b"\x1f\x8b"
    fh.seek(0)
    if not compressed:
        offset, framing, data = 0, _RecordFraming(), b""
        while True:
            if not data:
                data = fh.read(65536)
                if not data:
                    return
            try:
                rest = framing.feed(data)
            except ValueError:
                return
            offset += len(data) - len(rest)
            data = rest
            if framing.complete:
                yield offset
                framing = _RecordFraming()
    for member_end, framing in _gzip_members(fh):
        if not framing.complete:
            return
        yield member_end


def _gzip_members(fh: BinaryIO) -> Iterator[tuple[int, _RecordFraming]]:
    """(end offset, framing of its content) of each whole gzip member, up to the first torn or corrupt one, or
    one whose content runs past a single record."""
    decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
    framing = _RecordFraming()
    member_start, member_fed = 0, 0
    data = b""
    while True:
        if not data:
            data = fh.read(65536)
            if not data:
                return
        try:
            out = decompressor.decompress(data, 1 << 20)
            while True:
                if framing.feed(out):
                    return  # more than one record in a member: not ours
                if not decompressor.unconsumed_tail or decompressor.eof:
                    break
                out = decompressor.decompress(decompressor.unconsumed_tail, 1 << 20)
        except (zlib.error, ValueError):
            return
        if decompressor.eof:
            end = member_start + member_fed + len(data) - len(decompressor.unused_data)
            yield end, framing
            member_start, member_fed = end, 0
            data = decompressor.unused_data
            decompressor, framing = zlib.decompressobj(16 + zlib.MAX_WBITS), _RecordFraming()
        else:
            member_fed += len(data)
            data = b""


def abandoned_open_files(directory: str | Path, all_hosts: bool = False) -> list[Path]:
    """``.open`` files of this host whose writing process is gone (others may belong to live workers)."""
    found = []
    for path in sorted(Path(directory).glob("*" + WARC_SUFFIX + OPEN_SUFFIX)):
        if path.is_symlink() or not path.is_file():  # never cut through a link or into a directory
            logger.warning("%s is not a WARC file this crawl wrote (a symlink or not a file): left alone", path)
            continue
        match = _NAME_RE.match(path.name[: -len(OPEN_SUFFIX)])
        if match is None:
            if all_hosts:
                found.append(path)
            continue
        same_host = match["host"] == _safe_host()
        if (same_host and not pid_alive(int(match["pid"])) and int(match["pid"]) != os.getpid()) or (
            all_hosts and not same_host
        ):
            found.append(path)
    return found


def recover_directory(directory: str | Path, all_hosts: bool = False) -> list[Recovery]:
    """Recover every abandoned ``.open`` file of a WARC directory."""
    return [recover_warc(path) for path in abandoned_open_files(directory, all_hosts)]


def runs_of(files: Iterable[Path]) -> dict[Path, str]:
    """Which crawl run wrote each WARC file. A run's files share host and pid and number their rotations from
    serial 00000, which a new run starts again (a pid can come back: in a container every run may have the
    same one); a file of another name is a run of its own."""
    runs: dict[Path, str] = {}
    current: dict[str, str] = {}
    for path in sorted(files, key=lambda p: p.name):
        match = _NAME_RE.match(path.name.removesuffix(OPEN_SUFFIX))
        if match is None:
            runs[path] = str(path)
            continue
        writer = f"{match['host']}-{match['pid']}"
        if int(match["serial"]) == 0 or writer not in current:
            current[writer] = f"{writer}-{match['ts']}"
        runs[path] = current[writer]
    return runs


def warc_files(directory: str | Path) -> list[Path]:
    """The closed WARC files of a directory, oldest first (names start with their UTC timestamp)."""
    directory = Path(directory)
    if directory.is_file():
        return [directory]
    return sorted(p for p in directory.glob("*.warc.gz") if p.is_file()) + sorted(
        p for p in directory.glob("*.warc") if p.is_file()
    )
