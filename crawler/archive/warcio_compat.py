"""warcio's ``br`` decoder, made to work with the ``brotli`` package that Scrapy requires.

warcio (1.8.1, the newest release) registers a ``br`` decoder written for brotlipy: it sets ``unused_data`` on a
``brotli.Decompressor`` and calls its ``decompress``. Google's ``brotli`` (Scrapy 2.19 requires >= 1.2 for its
bounded ``process``) has neither method nor settable attributes, so reading the content of any br-encoded record
fails with ``AttributeError: 'brotli.Decompressor' object has no attribute 'unused_data'``: ``warcio check``
stops with a traceback, and a reader that decodes content loses every record from there on. No ``brotli``
release has brotlipy's interface, and brotlipy (the same module name) lacks the one Scrapy decodes with, so no
pin serves both: :func:`install` replaces warcio's entry with :class:`BrotliDecoder`. It runs when
``crawler.archive`` is imported, so every presswarc process that reads WARC files has it; the ``warcio`` command
itself gets it through ``python -m crawler.archive ARGS`` (warcio's own command line, unchanged).

zstd needs nothing: warcio has no zstd decoder and reads such content as it is stored, as it does for stacked
codings (``gzip, br``); ``warcio check`` verifies digests over the stored bytes either way.
"""

from __future__ import annotations

from warcio.bufferedreaders import BufferedReader

try:
    import brotli
except ImportError:  # PyPy: Scrapy uses brotlicffi, which has the same interface
    import brotlicffi as brotli  # type: ignore[no-redef]

# Output of one input block (warcio reads 16 KB at a time) beyond which a stream is a bomb: warcio stops decoding
# it (it catches the error) instead of holding gigabytes. An HTML page compresses about 10:1, not 4000:1.
MAX_BLOCK_OUTPUT = 64 * 1024 * 1024


class BrotliDecoder:
    """The zlib-like interface warcio's readers use (``decompress``, ``unused_data``, ``flush``) over brotli."""

    unused_data = None  # a br body is one stream: warcio never looks for a next member in it

    def __init__(self) -> None:
        self._decoder = brotli.Decompressor()

    def decompress(self, data: bytes) -> bytes:
        if self._decoder.is_finished():
            return b""  # bytes after the end of the stream are ignored, as zlib does
        out = self._decoder.process(data, output_buffer_limit=MAX_BLOCK_OUTPUT)
        if not self._decoder.is_finished() and self._decoder.process(b"", output_buffer_limit=1):
            raise ValueError(f"brotli block decodes to more than {MAX_BLOCK_OUTPUT} bytes: not decoded further")
        return out

    def flush(self) -> bytes:
        return b""


def install() -> None:
    """Make warcio decode ``Content-Encoding: br`` with :class:`BrotliDecoder` (idempotent)."""
    BufferedReader.DECOMPRESSORS["br"] = BrotliDecoder


install()
