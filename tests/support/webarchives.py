"""Stand-ins for the public web archives, on 127.0.0.1: a small 2021 story captured in WARC files, a real pywb
serving them (the Wayback Machine's raw ``id_`` replay), a front answering in the Internet Archive's CDX dialect,
a range-capable static server (206, ``Content-Range``, 416) holding Common Crawl-like WARC files, and an index
in front of it answering like Common Crawl's (``collinfo.json`` with ``from``/``to``, pywb's JSON lines, 404
``No Captures found`` when empty). Each can be told to misbehave (429 with ``Retry-After``, 5xx, a malformed
line, a range cut short), and each logs what it was asked.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO
from pathlib import Path
from typing import Callable
from urllib.parse import parse_qs, urlencode, urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from tests.support.crawl import REPO
from tests.support.network import free_port
from tests.support.sites import article_page

ON_TOPIC = ["Russian Foreign Minister Sergei Lavrov said the Taliban controlled most of the border with Tajikistan.",
            "He spoke in Tashkent, where regional leaders discussed Afghanistan after the American withdrawal."]
OFF_TOPIC = ["The city council approved a new budget for road repairs on Tuesday evening.",
             "Local schools will reopen after the summer holidays with new timetables."]
Answer = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class Page:
    """One capture: the original URL, when it was captured (14 digits), and what the outlet answered."""

    url: str
    timestamp: str
    body: bytes
    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "text/html; charset=utf-8"),)
    gzip: bool = False  # the outlet sent it gzip-encoded (Content-Encoding: gzip)


def article(title: str, on_topic: bool, published: str) -> bytes:
    words = [f"{title}: a report of its own."] + (ON_TOPIC if on_topic else OFF_TOPIC)
    return article_page(title, words, published=published).encode("utf-8")


def iso(timestamp: str) -> str:
    t = timestamp
    return f"{t[:4]}-{t[4:6]}-{t[6:8]}T{t[8:10]}:{t[10:12]}:{t[12:14]}Z"


def write_warc(path: Path, pages: list[Page]) -> list[dict]:
    """A WARC file of response records (one gzip member each); returns its index lines (pywb's JSON fields)."""
    with open(path, "wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        for page in pages:
            body = gzip.compress(page.body, mtime=0) if page.gzip else page.body
            headers = list(page.headers) + ([("Content-Encoding", "gzip")] if page.gzip else [])
            headers.append(("Content-Length", str(len(body))))
            http = StatusAndHeaders(f"{page.status} {'OK' if page.status == 200 else 'Moved Permanently'}", headers,
                                    protocol="HTTP/1.1")
            record = writer.create_warc_record(page.url, "response", payload=BytesIO(body), length=len(body),
                                               http_headers=http, warc_headers_dict={"WARC-Date": iso(page.timestamp)})
            writer.write_record(record)
    lines = []
    with open(path, "rb") as fh:
        iterator = ArchiveIterator(fh)
        for record in iterator:
            url = record.rec_headers.get_header("WARC-Target-URI")
            status = record.http_headers.get_statuscode()
            mime = (record.http_headers.get_header("Content-Type") or "").split(";")[0]
            location = record.http_headers.get_header("Location")
            stamp = re.sub(r"\D", "", record.rec_headers.get_header("WARC-Date"))[:14]
            record.content_stream().read()
            entry = {"urlkey": urlkey(url), "timestamp": stamp, "url": url, "mime": mime or "unk", "status": status,
                     "digest": "X", "length": str(iterator.get_record_length()),
                     "offset": str(iterator.get_record_offset()), "filename": path.name}
            if location:
                entry["redirect"] = location
            lines.append(entry)
    return lines


def urlkey(url: str) -> str:
    rest = url.split("://", 1)[1]
    host, _, path = rest.partition("/")
    parts = host.lower().removeprefix("www.").split(".")
    return ",".join(reversed(parts)) + ")/" + path.lower()


# -- a small HTTP server answering through a function --

class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args) -> None:  # noqa: A002
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.server.log.append((self.path, dict(self.headers.items())))
        status, headers, body = self.server.answer(self.path, dict(self.headers.items()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if not any(name.lower() == "content-length" for name, _ in headers):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class FunctionServer:
    """An HTTP server on 127.0.0.1 whose answers come from ``answer(path, headers)``; ``log`` holds each path."""

    def __init__(self, answer: Callable[[str, dict], Answer]) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.server.answer = answer
        self.server.log = []
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def log(self) -> list[tuple[str, dict]]:
        return self.server.log

    def __enter__(self) -> "FunctionServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Faults:
    """Misbehaviour of a stand-in: the first ``rate_limited`` answers are 429 with Retry-After: 1, then
    ``server_errors`` answers 503; ``malformed`` adds an unreadable line to each CDX answer; ``cut`` sends only
    that many bytes of each range."""

    rate_limited: int = 0
    server_errors: int = 0
    malformed: bool = False
    cut: int | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fault(self) -> Answer | None:
        with self.lock:
            if self.rate_limited > 0:
                self.rate_limited -= 1
                return 429, [("Retry-After", "1")], b"slow down"
            if self.server_errors > 0:
                self.server_errors -= 1
                return 503, [], b"unavailable"
        return None


def _matches(entry: dict, query: dict[str, str]) -> bool:
    host = query["url"].split("://")[-1].split("/")[0].lower().removeprefix("www.")
    entry_host = entry["url"].split("://")[1].split("/")[0].lower().removeprefix("www.")
    if query.get("matchType") == "exact":
        if entry["url"].split("://")[1].lower().removeprefix("www.") != query["url"].split("://")[-1].lower() \
                .removeprefix("www."):
            return False
    elif not (entry_host == host or entry_host.endswith("." + host)):
        return False
    return query.get("from", "0")[:14] <= entry["timestamp"] <= query.get("to", "9" * 14).ljust(14, "9")


def ia_front(pywb_cdx: str, faults: Faults | None = None) -> FunctionServer:
    """The Internet Archive's CDX dialect in front of pywb's CDX server: one JSON array of arrays with a header
    row (``[]`` when empty), ``filter`` a full-match regex, ``collapse=urlkey``, ``showNumPages`` a bare number."""
    faults = faults or Faults()

    def answer(path: str, headers: dict) -> Answer:
        fault = faults.fault()
        if fault:
            return fault
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        filters = parse_qs(urlsplit(path).query).get("filter", [])
        if query.get("showNumPages") == "true":
            return 200, [("Content-Type", "text/plain")], b"1\n"
        asked = {"url": query["url"], "matchType": query.get("matchType", "exact"), "output": "json"}
        with urllib.request.urlopen(f"{pywb_cdx}?{urlencode(asked)}", timeout=30) as reply:
            lines = [json.loads(line) for line in reply.read().decode().splitlines() if line.strip()]
        fields = query.get("fl", "urlkey,timestamp,original,mimetype,statuscode,digest,length").split(",")
        names = {"original": "url", "mimetype": "mime", "statuscode": "status"}
        rows, keys = [], set()
        for entry in lines:
            if not _matches(entry, query):
                continue
            row = {name: str(entry.get(names.get(name, name), "-")) for name in fields}
            if not all(re.fullmatch(f.split(":", 1)[1], row.get(f.split(":", 1)[0], "")) for f in filters):
                continue
            if query.get("collapse") == "urlkey":
                if row.get("urlkey") in keys:
                    continue
                keys.add(row.get("urlkey"))
            rows.append([row[name] for name in fields])
        body = json.dumps([fields] + rows if rows else []).encode()
        if faults.malformed and rows:
            body = body[:-1] + b', ["broken row"]]'
        return 200, [("Content-Type", "application/json")], body

    return FunctionServer(answer)


def range_server(directory: Path, faults: Faults | None = None) -> FunctionServer:
    """Files of ``directory`` with byte ranges: 206 and Content-Range, 416 past the end."""
    faults = faults or Faults()

    def answer(path: str, headers: dict) -> Answer:
        fault = faults.fault()
        if fault:
            return fault
        file = directory / urlsplit(path).path.lstrip("/")
        if not file.is_file():
            return 404, [], b"not found"
        data = file.read_bytes()
        wanted = re.fullmatch(r"bytes=(\d+)-(\d+)", headers.get("Range", ""))
        if not wanted:
            return 200, [("Content-Type", "application/octet-stream")], data
        start, end = int(wanted.group(1)), int(wanted.group(2))
        if start >= len(data):
            return 416, [("Content-Range", f"bytes */{len(data)}")], b""
        part = data[start:end + 1]
        if faults.cut is not None:
            part = part[:faults.cut]
        return 206, [("Content-Type", "application/octet-stream"),
                     ("Content-Range", f"bytes {start}-{start + len(part) - 1}/{len(data)}")], part

    return FunctionServer(answer)


def cc_index(collections: dict[str, tuple[str, str, list[dict]]], faults: Faults | None = None,
             page_size: int = 1) -> FunctionServer:
    """Common Crawl's index server: ``/collinfo.json`` (id, cdx-api, from, to) and ``/<id>-index`` in pywb's
    dialect (JSON lines; ``~`` filters anchored regexes, others substrings; collapse ignored), 404
    ``No Captures found`` when nothing matches; answers in pages of ``page_size`` captures (by URL key), the first
    one when no ``page`` is asked for, their number for ``showNumPages=true``."""
    faults = faults or Faults()
    holder: dict[str, str] = {}

    def answer(path: str, headers: dict) -> Answer:
        parts = urlsplit(path)
        if parts.path == "/collinfo.json":
            info = [{"id": cid, "name": cid, "cdx-api": f"{holder['origin']}/{cid}-index", "from": start, "to": end}
                    for cid, (start, end, _) in collections.items()]
            return 200, [("Content-Type", "application/json")], json.dumps(info).encode()
        fault = faults.fault()
        if fault:
            return fault
        cid = parts.path.strip("/").removesuffix("-index")
        if cid not in collections:
            return 404, [], b"no such collection"
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        filters = parse_qs(parts.query).get("filter", [])
        lines = []
        matching = sorted((e for e in collections[cid][2] if _matches(e, query)), key=lambda e: e["urlkey"])
        if query.get("showNumPages") == "true":
            pages = -(-len(matching) // page_size)
            return 200, [("Content-Type", "application/json")], json.dumps(
                {"pages": pages, "pageSize": page_size, "blocks": pages}).encode() + b"\n"
        page = int(query.get("page", "0"))
        for entry in matching[page * page_size:(page + 1) * page_size]:
            if not _matches(entry, query):
                continue
            ok = True
            for f in filters:
                field_, _, value = f.lstrip("~=!").partition(":")
                actual = str(entry.get(field_, ""))
                ok &= bool(re.match(value, actual)) if f.startswith("~") else value in actual
            if ok:
                lines.append(json.dumps(entry))
        if not lines:
            return 404, [("Content-Type", "text/plain")], b"No Captures found for: " + query["url"].encode()
        if faults.malformed:
            lines.insert(1, '{"urlkey": "broken')
        return 200, [("Content-Type", "text/x-ndjson")], ("\n".join(lines) + "\n").encode()

    server = FunctionServer(answer)
    holder["origin"] = server.origin
    return server


# -- a real pywb --

def pywb_venv() -> Path:
    """pywb in its own virtualenv ($PYWB_VENV, else .pywb-venv): its pins clash with ours."""
    venv = Path(os.environ.get("PYWB_VENV") or REPO / ".pywb-venv")
    if not (venv / "bin" / "wayback").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "pywb"], check=True, timeout=900)
    return venv


class Pywb:
    """``wayback`` serving one collection (``news``) built from WARC files: ``/news/cdx`` and ``/news/<ts>id_/``."""

    def __init__(self, directory: Path, warcs: list[Path]) -> None:
        self.directory, self.warcs = directory, warcs
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    @property
    def replay(self) -> str:
        return f"http://127.0.0.1:{self.port}/news/"

    @property
    def cdx(self) -> str:
        return f"http://127.0.0.1:{self.port}/news/cdx"

    def __enter__(self) -> "Pywb":
        venv = pywb_venv()
        self.directory.mkdir(parents=True, exist_ok=True)
        subprocess.run([str(venv / "bin" / "wb-manager"), "init", "news"], cwd=self.directory, check=True,
                       capture_output=True)
        for warc in self.warcs:
            subprocess.run([str(venv / "bin" / "wb-manager"), "add", "news", str(warc)], cwd=self.directory,
                           check=True, capture_output=True)
        self.process = subprocess.Popen([str(venv / "bin" / "wayback"), "--port", str(self.port), "--bind",
                                         "127.0.0.1"], cwd=self.directory, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(f"{self.cdx}?url=example.org", timeout=5):
                    return self
            except urllib.error.HTTPError:  # answering: an empty index may say 404
                return self
            except OSError:
                time.sleep(0.3)
        self.__exit__()
        raise RuntimeError("pywb did not start")

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=30)
