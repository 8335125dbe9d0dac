"""One bounded reader of the record heads of a WARC file, which names damage and reads on past it.

:func:`scan` walks a WARC file, record-per-member ``.warc.gz`` or uncompressed ``.warc`` (told apart by the
file's first bytes, not its name), and yields in file order a :class:`RecordHead` per record (its offset, its
WARC headers, the first bytes of its block) and a :class:`Damage` per unreadable region (its offset, why, how
many bytes were skipped, whether records follow). Memory stays bounded whatever the file holds:

- a record's WARC header block is read up to :data:`MAX_HEADER` bytes, never a line without end;
- content is never held: an uncompressed record's is skipped by seeking past its ``Content-Length``, a gzip
  member is inflated in steps of :data:`STEP` bytes and dropped; past ``jump_after`` inflated bytes (a huge
  record, a gzip bomb) the next record is found by looking for the next member's start in the compressed bytes,
  so a 4 GB member costs the time of reading its compressed size, not of inflating it;
- after damage (a member that does not inflate, a header that is not a WARC header, a ``Content-Length`` that
  does not end where the next record begins) the next record is looked for within ``resync_window`` bytes: in
  a ``.warc.gz`` a gzip member (``1f 8b 08``) that inflates to ``WARC/``, in a ``.warc`` a ``WARC/1.x`` line
  heading a parseable header block; past the window the rest of the file is given up (a zero-filled or foreign
  file is reported after the window, not read to its end).

Why not warcio's ``ArchiveIterator``, which the rest of the project reads records with: its header reader reads
a line until a newline however far that is (a zero-filled file is read whole, in memory), it stops quietly or
raises at the first bad gzip member without a way to go on, and it cannot skip a record's content without
inflating it. The header block itself is parsed by warcio's ``StatusAndHeadersParser``.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import BinaryIO, Iterator

from warcio.statusandheaders import StatusAndHeaders, StatusAndHeadersParser

from crawler.settings import REPLAY_RESYNC_WINDOW as RESYNC_WINDOW  # bytes searched for a record after damage

MAX_HEADER = 64 * 1024  # bytes of a WARC header block (a crawl's own are under 1 KB)
STEP = 1024 * 1024  # bytes inflated (or searched) at a time
READ = 64 * 1024  # compressed bytes read at a time (a crawl's records take 10-100 KB each)
JUMP_AFTER = 32 * 1024 * 1024  # default: inflated bytes of one record after which its end is searched for
GZIP_MAGIC = b"\x1f\x8b\x08"
_PARSER = StatusAndHeadersParser(["WARC/1.0", "WARC/1.1"])
_MAX_CONTENT_LENGTH = 1 << 62  # larger is no length at all (and would overflow a read)


@dataclass(frozen=True)
class RecordHead:
    """A record as its header block describes it; ``length`` is the bytes from its offset to the next record
    (or the end of the file)."""

    offset: int
    length: int
    headers: StatusAndHeaders
    content_length: int
    block_start: bytes  # the first ``peek`` bytes of the record block (a request's method, say)

    def get(self, name: str) -> str | None:
        """A WARC header's value, None when absent."""
        return self.headers.get_header(name)

    @property
    def rec_type(self) -> str:
        return (self.headers.get_header("WARC-Type") or "").lower()


@dataclass(frozen=True)
class Damage:
    """Bytes that hold no readable record: from ``offset``, ``skipped`` bytes long; ``resumed`` says whether a
    record was found after them (False: the rest of the file was given up)."""

    path: Path
    offset: int
    skipped: int
    reason: str
    resumed: bool

    def __str__(self) -> str:
        skipped = (f"{self.skipped} bytes skipped to the next record" if self.resumed
                   else f"the remaining {self.skipped} bytes skipped (no record after it)")
        return f"{self.path} offset {self.offset}: {self.reason}; {skipped}"


