"""Builders of WARC files for replay tests: healthy ones through warcio's writer, hostile ones byte by byte."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
from io import BytesIO
from pathlib import Path
from typing import Any

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.support.crawl import REPO


def write_warc(path: Path, bodies: dict[str, bytes], gzip: bool = True,
               http_headers: dict[str, list[tuple[str, str]]] | None = None) -> list[int]:
    """Response records (HTTP 200, text/html unless ``http_headers`` says otherwise per URL), one gzip member
    each when ``gzip``; returns the record offsets."""
    offsets = []
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=gzip, warc_version="1.1")
        for url, body in bodies.items():
            offsets.append(fh.tell())
            headers = StatusAndHeaders("200 OK", (http_headers or {}).get(url, [("Content-Type", "text/html")]),
                                       protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(url, "response", payload=BytesIO(body),
                                                          length=len(body), http_headers=headers))
    return offsets


def raw_record(url: str, block: bytes, content_length: int | str | None = None) -> bytes:
    """An uncompressed response record with any block and any declared Content-Length (no digests)."""
    declared = len(block) if content_length is None else content_length
    return (f"WARC/1.1\r\nWARC-Type: response\r\nWARC-Target-URI: {url}\r\n"
            f"WARC-Record-ID: <urn:uuid:{os.urandom(16).hex()}>\r\nWARC-Date: 2021-07-16T00:00:00Z\r\n"
            f"Content-Type: application/http; msgtype=response\r\nContent-Length: {declared}\r\n\r\n"
            ).encode() + block + b"\r\n\r\n"


def gzip_member(data: bytes) -> bytes:
    return zlib.compress(data, wbits=31)


def zero_bomb_member(url: str, content_length: int) -> bytes:
    """One gzip member of a record declaring ``content_length`` bytes (an HTTP 200 and zeros), which inflates to
    all of them while taking about a thousandth on disk; built from one repeated deflate segment, so a 4 GB bomb
    takes seconds to write."""
    http = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n"
    head = raw_record(url, b"", content_length)[:-4] + http
    step = 1 << 20
    zeros = content_length - len(http)
    repeats, rest = divmod(zeros, step)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    first = deflate.compress(head + bytes(rest) + bytes(step)) + deflate.flush(zlib.Z_SYNC_FLUSH)
    segment = deflate.compress(bytes(step)) + deflate.flush(zlib.Z_SYNC_FLUSH)  # history: zeros only
    last = deflate.compress(b"\r\n\r\n") + deflate.flush(zlib.Z_FINISH)
    crc = zlib.crc32(head + bytes(rest))
    block = bytes(step)
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(b"\r\n\r\n", crc)
    total = len(head) + zeros + 4
    return (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + first + segment * (repeats - 1) + last
            + crc.to_bytes(4, "little") + (total & 0xFFFFFFFF).to_bytes(4, "little"))


def crawl_measured(archive: Path, settings: dict[str, Any], urls: list[str], *, memory_limit: int,
                   timeout: float = 120) -> tuple[int, str, int]:
    """A ``scrapy crawl urllist`` replay run as tests/support/crawl.py runs one; returns (exit status, stderr, peak RSS
    in bytes of the process, from wait4). The process gets an address-space limit, so a replay that does not
    bound its memory fails there instead of taking the machine with it."""
    import resource

    archive.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "scrapy", "crawl", "urllist", "-a", f"urls={','.join(urls)}",
            "-a", "topic_name=input", "-s", f"ARCHIVE_DIR={archive}",
            "-s", "SPIDER_MODULES=crawler.spiders,tests.spiders", "-s", "LOG_LEVEL=INFO"]
    for key, value in settings.items():
        args += ["-s", f"{key}={value}"]
    env = {k: v for k, v in os.environ.items() if k.lower() not in ("http_proxy", "https_proxy")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["SCRAPY_SETTINGS_MODULE"] = "crawler.settings"

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory_limit, memory_limit))

    stderr_path = archive / "stderr.log"
    with open(stderr_path, "wb") as err:
        process = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=err,
                                   preexec_fn=limit)
        try:
            _, status, usage = _wait4(process.pid, timeout)
        finally:
            if process.poll() is None:
                process.kill()
        process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, stderr_path.read_text(errors="replace"), usage.ru_maxrss * 1024


def _wait4(pid: int, timeout: float):
    import time

    deadline = time.monotonic() + timeout
    while True:
        found, status, usage = os.wait4(pid, os.WNOHANG)
        if found:
            return found, status, usage
        if time.monotonic() > deadline:
            raise TimeoutError(f"process {pid} still running after {timeout} s")
        time.sleep(0.1)
