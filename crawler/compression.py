"""Compressed bodies cut short: a response whose content-codings end before their compressed streams do.

Scrapy's ``HttpCompressionMiddleware`` decodes ``gzip``, ``deflate``, ``br`` and ``zstd``, several of them when
``Content-Encoding`` lists more than one (``gzip, br``: gzip was applied first, br last, so br is undone first),
and keeps whatever a stream cut short yields, without a word (sometimes half a page, sometimes nothing). A half
article must not pass as a whole one, so :func:`complete_stream` decodes the raw body once more, in bounded
pieces whose output is thrown away, and says whether every layer reached its end-of-stream marker: zlib's
``eof`` for gzip (every member) and deflate, brotli's ``is_finished()``, zstd's ``eof`` (every frame).
``crawler.middlewares.truncated`` flags a response that fails it ``truncated``; the spider then records the
article as an error, writes no text file, and it is fetched again on a later run. Scrapy offers no such check
and the codec libraries only expose their end-of-stream state, hence this module.

A bomb (a small body that decodes to more than ``DOWNLOAD_MAXSIZE``, checked per layer as Scrapy does) is not
decoded further: it counts as complete, and Scrapy's decompression refuses it as over-size. Memory stays
bounded either way: at most one piece of 64 KB per layer is alive at a time.

WARC: such a response is archived as received, without ``WARC-Truncated``. The recorder writes the record
before this check runs, and rightly so: WARC 1.1's ``WARC-Truncated`` (``length``, ``time``, ``disconnect``,
``unspecified``) says the *record* holds less than the exchange, and here it holds every byte the server sent,
under a Content-Length that matched (a connection that breaks before Content-Length is reached is a download
error and leaves no record). The stream being cut is a property of the payload, which a reader finds the
same way this module does; a replay of the record is flagged again by the middleware.
"""

from __future__ import annotations

import sys
import zlib
from typing import Iterable, Iterator, Protocol, Sequence

try:
    import brotli
except ImportError:  # PyPy: Scrapy uses brotlicffi, which has the same streaming interface
    import brotlicffi as brotli  # type: ignore[no-redef]

if sys.version_info >= (3, 14):
    from compression import zstd
else:
    from backports import zstd


PIECE = 65536  # bytes of input fed, and of output asked for, per step
DECODED = frozenset({"gzip", "x-gzip", "deflate", "br", "zstd"})  # what Scrapy's decompression undoes
_GZIP_MAGIC = b"\x1f\x8b"


class _CodecError(Exception):
    """The stream is corrupt (a decoder refused it)."""


class _Oversize(Exception):
    """A layer decoded to more than the size limit: a bomb, not read further."""


class _Layer(Protocol):
    def feed(self, data: bytes) -> Iterator[bytes]: ...

    def finished(self) -> bool: ...


class _Gzip:
    """gzip, member after member (Python's gzip, and so Scrapy, reads concatenated members, skips zero padding
    and stops quietly at other trailing bytes)."""

    def __init__(self) -> None:
        self._decoder: "zlib._Decompress | None" = zlib.decompressobj(16 + zlib.MAX_WBITS)
        self._begun = False  # the current member has received bytes
        self._carry = b""  # bytes after a member's end that may begin the next one
        self._trailing = False  # bytes that are not a member followed: the rest is ignored

    def feed(self, data: bytes) -> Iterator[bytes]:
        data = self._carry + data
        self._carry = b""
        while data and not self._trailing:
            if self._decoder is None:  # between members
                data = data.lstrip(b"\0")
                if len(data) < 2:
                    self._carry = data
                    return
                if data[:2] != _GZIP_MAGIC:
                    self._trailing = True
                    return
                self._decoder, self._begun = zlib.decompressobj(16 + zlib.MAX_WBITS), False
            decoder = self._decoder
            self._begun = True
            try:
                yield decoder.decompress(data, PIECE)
                while decoder.unconsumed_tail and not decoder.eof:
                    yield decoder.decompress(decoder.unconsumed_tail, PIECE)
            except zlib.error as exc:
                raise _CodecError(str(exc)) from exc
            if not decoder.eof:
                return
            data = decoder.unused_data
            self._decoder = None

    def finished(self) -> bool:
        return self._decoder is None or not self._begun


