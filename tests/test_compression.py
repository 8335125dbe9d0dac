"""Compressed bodies cut short, in every content-coding Scrapy decodes, alone and stacked: the real codecs on
their own (the crawls that flag such responses are in test_truncated.py)."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest

from crawler.compression import complete_stream, decoded_codings
from tests.support.sites import CODINGS, Reply, article_page

PAGE = article_page("Lavrov on Afghanistan", [f"Paragraph {n}: Lavrov spoke of Afghanistan and the Taliban, "
                                              f"of Kabul and of the border ({n * 7919})." for n in range(400)],
                    published="2021-07-16").encode()


def encoded(coding: str, body: bytes = PAGE) -> bytes:
    return Reply(body=body, encoding=coding).encoded()


@pytest.mark.parametrize("coding", CODINGS)
def test_whole_streams_are_complete_and_cut_ones_are_not(coding):
    """Each layer must reach its end-of-stream marker; a cut anywhere (the last bytes, the middle, the header)
    leaves one short. Before, only a single gzip or deflate layer was checked."""
    body = encoded(coding)
    codings = decoded_codings([coding.encode()])
    assert complete_stream(body, codings)
    for cut in (len(body) - 1, len(body) - 6, len(body) // 2, 12):
        assert not complete_stream(body[:cut], codings), cut


def test_inner_layer_cut_inside_a_whole_outer_one():
    """gzip inside gzip: the outer stream is whole, the one it carries was cut before it was compressed again."""
    body = gzip.compress(gzip.compress(PAGE)[:-10])
    assert not complete_stream(body, ["gzip", "gzip"])
    assert complete_stream(body, ["gzip"])  # what the old single-layer check saw


def test_concatenated_gzip_members_and_zstd_frames():
    """Python's gzip (and Scrapy) read every member; each must be whole. Trailing zero padding is allowed."""
    two = gzip.compress(PAGE) + gzip.compress(PAGE)
    assert complete_stream(two, ["gzip"]) and complete_stream(two + b"\0\0", ["gzip"])
    assert not complete_stream(two[:-4], ["gzip"])
    frames = encoded("zstd") * 2
    assert complete_stream(frames, ["zstd"]) and not complete_stream(frames[:-3], ["zstd"])


def test_raw_deflate_without_zlib_header():
    import zlib

    packer = zlib.compressobj(wbits=-15)
    raw = packer.compress(PAGE) + packer.flush()
    assert complete_stream(raw, ["deflate"]) and not complete_stream(raw[:-5], ["deflate"])


def test_codings_scrapy_undoes():
    assert decoded_codings([b"gzip, br"]) == ["gzip", "br"]
    assert decoded_codings([b"gzip", b"BR"]) == ["gzip", "br"]
    assert decoded_codings([b"compress, gzip"]) == ["gzip"]  # Scrapy stops at the first it cannot undo
    assert decoded_codings([b"identity"]) == []


@pytest.mark.parametrize("coding", ["gzip", "br", "zstd", "gzip, br", "deflate"])
def test_bomb_is_complete_and_checked_in_bounded_memory(coding):
    """A body decoding to 300 MB (far past DOWNLOAD_MAXSIZE) is whole-but-oversize, even cut: Scrapy refuses it
    for its size. Without a limit the whole stream is decoded, and memory still stays at a few pieces."""
    bomb = encoded(coding, b"\0" * 300_000_000)
    codings = decoded_codings([coding.encode()])
    assert complete_stream(bomb, codings, 16 << 20) and complete_stream(bomb[:-4], codings, 16 << 20)
    tracemalloc.start()
    try:
        assert complete_stream(bomb, codings, 0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < len(bomb) + 4 * 1024 * 1024, peak
