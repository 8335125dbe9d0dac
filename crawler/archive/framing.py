"""A forward-only reader of WARC records from a stream, which checks each record's framing and reads on past
damage: the scan-warc pass's reader of other people's files.

A record whose ``Content-Length`` lies must not be copied as it is (the copy would lie too), and must not cost the
records after it. FastWARC and warcio both trust the declared length: a record declaring 300 bytes too many or
too few, or a gigabyte, ends their pass or hands back a record of the wrong bytes, and neither reads a plain
``.warc`` on past it. :mod:`crawler.archive.records` does read past damage, but it seeks (a source may be an
HTTP stream) and gives record heads only. So this module frames records itself, with the one check the format
allows:

- a ``.warc.gz`` is read one gzip member at a time (inflated in steps of :data:`STEP`, held only as far as the
  block is wanted): a record must end, with its two line breaks, where its member ends or where the next record
  of the same member begins; one that does not is damage, and the next member is the next record (in a member
  that held records before the damaged one, the next line starting ``WARC/1.`` that heads a header block, as in
  a plain file, when it is still at hand). A member that does not inflate, or bytes between members that are
  none, are skipped to the next gzip header, and nothing of a member that fails its CRC is kept (in a member
  holding many records, those before the failure were handed on already);
- a plain ``.warc`` is one run of records: after the declared block must come the two line breaks and then
  ``WARC/1.`` or the end of the file; otherwise the next line starting ``WARC/1.`` that heads a header block is
  the next record (searched from the damaged record's header on when the source can seek, from where the
  declared length ended when it cannot);
- a header block holding a CR or LF outside a CRLF is damage: warcio splits lines at LF, and would read other
  fields in a copy of it (a second ``Content-Length``, a whole record in a status line);
- a record whose block is read (the caller wants it) must carry a ``WARC-Record-ID``, a ``WARC-Date`` that
  parses, and, when it has a ``WARC-Block-Digest`` (sha1, sha256 or md5; one that is no ``algorithm:value`` is
  a mismatch), a block that matches it. One followed by more line breaks than its two must have such a digest:
  a block ending in line breaks and declared that many bytes short looks just like it.

Each damaged record or region is handed to ``on_damage`` once, with its offset, an event name and why; the
reader never raises for what a source holds (only for an ``OSError`` reading it). Memory is bounded by
:data:`MAX_HEADER` plus the largest block the caller asks for. Header lines are split here, not by warcio's
parser: the pass looks at every record's header and only a few of its fields, so it must cost microseconds.
"""

from __future__ import annotations

import base64
import hashlib
import re
import zlib

try:  # the same API, about 3.8x faster at inflating (a scan inflates every member of a source)
    from zlib_ng import zlib_ng as _inflate
except ImportError:  # pragma: no cover - a dependency; the stdlib's zlib reads the same bytes
    _inflate = zlib  # type: ignore[assignment]
from dataclasses import dataclass
from typing import BinaryIO, Callable, Iterator

MAX_HEADER = 64 * 1024  # bytes of a WARC header block (crawlers write under 2 KB)
STEP = 1 << 20  # bytes inflated at a time
READ = 1 << 17  # compressed bytes read at a time (a member is 10-100 KB; what follows it is copied once per member)
GZIP_MAGIC = b"\x1f\x8b\x08"
RECORD_START = b"WARC/1."

# Events handed to on_damage (the scan counts them as ``scan/<event>``).
LENGTH_MISMATCH = "length_mismatch"  # a record's data does not end where its Content-Length says
BAD_HEADER = "bad_header"  # no parseable WARC header block where a record must begin
CUT_OFF = "cut_off"  # the source ends inside a record
CORRUPT_GZIP = "corrupt_gzip"  # a gzip member that does not inflate, or bytes between members that are none
BAD_FIELDS = "bad_fields"  # a wanted record without a WARC-Record-ID or a WARC-Date that parses
DIGEST_MISMATCH = "digest_mismatch"  # a wanted record whose block does not match its WARC-Block-Digest

