"""Shared pieces of the benchmarks: the dev pages, process-tree memory sampling, a WARC builder."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from io import BytesIO
from pathlib import Path

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "bench" / ".cache"
DEV_PAGES = Path(os.environ.get("DEV_PAGES", REPO.parent / "shared" / "dev-pages"))


def dev_pages(directory: Path = DEV_PAGES) -> list[tuple[str, bytes]]:
    """(id, html bytes) of the development pages, in a stable order."""
    truth = directory / "truth.jsonl"
    ids = [json.loads(line)["id"] for line in truth.read_text().splitlines() if line.strip()]
    return [(page_id, (directory / f"{page_id}.html").read_bytes()) for page_id in ids]


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            if int(fields[1]) == pid:
                found.append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    return found


def tree_rss(pid: int) -> int:
    """Resident memory in bytes of a process and all its descendants."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            with open(f"/proc/{current}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
        except OSError:
            continue
        stack.extend(_children(current))
    return total


class PeakRss:
    """Samples the memory of a process tree in a thread; ``peak`` is the largest sum seen."""

    def __init__(self, pid: int, interval: float = 0.2) -> None:
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(args: list[str], env: dict[str, str] | None = None) -> tuple[float, int, subprocess.CompletedProcess]:
    """Run a command; return its wall time, the peak RSS of its process tree, and the result."""
    full_env = dict(os.environ, PYTHONPATH=str(REPO), SCRAPY_SETTINGS_MODULE="crawler.settings", **(env or {}))
    started = time.perf_counter()
    process = subprocess.Popen(args, cwd=REPO, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    with PeakRss(process.pid) as rss:
        out, err = process.communicate()
    elapsed = time.perf_counter() - started
    result = subprocess.CompletedProcess(args, process.returncode, out, err)
    if process.returncode != 0:
        sys.stderr.write(err[-4000:])
        raise SystemExit(f"command failed: {' '.join(args)}")
    return elapsed, rss.peak, result


class ExchangeWriter:
    """Writes request/response pairs as a live crawl's recorder would, for synthetic benchmark archives."""

    def __init__(self, fh) -> None:
        self.writer = WARCWriter(fh, gzip=True, warc_version="1.1")

    def exchange(self, url: str, body: bytes, content_type: str = "text/html; charset=utf-8",
                 status: str = "200 OK") -> None:
        http = StatusAndHeaders(status, [("Content-Type", content_type), ("Content-Length", str(len(body)))],
                                protocol="HTTP/1.1")
        response = self.writer.create_warc_record(url, "response", payload=BytesIO(body), length=len(body),
                                                  http_headers=http)
        host = url.split("/")[2]
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        request_http = StatusAndHeaders(f"GET {path} HTTP/1.1", [("Host", host)], is_http_request=True)
        request = self.writer.create_warc_record(
            url, "request", payload=BytesIO(b""), length=0, http_headers=request_http,
            warc_headers_dict={"WARC-Concurrent-To": response.rec_headers.get_header("WARC-Record-ID")})
        self.writer.write_record(request)
        self.writer.write_record(response)
