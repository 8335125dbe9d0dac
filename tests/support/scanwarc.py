"""WARC collections as others make them, for scan-warc: many hosts, request/response pairs, metadata, revisits,
encoded payloads, and among them a few articles of one story on the topic's outlets.

Records are built as bytes (one gzip member each), not through warcio's writer, so the benchmark can make a
file of hundreds of megabytes in seconds; ``warcio check`` accepts them (their digests are real).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import random
import uuid
import zlib
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.sites import article_page

TOPIC = """name = "lavrov-scan"
query = 'Lavrov AND (Afghan* OR Taliban) AND NOT cricket'
since = 2021-07-10
until = 2021-07-20
languages = ["en"]

[[outlet]]
name = "Outlet A"
url = "https://www.outlet-a.test/"

[[outlet]]
name = "Outlet B"
url = "https://news.outlet-b.test/"
domains = ["outlet-b.test"]

[[outlet]]
name = "Outlet C"
url = "https://outlet-c.test/"
"""

_ADJ = "quiet busy northern coastal local regional rural ancient modern crowded sunny rainy windy famous".split()
_NOUN = ("council harbour museum bakery library orchestra railway bridge market garden stadium festival school "
         "hospital ferry vineyard theatre orchard").split()
_VERB = "opened renovated praised closed visited expanded celebrated reviewed welcomed described".split()
_PLACE = "Lyon Porto Gdansk Leeds Malmo Graz Turin Bergen Ghent Cork Lille Kaunas".split()
_DAY = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()


def sentence(rng: random.Random) -> str:
    """An English sentence that holds no query term; the combinations keep texts far from each other."""
    return (f"The {rng.choice(_ADJ)} {rng.choice(_NOUN)} {rng.choice(_VERB)} the {rng.choice(_ADJ)} "
            f"{rng.choice(_NOUN)} near {rng.choice(_PLACE)} on {rng.choice(_DAY)}, officials said {rng.randrange(999)}.")


def paragraphs(rng: random.Random, count: int, lead: str = "") -> list[str]:
    out = [" ".join(sentence(rng) for _ in range(4)) for _ in range(count)]
    if lead:
        out[0] = lead + " " + out[0]
    return out


def _digest(data: bytes) -> str:
    return "sha1:" + base64.b32encode(hashlib.sha1(data).digest()).decode("ascii")


def warc_record(rec_type: str, url: str, block: bytes, date: str, *, payload_start: int | None = None,
                extra: tuple[tuple[str, str], ...] = (), record_id: str | None = None) -> bytes:
    """One uncompressed WARC/1.1 record with real digests."""
    content_type = {"response": "application/http; msgtype=response", "request": "application/http; msgtype=request",
                    "revisit": "application/http; msgtype=response", "metadata": "application/warc-fields",
                    "warcinfo": "application/warc-fields"}[rec_type]
    lines = [f"WARC-Type: {rec_type}", f"WARC-Record-ID: {record_id or f'<urn:uuid:{uuid.uuid4()}>'}",
             f"WARC-Date: {date}"] + ([f"WARC-Target-URI: {url}"] if url else [])
    lines += [f"{k}: {v}" for k, v in extra]
    lines.append(f"WARC-Block-Digest: {_digest(block)}")
    if payload_start is not None and rec_type == "response":
        lines.append(f"WARC-Payload-Digest: {_digest(block[payload_start:])}")
    lines += [f"Content-Type: {content_type}", f"Content-Length: {len(block)}"]
    return ("WARC/1.1\r\n" + "\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + block + b"\r\n\r\n"


def http_response(body: bytes, status: str = "200 OK", content_type: str = "text/html; charset=utf-8",
                  encoding: str | None = None, chunked: bool = False) -> tuple[bytes, int]:
    """An HTTP response as a WARC response block holds it; returns (block, where the payload starts)."""
    headers = [f"HTTP/1.1 {status}", f"Content-Type: {content_type}"]
    if encoding == "gzip":
        body = gzip.compress(body, mtime=0)
        headers.append("Content-Encoding: gzip")
    if chunked:
        headers.append("Transfer-Encoding: chunked")
        body = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 700]), body[i:i + 700]) for i in range(0, len(body), 700))
        body += b"0\r\n\r\n"
    else:
        headers.append(f"Content-Length: {len(body)}")
    head = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1")
    return head + body, len(head)


def exchange(url: str, body: bytes, date: str, **http: object) -> bytes:
    """A request and its response record, one gzip member each (as crawlers write them)."""
    host = url.split("/")[2]
    path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
    request = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: somebot/1.0\r\n\r\n".encode("latin-1")
    block, start = http_response(body, **http)  # type: ignore[arg-type]
    response_id = f"<urn:uuid:{uuid.uuid4()}>"
    return (gzip.compress(warc_record("request", url, request, date, extra=(("WARC-Concurrent-To", response_id),)),
                          mtime=0, compresslevel=6)
            + gzip.compress(warc_record("response", url, block, date, payload_start=start, record_id=response_id),
                            mtime=0, compresslevel=6))


def warcinfo(name: str) -> bytes:
    return gzip.compress(warc_record("warcinfo", "", f"software: somebot/1.0\r\nfilename: {name}\r\n".encode(),
                                     "2021-07-17T00:00:00Z", extra=(("WARC-Filename", name),)), mtime=0)


@dataclass
class Collection:
    """What a generated collection holds: the URLs scan-warc must keep (on topic, in the window, on an outlet)."""

    expected: set[str] = field(default_factory=set)
    records: int = 0


def story(title: str, lead: str, rng: random.Random, published: str = "2021-07-16") -> bytes:
    return article_page(title, paragraphs(rng, 5, lead), published=published).encode("utf-8")


def write_collection(path: Path, rng: random.Random, *, filler_pairs: int, hosts: int = 200,
                     part: str = "a") -> Collection:
    """A gzipped WARC of ``filler_pairs`` request/response pairs spread over ``hosts`` hosts, metadata and
    revisit records, and the story's pages: kept ones (``part`` "a": outlets A and B, "b": outlet C) and traps."""
    found = Collection()
    date = "2021-07-17T08:00:00Z"
    members: list[bytes] = [warcinfo(path.name)]
    on_topic = "Lavrov said the Taliban now control much of Afghanistan."
    if part == "a":
        keep = {
            "https://www.outlet-a.test/world/2021/07/16/lavrov-taliban-talks": {},
            "http://outlet-a.test/news/lavrov-afghan-border": {},  # the www. twin, over http
            "https://news.outlet-b.test/2021/07/15/lavrov-kabul": {"encoding": "gzip"},
            "https://outlet-b.test/politics/lavrov-taliban-delegation": {"chunked": True},
        }
        traps = [  # on an outlet, prefiltered in, and still not kept by the normal machinery
            ("https://www.outlet-a.test/world/2021/05/02/lavrov-taliban-may",
             story("Lavrov meets Taliban envoys in May", on_topic, rng, "2021-05-02"), {}),  # out of the window
            ("https://news.outlet-b.test/sport/lavrov-cricket",
             story("Lavrov watches cricket", on_topic + " The cricket match went on.", rng), {}),  # NOT cricket
            ("https://www.outlet-a.test/europe/lavrov-berlin",
             story("Lavrov visits Berlin", "Lavrov spoke about gas prices in Berlin.", rng), {}),  # no Afghan*
            ("https://www.outlet-a.test/missing-lavrov-taliban",
             story("Not found", on_topic, rng), {"status": "404 Not Found"}),  # not a 2xx
        ]
    else:
        keep = {"https://outlet-c.test/2021/07/18/lavrov-afghanistan-envoy": {},
                "https://outlet-c.test/2021/07/19/taliban-lavrov-moscow": {"encoding": "gzip"}}
        traps = []
    for number, (url, http) in enumerate(keep.items()):
        title = f"Lavrov warns the Taliban, part {part}{number}"
        members.append(exchange(url, story(title, on_topic, rng), date, **http))
        found.expected.add(url)
    first = next(iter(keep))
    members.append(exchange(first, story("A later capture", on_topic, rng), "2021-07-19T08:00:00Z"))  # repeated
    members.append(gzip.compress(warc_record("revisit", first, b"HTTP/1.1 200 OK\r\n\r\n", "2021-07-20T08:00:00Z",
                                             extra=(("WARC-Profile", "http://netpreserve.org/warc/1.1/revisit/"
                                                     "identical-payload-digest"),)), mtime=0))
    for url, body, http in traps:
        members.append(exchange(url, body, date, **http))
    for number in range(20):  # the story on hosts that are no outlet of the topic, lookalikes included
        host = ("www.outlet-a.test.elsewhere.test", "notoutlet-a.test", f"www.other-news-{number}.test")[number % 3]
        members.append(exchange(f"https://{host}/lavrov-taliban-{number}", story("Lavrov and the Taliban", on_topic,
                                                                                  rng), date))
    for number in range(filler_pairs):
        host = f"www.site-{number % hosts}.test" if number % 50 else "www.outlet-a.test"  # a few off-topic pages
        url = f"https://{host}/section-{number % 7}/page-{number}"
        members.append(exchange(url, story(f"Local news {number}", "", rng), date))
        if number % 25 == 0:
            members.append(gzip.compress(warc_record("metadata", url, b"fetchTimeMs: 120\r\n", date), mtime=0))
    with open(path, "wb") as fh:
        for member in members:
            fh.write(member)
    found.records = sum(1 for _ in _members(path))
    return found