class _Deflate:
    """deflate: the zlib format, or raw deflate as some servers send it (Scrapy accepts both)."""

    def __init__(self) -> None:
        self._decoder = zlib.decompressobj()
        self._head = b""  # input fed before any output: decoded again as raw deflate if zlib refuses it
        self._raw = False
        self._output = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._decoder.eof:
            return  # trailing bytes after the stream are ignored, as Scrapy does
        if not self._output and not self._raw:
            self._head += data
        try:
            yield from self._decode(data)
        except zlib.error as exc:
            if self._output or self._raw:
                raise _CodecError(str(exc)) from exc
            self._decoder, self._raw, head, self._head = zlib.decompressobj(-zlib.MAX_WBITS), True, self._head, b""
            try:
                yield from self._decode(head)
            except zlib.error as exc2:
                raise _CodecError(str(exc2)) from exc2

    def _decode(self, data: bytes) -> Iterator[bytes]:
        decoder = self._decoder
        piece = decoder.decompress(data, PIECE)
        while True:
            if piece:
                self._output, self._head = True, b""
                yield piece
            if not decoder.unconsumed_tail or decoder.eof:
                return
            piece = decoder.decompress(decoder.unconsumed_tail, PIECE)

    def finished(self) -> bool:
        return self._decoder.eof


class _Brotli:
    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()

    def feed(self, data: bytes) -> Iterator[bytes]:
        if self._decoder.is_finished():
            raise _CodecError("bytes after the end of the brotli stream")  # Scrapy's decoder fails on them too
        try:
            yield self._decoder.process(data, output_buffer_limit=PIECE)
            # Output held back by the limit comes with empty input (can_accept_more_data() does not say so).
            while not self._decoder.is_finished():
                piece = self._decoder.process(b"", output_buffer_limit=PIECE)
                if not piece:
                    break
                yield piece
        except brotli.error as exc:
            raise _CodecError(str(exc)) from exc

    def finished(self) -> bool:
        return self._decoder.is_finished()


class _Zstd:
    """zstd, frame after frame (Scrapy reads concatenated frames)."""

    def __init__(self) -> None:
        self._decoder = zstd.ZstdDecompressor()
        self._begun = False

    def feed(self, data: bytes) -> Iterator[bytes]:
        while data:
            if self._decoder.eof:
                self._decoder = zstd.ZstdDecompressor()
            decoder = self._decoder
            self._begun = True
            try:
                yield decoder.decompress(data, PIECE)
                while not decoder.needs_input and not decoder.eof:
                    yield decoder.decompress(b"", PIECE)
            except zstd.ZstdError as exc:
                raise _CodecError(str(exc)) from exc
            data = decoder.unused_data if decoder.eof else b""

    def finished(self) -> bool:
        return self._decoder.eof or not self._begun


def _layer(coding: str) -> _Layer:
    if coding in ("gzip", "x-gzip"):
        return _Gzip()
    if coding == "deflate":
        return _Deflate()
    if coding == "br":
        return _Brotli()
    return _Zstd()


def decoded_codings(values: Iterable[bytes | str]) -> list[str]:
    """The content-codings Scrapy's decompression undoes, in the order they were applied (as listed).

    ``values`` are the ``Content-Encoding`` header values; like Scrapy, only the codings after the last one it
    cannot decode are undone (the others stay on the body).
    """
    listed = [part.strip().lower() for value in values
              for part in (value.decode("latin-1") if isinstance(value, bytes) else value).split(",")
              if part.strip()]
    undone: list[str] = []
    while listed and listed[-1] in DECODED:
        undone.insert(0, listed.pop())
    return undone


def complete_stream(body: bytes, codings: Sequence[str] | str, max_size: int = 0) -> bool:
    """Whether ``body``, encoded with ``codings`` (in the order applied), holds every layer's whole stream.

    A layer whose output passes ``max_size`` (0: no limit) is a bomb: whole for this purpose, as nothing of it
    will be read. A corrupt stream is not whole.
    """
    if isinstance(codings, str):
        codings = [codings]
    layers = [_layer(coding) for coding in reversed(codings)]  # the last applied is undone first
    sizes = [0] * len(layers)

    def push(index: int, data: bytes) -> None:
        for piece in layers[index].feed(data):
            if not piece:
                continue
            sizes[index] += len(piece)
            if max_size and sizes[index] > max_size:
                raise _Oversize
            if index + 1 < len(layers):
                push(index + 1, piece)

    try:
        for start in range(0, len(body), PIECE):
            push(0, body[start:start + PIECE])
    except _Oversize:
        return True
    except _CodecError:
        return False
    return all(layer.finished() for layer in layers)
