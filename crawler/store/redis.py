"""The topic's store in Redis, shared by every worker of a distributed crawl (``-s CLUSTER_REDIS_URL=redis://...``).

The same questions as ``crawler.store.sqlite`` (see ``crawler.store.base.TopicStore``), kept in Redis so workers
never fetch an article twice, never write two files for one article and never reuse a number: fetched URLs and
outcomes, feed validators, archived payload digests, text files claimed per canonical URL, MinHash signatures,
the file-number counter via ``INCR``, site memory. Keys are named ``presswarc:<topic>:...`` (:func:`key`), so
the scheduler and the worker registry of ``crawler.cluster`` share the naming.
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from typing import Any, Iterable, Iterator, Mapping

import redis

from crawler.contracts import Kind, Outcome
from crawler.store.base import (SETTLED_KINDS, UNSETTLING_OUTCOMES, FrontierEntry, OutcomeRecord, PayloadRef,
                                TrackedArticle, tracked_data, tracked_from)
from crawler.store.redisclient import connect

_RAISE_COUNTER = """
local current = tonumber(redis.call('GET', KEYS[1]) or '0')
if current < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 1
"""



_ADD_TO_FRONTIER = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) return 1 end
local row, new = cjson.decode(old), cjson.decode(ARGV[2])
for _, field in ipairs({6, 7, 8}) do
  if row[field] == cjson.null then row[field] = new[field] end
end
if new[9] > row[9] then row[9] = new[9] end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(row))
return 0
"""
"""Add one frontier row ``[number, *FrontierEntry.row()]``; a row already there keeps its number (its place) and
its fields, takes the title, published and lastmod it lacked and the higher priority (as SQLite's upsert)."""


_CLAIM_CHECK = """
if tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0') ~= tonumber(ARGV[2]) then return 0 end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""
"""Move a tracked article's checks from ARGV[2] to ARGV[3] when they are still ARGV[2] (compare and set)."""


def key(topic: str, *parts: str) -> str:
    return ":".join(("presswarc", topic, *parts))


LISTINGS_IN_FLIGHT = "listings"  # the key of the outlets' discovery requests in flight (a new crawl clears it)