def _members(path: Path):
    """Each gzip member of a file (one record each here)."""
    data = path.read_bytes()
    while data:
        inflater = zlib.decompressobj(31)
        yield inflater.decompress(data)
        data = inflater.unused_data


def with_length(record: bytes, change: int) -> bytes:
    """A record (uncompressed bytes) whose Content-Length is moved by ``change``, its bytes as they were."""
    head, _, rest = record.partition(b"\r\n\r\n")
    declared = head.split(b"Content-Length: ", 1)[1].split(b"\r\n", 1)[0]
    return head.replace(b"Content-Length: " + declared, b"Content-Length: %d" % (int(declared) + change)) \
        + b"\r\n\r\n" + rest


def damaged_copy(source: Path, target: Path, lies: dict[str, int], gzipped: bool = True) -> None:
    """``source`` (a collection) rewritten with the response records of the URLs in ``lies`` declaring a
    Content-Length off by the given bytes; record per gzip member, or one plain ``.warc``."""
    with open(target, "wb") as fh:
        for record in _members(source):
            uri = record.split(b"WARC-Target-URI: ", 1)[1].split(b"\r\n", 1)[0].decode() \
                if b"WARC-Target-URI: " in record else ""
            if uri in lies and b"WARC-Type: response" in record:
                record = with_length(record, lies[uri])
            fh.write(gzip.compress(record, compresslevel=1, mtime=0) if gzipped else record)