_DATE = re.compile(rb"^\d{4}(-\d\d(-\d\d(T\d\d:\d\d(:\d\d(\.\d{1,9})?)?(Z|[+-]\d\d:\d\d))?)?)?$")
_DIGESTS = {b"sha1": hashlib.sha1, b"sha256": hashlib.sha256, b"md5": hashlib.md5}


@dataclass(frozen=True)
class Record:
    """A wanted record whose framing checked out. ``offset`` is where it starts in the source (in a
    ``.warc.gz``, its gzip member's offset)."""

    offset: int
    status_line: bytes
    headers: list[tuple[bytes, bytes]]
    content_length: int
    block: bytes

    def header(self, name: bytes) -> bytes | None:
        name = name.lower()
        return next((value for key, value in self.headers if key.lower() == name), None)


# want(record type, target URI, content length) -> read the block?
Want = Callable[[bytes, bytes, int], bool]
OnDamage = Callable[[int, str, str, str], None]  # (offset, event, why, target URI or "")


def parse_header(data: bytes) -> tuple[bytes, list[tuple[bytes, bytes]], int] | None:
    """(status line, fields, Content-Length) of a header block (without its closing blank line), or None."""
    if not data.startswith(RECORD_START) or _bare_line_break(data):
        return None
    lines = data.split(b"\r\n")
    fields: list[tuple[bytes, bytes]] = []
    for line in lines[1:]:
        if line[:1] in (b" ", b"\t") and fields:  # a continuation line
            fields[-1] = (fields[-1][0], fields[-1][1] + b" " + line.strip())
            continue
        name, colon, value = line.partition(b":")
        if not colon or not name.strip():
            return None
        fields.append((name.strip(), value.strip()))
    # read after folding: a Content-Length continued on the next line is copied as one line, and must still be one
    value = next((value for name, value in fields if name.lower() == b"content-length"), b"")
    if not value.isdigit() or len(value) > 18:
        return None
    return lines[0].rstrip(), fields, int(value)


def _bare_line_break(data: bytes) -> bool:
    """Whether a header block holds a CR or LF outside a CRLF: other readers (warcio splits lines at LF) would
    see other fields in it than this module does, e.g. a second Content-Length, or a whole record in a status
    line, and a copy of it would be read by them as something else."""
    crlf = data.count(b"\r\n")
    return data.count(b"\n") != crlf or data.count(b"\r") != crlf


def quick_fields(data: bytes) -> tuple[bytes, bytes, int] | None:
    """(WARC-Type lowercased, WARC-Target-URI, Content-Length) of a header block, found without splitting it
    into fields (most records are only looked at); None when it is no header block (see :func:`parse_header`)."""
    if not data.startswith(RECORD_START) or _bare_line_break(data):
        return None
    lowered = b"\r\n" + data.lower() + b"\r\n"
    found = []
    for name in (b"\r\nwarc-type:", b"\r\nwarc-target-uri:", b"\r\ncontent-length:"):
        at = lowered.find(name)
        if at < 0:
            found.append(None)
            continue
        start = at + len(name)
        found.append((start - 2, lowered.find(b"\r\n", start) - 2))
    if found[2] is None:
        return None
    length = data[found[2][0]:found[2][1]].strip()
    if not length.isdigit() or len(length) > 18:
        return None
    rec_type = data[found[0][0]:found[0][1]].strip().lower() if found[0] else b""
    uri = data[found[1][0]:found[1][1]].strip() if found[1] else b""
    return rec_type, uri, int(length)


def field_problem(headers: list[tuple[bytes, bytes]], block: bytes) -> tuple[str, str] | None:
    """(event, why) when a record to be kept is no valid WARC record by its fields, or its block digest."""
    found = {key.lower(): value for key, value in reversed(headers)}
    if not found.get(b"warc-record-id"):
        return BAD_FIELDS, "no WARC-Record-ID"
    date = found.get(b"warc-date", b"")
    if not _DATE.match(date):
        return BAD_FIELDS, f"WARC-Date {date[:40].decode('latin-1')!r} is no W3C date" if date else "no WARC-Date"
    digest = found.get(b"warc-block-digest")
    if digest:
        algorithm, colon, value = digest.partition(b":")
        if not colon or not algorithm.strip() or not value.strip():  # a damaged one must not pass as unknown
            return DIGEST_MISMATCH, f"WARC-Block-Digest {digest[:60].decode('latin-1')!r} is no algorithm:value"
        make = _DIGESTS.get(algorithm.strip().lower())
        if make is not None and value:
            actual = make(block).digest()
            value = value.strip()
            if value.upper().rstrip(b"=") != base64.b32encode(actual).rstrip(b"=") \
                    and value.lower() != actual.hex().encode("ascii"):
                return DIGEST_MISMATCH, f"block does not match its WARC-Block-Digest {digest.decode('latin-1')}"
    return None