class RedisStore:
    """The topic store of ``crawler.store.sqlite.SqliteStore``, kept in Redis so every worker shares it."""

    def __init__(self, url: str, topic: str, retry_seconds: float = 60.0) -> None:
        self.redis = connect(url, retry_seconds)
        self.topic = topic
        self._raise_counter = self.redis.register_script(_RAISE_COUNTER)
        self._add_to_frontier = self.redis.register_script(_ADD_TO_FRONTIER)
        self._claim_check = self.redis.register_script(_CLAIM_CHECK)

    def _key(self, *parts: str) -> str:
        return key(self.topic, *parts)

    def close(self) -> None:
        self.redis.close()

    # -- archived payloads (revisit records) --
    def find_payload(self, url: str, digest: str) -> PayloadRef | None:
        raw = self.redis.hget(self._key("payloads"), f"{digest} {url}")
        return PayloadRef(*json.loads(raw)) if raw else None

    def add_payload(self, ref: PayloadRef) -> None:
        self.redis.hsetnx(self._key("payloads"), f"{ref.digest} {ref.url}",
                          json.dumps([ref.url, ref.digest, ref.record_id, ref.warc_date, ref.warc_file]))

    # -- fetched URLs and their outcomes --
    def record_outcome(self, url: str, *, kind: str, outlet: str, outcome: str, final_url: str | None = None,
                       status: int | None = None, warc_file: str | None = None, record_id: str | None = None,
                       fetched_at: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        previous = self.redis.hget(self._key("fetched"), url)
        attempts = json.loads(previous)["attempts"] + 1 if previous else 1
        self.redis.hset(self._key("fetched"), url, json.dumps({
            "final_url": final_url, "kind": kind, "outlet": outlet, "outcome": outcome, "status": status,
            "warc_file": warc_file, "record_id": record_id, "fetched_at": fetched_at, "attempts": attempts,
            "detail": dict(detail) if detail else None}, ensure_ascii=False))
        if kind in SETTLED_KINDS and outcome not in UNSETTLING_OUTCOMES:
            self.redis.hdel(self._key("frontier"), url)

    def outcome_of(self, url: str) -> tuple[str, int, int | None, str | None] | None:
        raw = self.redis.hget(self._key("fetched"), url)
        if not raw:
            return None
        row = json.loads(raw)
        return row["outcome"], row["attempts"], row["status"], row["fetched_at"]

    def _outcomes(self) -> Iterator[tuple[str, dict]]:
        for url, raw in self.redis.hscan_iter(self._key("fetched")):
            yield url.decode(), json.loads(raw)

    def outcome_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for _url, row in self._outcomes():
            if row["kind"] == Kind.ARTICLE:
                per_outlet = counts.setdefault(row["outlet"] or "", {})
                per_outlet[row["outcome"]] = per_outlet.get(row["outcome"], 0) + 1
        return counts

    def outcome_records(self, kind: str = Kind.ARTICLE) -> list[OutcomeRecord]:
        records = [OutcomeRecord(url, row["kind"], row["outlet"] or "", row["outcome"], row["status"],
                                 row["final_url"], row["fetched_at"], row["attempts"], row.get("detail") or {})
                   for url, row in self._outcomes() if row["kind"] == kind]
        return sorted(records, key=lambda record: (record.outlet, record.url))

    def kept_urls(self) -> list[str]:
        return [url for url, row in self._outcomes() if row["outcome"] == Outcome.KEPT]

    def forget_outcome(self, url: str) -> None:
        self.redis.hdel(self._key("fetched"), url)

    def validators(self, url: str, scope: str | None = None) -> tuple[str | None, str | None]:
        raw = self.redis.hget(self._key("validators"), url)
        if not raw:
            return (None, None)
        etag, last_modified, *stored = json.loads(raw)
        if scope is not None and (stored[0] if stored else None) != scope:
            return (None, None)
        return (etag, last_modified)

    def save_validators(self, url: str, etag: str | None, last_modified: str | None, scope: str | None = None) -> None:
        self.redis.hset(self._key("validators"), url, json.dumps([etag, last_modified, scope]))

    # -- the frontier (see crawler.store.base.FrontierEntry) --
    def settle_discovery(self, page_url: str | None, entries: Iterable[FrontierEntry], etag: str | None = None,
                         last_modified: str | None = None, scope: str | None = None) -> None:
        """One MULTI/EXEC: what the page listed, then its validators, then the page itself marked done."""
        entries = list(entries)
        first = int(self.redis.incrby(self._key("frontier_seq"), len(entries) or 1)) - len(entries)
        pipe = self.redis.pipeline(transaction=True)
        for number, entry in enumerate(entries, first):
            self._add_to_frontier(keys=[self._key("frontier")], args=[entry.url, json.dumps([number, *entry.row()])],
                                  client=pipe)
        if page_url is not None:
            if etag or last_modified:
                pipe.hset(self._key("validators"), page_url, json.dumps([etag, last_modified, scope]))
            pipe.hdel(self._key("frontier"), page_url)
        pipe.execute()

    def pending(self) -> list[FrontierEntry]:
        rows = sorted(json.loads(raw) for raw in self.redis.hvals(self._key("frontier")))
        entries = [FrontierEntry(*row[1:]) for row in rows]
        return [e for e in entries if e.kind != Kind.ARTICLE] + [e for e in entries if e.kind == Kind.ARTICLE]

    def drop_pending(self, url: str) -> None:
        self.redis.hdel(self._key("frontier"), url)

    def add_listings_in_flight(self, outlet: str, delta: int) -> None:
        self.redis.hincrby(self._key(LISTINGS_IN_FLIGHT), outlet, delta)

    def listings_in_flight(self, outlets: Iterable[str]) -> dict[str, int]:
        outlets = list(outlets)
        if not outlets:
            return {}
        values = self.redis.hmget(self._key(LISTINGS_IN_FLIGHT), outlets)
        return {outlet: int(value or 0) for outlet, value in zip(outlets, values)}

    # -- redirects --
    def save_redirect(self, url: str, target: str, status: int) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key("redirects"), url, target)
        pipe.sadd(self._key("redirected_to", target), url)
        pipe.execute()

    def redirect_sources(self, target: str) -> list[str]:
        return sorted(m.decode() for m in self.redis.smembers(self._key("redirected_to", target)))

    def redirect_of(self, url: str) -> str | None:
        raw = self.redis.hget(self._key("redirects"), url)
        return raw.decode() if raw else None

    # -- counters --
    def next_value(self, name: str) -> int:
        return int(self.redis.incr(self._key("counter", name))) - 1

    def set_counter(self, name: str, value: int) -> None:
        self.ensure_counter_at_least(name, value)  # shared: never lowered

    def ensure_counter_at_least(self, name: str, value: int) -> None:
        self._raise_counter(keys=[self._key("counter", name)], args=[value])

    # -- text files --
    def file_for_url(self, canonical_url: str) -> str | None:
        raw = self.redis.hget(self._key("files"), canonical_url)
        return json.loads(raw)[0] if raw else None

    def file_for_text(self, outlet: str, text_sha256: str) -> str | None:
        raw = self.redis.hget(self._key("files_by_text"), f"{outlet} {text_sha256}")
        return raw.decode() if raw else None

    def add_file(self, canonical_url: str, file: str, text_sha256: str, outlet: str) -> bool:
        claimed = bool(self.redis.hsetnx(self._key("files"), canonical_url, json.dumps([file, text_sha256, outlet])))
        if claimed:
            self.redis.hsetnx(self._key("files_by_text"), f"{outlet} {text_sha256}", file)
        return claimed

    def forget_file(self, canonical_url: str, file: str) -> None:
        raw = self.redis.hget(self._key("files"), canonical_url)
        if raw and json.loads(raw)[0] == file:
            _file, text_sha256, outlet = json.loads(raw)
            self.redis.hdel(self._key("files"), canonical_url)
            by_text = f"{outlet} {text_sha256}"
            if self.redis.hget(self._key("files_by_text"), by_text) == file.encode():
                self.redis.hdel(self._key("files_by_text"), by_text)

    def claimed_files(self) -> list[tuple[str, str]]:
        return [(url.decode(), json.loads(raw)[0]) for url, raw in self.redis.hscan_iter(self._key("files"))]

    # -- near-duplicate signatures --
    def signatures(self, skip: int = 0) -> list[tuple[str, str, bytes]]:
        rows = []
        for raw in self.redis.lrange(self._key("signatures"), skip, -1):
            file, outlet, blob = raw.split(b"\x00", 2)
            rows.append((file.decode(), outlet.decode(), blob))
        return rows

    def add_signature(self, file: str, outlet: str, hashvalues: bytes) -> None:
        self.redis.rpush(self._key("signatures"), file.encode() + b"\x00" + outlet.encode() + b"\x00" + hashvalues)

    # -- site memory --
    def site_memory(self) -> dict[str, list[str]]:
        learned = {}
        for outlet in sorted(m.decode() for m in self.redis.smembers(self._key("memory_outlets"))):
            learned[outlet] = sorted(k.decode() for k in self.redis.smembers(self._key("memory", outlet)))
        return learned

    def save_site_memory(self, learned: dict[str, list[str]]) -> None:
        for outlet, keys in learned.items():
            if keys:
                self.redis.sadd(self._key("memory_outlets"), outlet)
                self.redis.sadd(self._key("memory", outlet), *keys)

    # -- versions of kept articles: the hash "tracked" (JSON per URL) and "tracked_checks" beside it --
    def track(self, article: TrackedArticle) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key("tracked"), article.url, tracked_data(article))
        pipe.hsetnx(self._key("tracked_checks"), article.url, article.checks)
        pipe.execute()

    def tracked(self, url: str) -> TrackedArticle | None:
        data = self.redis.hget(self._key("tracked"), url)
        return tracked_from(data, self.redis.hget(self._key("tracked_checks"), url)) if data else None

    def tracked_articles(self) -> list[TrackedArticle]:
        checks = {url.decode(): value for url, value in self.redis.hgetall(self._key("tracked_checks")).items()}
        rows = [tracked_from(data, checks.get(url.decode())) for url, data in self.redis.hscan_iter(self._key("tracked"))]
        return sorted(rows, key=lambda article: article.url)

    def claim_check(self, url: str, seen: int, checks: int) -> bool:
        return bool(self._claim_check(keys=[self._key("tracked_checks"), self._key("tracked")], args=[url, seen, checks]))

    # -- one article's writes (pipelines.textfiles) --
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """No transaction spans Redis and the files: the text-files pipeline undoes a failed article's claim
        itself, and a number taken by a failed write or a dead worker is not given back (INCR is shared)."""
        yield

    def take_value(self, name: str) -> int:
        return self.next_value(name)