class _Bad(Exception):
    """Damage at one position; ``resume_at`` is where the next record must begin when that is known."""

    def __init__(self, reason: str, resume_at: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.resume_at = resume_at


def scan(path: str | Path, *, peek: int = 0, resync_window: int = RESYNC_WINDOW,
         jump_after: int = JUMP_AFTER) -> Iterator[RecordHead | Damage]:
    """The records and damaged regions of one WARC file, in file order (see the module docstring).

    OSError (the file cannot be opened or read) is raised, as it says nothing about the data."""
    path = Path(path)
    with open(path, "rb") as fh:
        size = path.stat().st_size
        gzipped = fh.read(2) == GZIP_MAGIC[:2] or (size < 2 and path.name.endswith(".gz"))
        reader = _GzipRecords(fh, size, peek, jump_after) if gzipped else _PlainRecords(fh, size, peek)
        yield from _walk(path, reader, size, resync_window)


def _walk(path: Path, reader: "_Records", size: int, window: int) -> Iterator[RecordHead | Damage]:
    position = reader.skip_blank(0)
    damage: tuple[int, str] | None = None  # (offset, reason) of the damage being skipped
    while position < size:
        try:
            head = reader.record(position)
        except _Bad as bad:
            if damage is None:
                damage = (position, bad.reason)
            if bad.resume_at is not None:
                position = bad.resume_at
                continue
            found = reader.find_next(position + 1, min(size, damage[0] + window))
            if found is None:
                searched = min(size, damage[0] + window) - damage[0]
                reason = damage[1] if searched >= size - damage[0] else (
                    f"{damage[1]}; no record within {window} bytes of it")
                yield Damage(path, damage[0], size - damage[0], reason, False)
                return
            position = found
            continue
        if damage is not None:
            yield Damage(path, damage[0], position - damage[0], damage[1], True)
            damage = None
        yield head
        position = reader.skip_blank(head.offset + head.length)
    if damage is not None:
        yield Damage(path, damage[0], size - damage[0], damage[1], False)


def _parse_head(data: bytes) -> tuple[StatusAndHeaders, int, int]:
    """(headers, header block length, Content-Length) of the bytes a record starts with."""
    if not data.startswith(b"WARC/1."):
        start = data[:8]
        shown = repr(start) if start.isascii() and start.decode("ascii").isprintable() else start.hex(" ")
        raise _Bad(f"not a WARC record (starts with {shown or 'nothing'})")
    end = data.find(b"\r\n\r\n", 0, MAX_HEADER)
    if end < 0:
        raise _Bad(f"no end of the WARC header block within {MAX_HEADER} bytes")
    try:
        headers = _PARSER.parse(BytesIO(data[:end + 4]))
    except Exception as exc:  # warcio's parser raises its own exception or a decoding error
        raise _Bad(f"unparseable WARC header ({exc})") from None
    declared = (headers.get_header("Content-Length") or "").strip()
    if not declared.isdigit() or int(declared) > _MAX_CONTENT_LENGTH:
        raise _Bad(f"bad Content-Length {declared[:40]!r}")
    return headers, end + 4, int(declared)


class _Records:
    fh: BinaryIO
    size: int

    def record(self, offset: int) -> RecordHead:
        raise NotImplementedError

    def find_next(self, start: int, stop: int) -> int | None:
        raise NotImplementedError

    def skip_blank(self, offset: int) -> int:
        return offset

    def _find(self, pattern: bytes, start: int, stop: int, accept) -> int | None:
        """The first offset in [start, stop) where ``pattern`` occurs and ``accept(offset)`` holds."""
        position = start
        while position < stop:
            self.fh.seek(position)
            chunk = self.fh.read(min(STEP, stop - position) + len(pattern) - 1)
            if not chunk:
                return None
            at = chunk.find(pattern)
            while 0 <= at and position + at < stop:
                if accept(position + at):
                    return position + at
                at = chunk.find(pattern, at + 1)
            position += STEP
        return None


class _PlainRecords(_Records):
    """Records of an uncompressed WARC: header, ``Content-Length`` bytes, CRLF CRLF; content skipped by seeking."""

    def __init__(self, fh: BinaryIO, size: int, peek: int) -> None:
        self.fh, self.size, self.peek = fh, size, peek

    def skip_blank(self, offset: int) -> int:
        while offset < self.size:
            self.fh.seek(offset)
            chunk = self.fh.read(4096)
            stripped = chunk.lstrip(b"\r\n")
            offset += len(chunk) - len(stripped)
            if stripped or not chunk:
                break
        return offset

    def record(self, offset: int) -> RecordHead:
        self.fh.seek(offset)
        data = self.fh.read(MAX_HEADER)
        headers, header_length, content_length = _parse_head(data)
        end = offset + header_length + content_length
        if end > self.size:
            raise _Bad(f"record declares {content_length} bytes of content, the file holds "
                       f"{self.size - offset - header_length} after its header")
        self.fh.seek(end)
        tail = self.fh.read(4)
        if tail.strip(b"\r\n"):
            raise _Bad(f"record does not end where its Content-Length ({content_length}) says")
        start = data[header_length:header_length + min(self.peek, content_length)]
        if len(start) < min(self.peek, content_length):
            self.fh.seek(offset + header_length)
            start = self.fh.read(min(self.peek, content_length))
        return RecordHead(offset, end + len(tail) - offset, headers, content_length, start)

    def find_next(self, start: int, stop: int) -> int | None:
        def heads_a_record(candidate: int) -> bool:
            if candidate > 0:
                self.fh.seek(candidate - 1)
                if self.fh.read(1) != b"\n":
                    return False
            self.fh.seek(candidate)
            try:
                _parse_head(self.fh.read(MAX_HEADER))
            except _Bad:
                return False
            return True

        return self._find(b"WARC/1.", start, stop, heads_a_record)


class _GzipRecords(_Records):
    """Records of a record-per-member ``.warc.gz``: each member inflated in bounded steps to find its end."""

    def __init__(self, fh: BinaryIO, size: int, peek: int, jump_after: int) -> None:
        self.fh, self.size, self.peek, self.jump_after = fh, size, peek, jump_after

    def record(self, offset: int) -> RecordHead:
        fh = self.fh
        fh.seek(offset)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        head = bytearray()
        tail = b""
        total = 0
        read = 0
        parsed: tuple[StatusAndHeaders, int, int] | None = None
        want = MAX_HEADER + self.peek
        while not inflater.eof:
            data = fh.read(READ)
            if not data:
                if parsed is None:
                    raise _Bad("gzip member cut short (truncated file?)")
                raise _Bad(f"record cut short: its gzip member ends with the file after {total} of "
                           f"{parsed[1] + parsed[2]} bytes (truncated file?)")
            if not read and not data.startswith(GZIP_MAGIC):
                raise _Bad(f"not a gzip member (starts with {data[:4].hex(' ')})")
            read += len(data)
            while data and not inflater.eof:
                try:
                    out = inflater.decompress(data, STEP)
                except zlib.error as exc:
                    raise _Bad(f"corrupt gzip member ({exc})") from None
                data = inflater.unconsumed_tail
                total += len(out)
                if len(head) < want:
                    head += out[:want - len(head)]
                tail = (tail + out[-64:])[-64:]
                if parsed is None and (len(head) >= want or b"\r\n\r\n" in head or inflater.eof):
                    parsed = _parse_head(bytes(head))
                if parsed is not None and total > self.jump_after and not inflater.eof:
                    return self._jump(offset, offset + read - len(data), parsed, bytes(head))
        if parsed is None:
            parsed = _parse_head(bytes(head))
        end = offset + read - len(inflater.unused_data)
        headers, header_length, content_length = parsed
        expected = header_length + content_length
        if total < expected:
            raise _Bad(f"record declares {content_length} bytes of content, its gzip member holds "
                       f"{max(0, total - header_length)}", resume_at=self.skip_blank(end))
        extra = total - expected
        if extra > len(tail) or tail[len(tail) - extra:].strip(b"\r\n"):
            raise _Bad("gzip member holds more than one record (not a record-per-member .warc.gz)",
                       resume_at=self.skip_blank(end))
        return RecordHead(offset, end - offset, headers, content_length, self._start(head, parsed))

    def _start(self, head: bytearray, parsed: tuple[StatusAndHeaders, int, int]) -> bytes:
        _, header_length, content_length = parsed
        return bytes(head[header_length:header_length + min(self.peek, content_length)])

    def _jump(self, offset: int, position: int, parsed: tuple[StatusAndHeaders, int, int],
              head: bytes) -> RecordHead:
        """A record too large to inflate through: it ends where the next member that heads a record begins."""
        found = self._find(GZIP_MAGIC, position, self.size, self._heads_a_record)
        end = self.size if found is None else found
        return RecordHead(offset, end - offset, parsed[0], parsed[2], self._start(bytearray(head), parsed))

    def _heads_a_record(self, candidate: int) -> bool:
        self.fh.seek(candidate)
        inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out = inflater.decompress(self.fh.read(4096), 64)
        except zlib.error:
            return False
        return out.startswith(b"WARC/1.")

    def skip_blank(self, offset: int) -> int:
        return offset  # bytes between members are not blank lines but damage

    def find_next(self, start: int, stop: int) -> int | None:
        return self._find(GZIP_MAGIC, start, stop, self._heads_a_record)