def checked_digest(headers: list[tuple[bytes, bytes]]) -> bool:
    """Whether a record has a WARC-Block-Digest this module can check (see :func:`field_problem`)."""
    digest = next((value for key, value in headers if key.lower() == b"warc-block-digest"), b"")
    return digest.partition(b":")[0].strip().lower() in _DIGESTS


class _Source:
    """The bytes of one segment at a time: a gzip member of a ``.warc.gz``, or the whole of a plain ``.warc``."""

    def __init__(self, stream: BinaryIO, on_damage: OnDamage) -> None:
        self.stream, self.on_damage = stream, on_damage
        self.pending = b""  # gzip: compressed bytes read and not yet inflated; plain: the first chunk
        self._read_pending(len(GZIP_MAGIC))  # a stream may hand out a byte at a time
        self.gzipped = self.pending[:2] == GZIP_MAGIC[:2]
        self.buf, self.pos = b"", 0  # the segment's bytes at hand, and where reading is in them
        self.base = 0  # offset of buf[0] in the segment (plain: in the source; gzip: in the inflated member)
        self.consumed = 0  # gzip: compressed bytes consumed before ``pending``
        self.member = 0  # gzip: offset of the current member
        self.inflater = None
        self.ended = False  # the current segment has no more bytes
        self.cut = False  # the source ended inside a gzip member
        self.broken = False  # the current gzip member did not inflate to its end (its CRC or data is bad)
        self.started = False

    # -- segments --
    def next_segment(self) -> bool:
        """Move to the next segment; False at the end of the source."""
        if not self.gzipped:
            if self.started:
                return False
            self.started = True
            self.buf, self.pending = self.pending, b""
            self.ended = not self.buf
            return True
        self._drain()
        self.buf, self.pos, self.base, self.ended, self.cut, self.broken = b"", 0, 0, False, False, False
        self._read_pending(len(GZIP_MAGIC))
        if not self.pending:
            return False
        if not self.pending.startswith(GZIP_MAGIC):
            start = self.consumed
            skipped = self._find_magic()
            tail = "" if self.pending else " (up to the end of the source)"
            self.on_damage(start, CORRUPT_GZIP, f"{skipped} bytes that are no gzip member{tail}", "")
            if not self.pending:
                return False
        self.member = self.consumed
        self.inflater = _inflate.decompressobj(31)
        return True

    def _read_pending(self, size: int) -> None:
        """Read until ``pending`` holds ``size`` bytes, or the source ends."""
        while len(self.pending) < size:
            more = self.stream.read(READ)
            if not more:
                return
            self.pending += more

    def _find_magic(self) -> int:
        """Drop pending bytes up to the next gzip header; returns how many were dropped."""
        skipped = 0
        while True:
            at = self.pending.find(GZIP_MAGIC, 1 if skipped == 0 and self.pending[:1] == b"\x1f" else 0)
            if at >= 0:
                self.pending = self.pending[at:]
                self.consumed += at
                return skipped + at
            keep = len(GZIP_MAGIC) - 1
            drop = max(0, len(self.pending) - keep)
            skipped += drop
            self.consumed += drop
            self.pending = self.pending[drop:]
            more = self.stream.read(READ)
            if not more:
                skipped += len(self.pending)
                self.consumed += len(self.pending)
                self.pending = b""
                return skipped
            self.pending += more

    def _drain(self) -> None:
        while self._chunk():
            pass

    # -- bytes of the current segment --
    def _chunk(self) -> bytes:
        """The segment's next bytes; b"" at its end."""
        if self.ended:
            return b""
        if not self.gzipped:
            data = self.stream.read(READ)
            if not data:
                self.ended = True
            return data
        inflater = self.inflater
        while True:
            if inflater is None or inflater.eof:
                self.ended = True
                return b""
            if not self.pending:
                self.pending = self.stream.read(READ)
                if not self.pending:
                    self.ended = self.cut = True
                    return b""
            before = len(self.pending)
            try:
                out = inflater.decompress(self.pending, STEP)
            except _inflate.error as exc:
                self.on_damage(self.member, CORRUPT_GZIP, f"gzip member does not inflate ({exc})", "")
                self.consumed += 1
                self.pending = self.pending[1:]
                self.inflater = None
                self.ended = self.broken = True
                return b""
            self.pending = inflater.unused_data if inflater.eof else inflater.unconsumed_tail
            self.consumed += before - len(self.pending)
            if out:
                return out

    def _more(self) -> bool:
        data = self._chunk()
        if not data:
            return False
        if self.pos:
            self.base += self.pos
            self.buf = self.buf[self.pos:] + data
            self.pos = 0
        else:
            self.buf += data
        return True

    def offset(self) -> int:
        return self.member if self.gzipped else self.base + self.pos

    def at_end(self) -> bool:
        """Whether the segment holds nothing more than line breaks from here."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in b"\r\n":
                self.pos += 1
            if self.pos < len(self.buf):
                return False
            if not self._more():
                return True

    def header_block(self) -> bytes | None:
        """The header block from here to its blank line (consumed), or None (nothing consumed)."""
        searched = 0  # bytes after ``pos`` looked through already (reading more may move the buffer)
        while True:
            end = self.buf.find(b"\r\n\r\n", self.pos + max(0, searched - 3))
            if 0 <= end <= self.pos + MAX_HEADER:
                data = self.buf[self.pos:end]
                self.pos = end + 4
                return data
            searched = len(self.buf) - self.pos
            if searched > MAX_HEADER or not self._more():
                return None

    def take(self, size: int) -> bytes:
        """Up to ``size`` bytes (fewer when the segment ends)."""
        while len(self.buf) - self.pos < size and self._more():
            pass
        data = self.buf[self.pos:self.pos + size]
        self.pos += len(data)
        return data

    def skip(self, size: int) -> int:
        """Skip up to ``size`` bytes without keeping them; returns how many were skipped."""
        have = len(self.buf) - self.pos
        if have >= size:
            self.pos += size
            return size
        skipped = have
        self.base += len(self.buf)
        self.buf, self.pos = b"", 0
        while skipped < size:
            data = self._chunk()
            if not data:
                break
            if skipped + len(data) > size:
                used = size - skipped
                self.base += used
                self.buf, skipped = data[used:], size
                break
            skipped += len(data)
            self.base += len(data)
        return skipped

    def ends_record(self) -> int | None:
        """After a block: its two line breaks, then the segment's end or the next record (consumed up to it).
        A block with no line breaks after it is accepted only where nothing follows. Returns how many more
        line-break bytes came before that (a block of a record that declares a few bytes too few may end in
        line breaks, which then look like these), or None when the record does not end here."""
        while len(self.buf) - self.pos < 4 and self._more():
            pass
        rest = self.buf[self.pos:self.pos + 4]
        if rest == b"\r\n\r\n":
            self.pos += 4
        elif rest:
            return None
        after = self.base + self.pos
        if self.at_end():
            return self.base + self.pos - after
        while len(self.buf) - self.pos < len(RECORD_START) and self._more():
            pass
        return self.base + self.pos - after if self.buf.startswith(RECORD_START, self.pos) else None

    def resync(self, start: int | None) -> bool:
        """Move to the next line starting ``WARC/1.`` that heads a header block, searched from source
        offset ``start`` when it is still at hand or (plain) the source can seek there, else from here. False when
        there is none in the segment."""
        if start is not None and start < self.base + self.pos:
            if start >= self.base:
                self.pos = start - self.base
            elif not self.gzipped and _can_seek(self.stream):
                self.stream.seek(start)
                self.buf, self.pos, self.base, self.ended = b"", 0, start, False
        pattern = b"\n" + RECORD_START
        while True:
            at = self.buf.find(pattern, self.pos)
            if at < 0:
                self.pos = max(self.pos, len(self.buf) - len(pattern))  # a pattern split between reads
                if not self._more():
                    self.pos = len(self.buf)
                    return False
                continue
            self.pos = at + 1
            mark = self.base + self.pos  # reading the header block may move the buffer, never past the mark
            block = self.header_block()
            self.pos = mark - self.base
            if block is not None and parse_header(block) is not None:
                return True
            self.pos += 1


def _target_uri(data: bytes) -> str:
    """The WARC-Target-URI of a damaged header block as warcio would see it (lines split at LF), or ""."""
    for line in data.split(b"\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"warc-target-uri":
            return value.strip().decode("utf-8", "replace")
    return ""


def _can_seek(stream: BinaryIO) -> bool:
    try:
        return bool(stream.seekable())
    except (AttributeError, OSError, ValueError):
        return False


def read_records(stream: BinaryIO, want: Want, on_damage: OnDamage) -> Iterator[Record]:
    """The records of a WARC stream that ``want(type, uri, length)`` asks for, with their blocks, when their
    framing, fields and digest check out (see the module docstring); the others are read past."""
    source = _Source(stream, on_damage)
    while source.next_segment():
        first = True  # the segment's first record: in a .warc.gz, damage there ends the member (see below)
        while not source.at_end():
            # Past damage, a .warc.gz member is searched on for the next record only when it held records before
            # this one (a file of one member holding many): a member of one record has no other to find, and the
            # search would split a payload that is itself a WARC file into records.
            may_resync, first = not (source.gzipped and first), False
            offset = source.offset()
            header_at = source.base + source.pos
            block_header = source.header_block()
            quick = quick_fields(block_header) if block_header is not None else None
            if quick is None:
                if source.cut or source.broken:
                    break  # reported below, or as the member's damage
                if block_header is not None and _bare_line_break(block_header):
                    on_damage(offset, BAD_HEADER, "WARC header block with a CR or LF outside a CRLF (other readers "
                              "would see other fields in it)", _target_uri(block_header))
                else:
                    shown = source.buf[source.pos:source.pos + 8]
                    on_damage(offset, BAD_HEADER, f"no WARC header block here (it starts with {shown!r})", "")
                if not may_resync or not source.resync(header_at + 1):
                    break
                continue
            rec_type, uri, length = quick
            url = uri.decode("utf-8", "replace")
            body_at = source.base + source.pos
            block = source.take(length) if want(rec_type, uri, length) else None
            got = len(block) if block is not None else source.skip(length)
            if got < length:
                if source.cut or source.broken:
                    break  # reported below, or as the member's damage
                if may_resync and source.resync(body_at):
                    on_damage(offset, LENGTH_MISMATCH, f"record declares {length} bytes of content, the next "
                              f"record begins before that", url)
                    continue
                if source.gzipped:
                    on_damage(offset, LENGTH_MISMATCH, f"record declares {length} bytes of content, its gzip "
                              f"member holds {got}", url)
                else:
                    on_damage(offset, CUT_OFF, f"the source ends {got} bytes into a record of {length}", url)
                break
            extra = source.ends_record()
            if source.broken:
                break  # named as the member's damage: nothing of a member that fails its check is kept
            if extra is None:
                on_damage(offset, LENGTH_MISMATCH, f"record does not end where its Content-Length ({length}) "
                          "says", url)
                if not may_resync or not source.resync(body_at):
                    break
                continue
            if block is not None:
                parsed = parse_header(block_header)
                if parsed is None:
                    on_damage(offset, BAD_HEADER, "unparseable WARC header block", url)
                    continue
                status, fields, _ = parsed
                problem = field_problem(fields, block)
                if problem is None and extra and not checked_digest(fields):
                    problem = LENGTH_MISMATCH, (f"record is followed by {extra} more line-break bytes than its two "
                                                f"and has no block digest to tell whether its Content-Length "
                                                f"({length}) is short")
                if problem is not None:
                    on_damage(offset, problem[0], problem[1], url)
                    continue
                yield Record(offset, status, fields, length, block)
        if source.cut:
            on_damage(source.member, CUT_OFF, "the source ends inside this gzip member", "")
            return
