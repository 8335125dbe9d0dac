"""The topic's store in SQLite: ARCHIVE_DIR/<topic>/state.sqlite (WAL mode), for a crawl by one process.

The only module that knows the tables: everyone else asks the questions of ``crawler.store.base.TopicStore``.
sqlite3 from the standard library is all it needs; the database is a cache of facts the archive also holds.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from crawler.contracts import Kind, Outcome
from crawler.store.base import (SETTLED_KINDS, UNSETTLING_OUTCOMES, FrontierEntry, OutcomeRecord, PayloadRef,
                                TrackedArticle, tracked_data, tracked_from)

SCHEMA = """
CREATE TABLE IF NOT EXISTS payloads (
    url TEXT NOT NULL, digest TEXT NOT NULL, record_id TEXT NOT NULL, warc_date TEXT NOT NULL,
    warc_file TEXT NOT NULL, PRIMARY KEY (url, digest));
CREATE TABLE IF NOT EXISTS fetched (
    url TEXT PRIMARY KEY, final_url TEXT, kind TEXT, outlet TEXT, outcome TEXT, status INTEGER,
    warc_file TEXT, record_id TEXT, fetched_at TEXT, attempts INTEGER NOT NULL DEFAULT 0,
    etag TEXT, last_modified TEXT);
CREATE TABLE IF NOT EXISTS files (
    canonical_url TEXT PRIMARY KEY, file TEXT NOT NULL UNIQUE, text_sha256 TEXT NOT NULL, outlet TEXT);
CREATE INDEX IF NOT EXISTS files_sha ON files (outlet, text_sha256);
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS signatures (file TEXT PRIMARY KEY, outlet TEXT, hashvalues BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS site_memory (outlet TEXT NOT NULL, key TEXT NOT NULL, PRIMARY KEY (outlet, key));
CREATE TABLE IF NOT EXISTS frontier (
    url TEXT PRIMARY KEY, outlet TEXT NOT NULL, kind TEXT NOT NULL, via TEXT, title TEXT, published TEXT,
    lastmod TEXT, priority INTEGER NOT NULL DEFAULT 0, found_on TEXT, extra TEXT);
CREATE TABLE IF NOT EXISTS redirects (url TEXT PRIMARY KEY, target TEXT NOT NULL, status INTEGER);
CREATE INDEX IF NOT EXISTS redirects_target ON redirects (target);
CREATE TABLE IF NOT EXISTS tracked (url TEXT PRIMARY KEY, data TEXT NOT NULL, checks INTEGER NOT NULL DEFAULT 0);
"""


class SqliteStore:
    """A topic's SQLite store; safe to share between the reactor thread and helper threads."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        """``read_only`` opens an existing database for reading alone (``scrapy report`` while a crawl may be
        writing it): nothing is created or changed, and a missing file raises ``sqlite3.OperationalError``."""
        self.path = Path(path)
        self._lock = threading.RLock()
        self._listings: dict[str, int] = {}  # discovery requests in flight per outlet (add_listings_in_flight)
        if read_only:
            self._db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False,
                                       isolation_level=None)
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(fetched)")}
        if "scope" not in columns:
            self._db.execute("ALTER TABLE fetched ADD COLUMN scope TEXT")  # a state made before validator scopes
        if "detail" not in columns:
            self._db.execute("ALTER TABLE fetched ADD COLUMN detail TEXT")  # a state made before outcome details

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _execute(self, sql: str, params: Iterable = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, tuple(params))

    # -- archived payloads (revisit records) --
    def find_payload(self, url: str, digest: str) -> PayloadRef | None:
        row = self._execute(
            "SELECT url, digest, record_id, warc_date, warc_file FROM payloads WHERE url=? AND digest=?",
            (url, digest),
        ).fetchone()
        return PayloadRef(*row) if row else None

    def add_payload(self, ref: PayloadRef) -> None:
        self._execute(
            "INSERT OR IGNORE INTO payloads VALUES (?, ?, ?, ?, ?)",
            (ref.url, ref.digest, ref.record_id, ref.warc_date, ref.warc_file),
        )

    # -- fetched URLs and their outcomes --
    def record_outcome(self, url: str, *, kind: str, outlet: str, outcome: str, final_url: str | None = None,
                       status: int | None = None, warc_file: str | None = None, record_id: str | None = None,
                       fetched_at: str | None = None, detail: Mapping[str, Any] | None = None) -> None:
        """Remember what became of a fetched URL (kept, off_topic, out_of_window, off_language, duplicate,
        error) and why (``detail``); an error increases its attempt count so later runs give up after a cap."""
        self._execute(
            """INSERT INTO fetched (url, final_url, kind, outlet, outcome, status, warc_file, record_id,
                                    fetched_at, attempts, detail)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)
               ON CONFLICT(url) DO UPDATE SET final_url=excluded.final_url, kind=excluded.kind,
                 outlet=excluded.outlet, outcome=excluded.outcome, status=excluded.status, warc_file=excluded.warc_file,
                 record_id=excluded.record_id, fetched_at=excluded.fetched_at, attempts=attempts + 1,
                 detail=excluded.detail""",
            (url, final_url, kind, outlet, outcome, status, warc_file, record_id, fetched_at,
             json.dumps(dict(detail), ensure_ascii=False, sort_keys=True) if detail else None),
        )
        if kind in SETTLED_KINDS and outcome not in UNSETTLING_OUTCOMES:
            self._execute("DELETE FROM frontier WHERE url=?", (url,))

    def outcome_of(self, url: str) -> tuple[str, int, int | None, str | None] | None:
        """(outcome, attempts, status, fetched_at) of a URL fetched in an earlier run, if any."""
        row = self._execute(
            "SELECT outcome, attempts, status, fetched_at FROM fetched WHERE url=?", (url,)
        ).fetchone()
        return tuple(row) if row else None

    def outcome_counts(self) -> dict[str, dict[str, int]]:
        counts: dict[str, dict[str, int]] = {}
        for outlet, outcome, number in self._execute(
                "SELECT COALESCE(outlet, ''), outcome, COUNT(*) FROM fetched WHERE kind=? "
                "GROUP BY 1, outcome", (Kind.ARTICLE,)):
            counts.setdefault(outlet, {})[outcome] = number
        return counts

    def outcome_records(self, kind: str = Kind.ARTICLE) -> list[OutcomeRecord]:
        rows = self._execute(
            "SELECT url, kind, COALESCE(outlet, ''), outcome, status, final_url, fetched_at, attempts, detail "
            "FROM fetched WHERE kind=? ORDER BY 3, url", (kind,)).fetchall()
        return [OutcomeRecord(*row[:8], detail=json.loads(row[8]) if row[8] else {}) for row in rows]

    def validators(self, url: str, scope: str | None = None) -> tuple[str | None, str | None]:
        row = self._execute("SELECT etag, last_modified, scope FROM fetched WHERE url=?", (url,)).fetchone()
        if not row or (scope is not None and row[2] != scope):
            return (None, None)
        return (row[0], row[1])

    def save_validators(self, url: str, etag: str | None, last_modified: str | None, scope: str | None = None) -> None:
        self._execute(
            """INSERT INTO fetched (url, kind, outcome, etag, last_modified, scope)
               VALUES (?, 'discovery', 'seen', ?, ?, ?)
               ON CONFLICT(url) DO UPDATE SET etag=excluded.etag, last_modified=excluded.last_modified,
                 scope=excluded.scope""",
            (url, etag, last_modified, scope),
        )

    # -- the frontier: what discovery found and no run has settled yet --
    def settle_discovery(self, page_url: str | None, entries: Iterable[FrontierEntry], etag: str | None = None,
                         last_modified: str | None = None, scope: str | None = None) -> None:
        """In one transaction: store what a discovery page listed, then the page's validators, then mark the
        page itself done. Nothing of the page counts as seen before all it listed is durable."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._db.executemany(
                    """INSERT INTO frontier VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(url) DO UPDATE SET
                         published=COALESCE(frontier.published, excluded.published),
                         lastmod=COALESCE(frontier.lastmod, excluded.lastmod),
                         title=COALESCE(frontier.title, excluded.title),
                         priority=MAX(frontier.priority, excluded.priority)""",
                    [entry.row() for entry in entries])
                if page_url is not None:
                    if etag or last_modified:
                        self._db.execute(
                            """INSERT INTO fetched (url, kind, outcome, etag, last_modified, scope)
                               VALUES (?, 'discovery', 'seen', ?, ?, ?)
                               ON CONFLICT(url) DO UPDATE SET etag=excluded.etag, last_modified=excluded.last_modified,
                                 scope=excluded.scope""",
                            (page_url, etag, last_modified, scope))
                    self._db.execute("DELETE FROM frontier WHERE url=? AND kind != ?", (page_url, Kind.ARTICLE))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def pending(self) -> list[FrontierEntry]:
        """Every frontier entry in the order it was found (discovery pages first)."""
        rows = self._execute("SELECT url, outlet, kind, via, title, published, lastmod, priority, found_on, extra "
                             "FROM frontier ORDER BY kind = ?, rowid", (Kind.ARTICLE,)).fetchall()
        return [FrontierEntry(*row) for row in rows]

    def drop_pending(self, url: str) -> None:
        """Forget a frontier entry the crawl will never fetch (dated outside the window, page gone)."""
        self._execute("DELETE FROM frontier WHERE url=?", (url,))

    def add_listings_in_flight(self, outlet: str, delta: int) -> None:
        with self._lock:
            self._listings[outlet] = self._listings.get(outlet, 0) + delta

    def listings_in_flight(self, outlets: Iterable[str]) -> dict[str, int]:
        with self._lock:
            return {outlet: self._listings.get(outlet, 0) for outlet in outlets}

    # -- redirects: a URL that redirected is settled; later runs go to its target --
    def save_redirect(self, url: str, target: str, status: int) -> None:
        self._execute("INSERT OR REPLACE INTO redirects VALUES (?, ?, ?)", (url, target, status))

    def redirect_of(self, url: str) -> str | None:
        row = self._execute("SELECT target FROM redirects WHERE url=?", (url,)).fetchone()
        return row[0] if row else None

    def redirect_sources(self, target: str) -> list[str]:
        """The URLs that redirected straight to ``target``."""
        return [row[0] for row in self._execute("SELECT url FROM redirects WHERE target=? ORDER BY url", (target,))]

    # -- counters (text file sequence) --
    def next_value(self, name: str) -> int:
        """Atomically take the next number of a counter, starting at 0."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
                value = row[0] if row else 0
                self._db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value + 1))
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return value

    def set_counter(self, name: str, value: int) -> None:
        """Set a counter outright (only when this process alone writes the topic: it holds the lock)."""
        self._execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value))

    def ensure_counter_at_least(self, name: str, value: int) -> None:
        """Raise a counter to ``value`` (used when rebuilding from files already on disk)."""
        self._execute(
            "INSERT INTO counters VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value=MAX(value, excluded.value)",
            (name, value),
        )

    # -- text files --
    def file_for_url(self, canonical_url: str) -> str | None:
        row = self._execute("SELECT file FROM files WHERE canonical_url=?", (canonical_url,)).fetchone()
        return row[0] if row else None

    def file_for_text(self, outlet: str, text_sha256: str) -> str | None:
        row = self._execute(
            "SELECT file FROM files WHERE outlet=? AND text_sha256=?", (outlet, text_sha256)
        ).fetchone()
        return row[0] if row else None

    def add_file(self, canonical_url: str, file: str, text_sha256: str, outlet: str) -> bool:
        """Claim ``file`` for an article; False when the canonical URL already has one (the claim is atomic, so
        two writers can never give one article two files)."""
        cursor = self._execute("INSERT OR IGNORE INTO files VALUES (?, ?, ?, ?)",
                               (canonical_url, file, text_sha256, outlet))
        return cursor.rowcount == 1

    def forget_file(self, canonical_url: str, file: str) -> None:
        """Undo a claim whose file could not be written."""
        self._execute("DELETE FROM files WHERE canonical_url=? AND file=?", (canonical_url, file))

    # -- near-duplicate signatures (MinHash of files that are not duplicates themselves) --
    def signatures(self, skip: int = 0) -> list[tuple[str, str, bytes]]:
        """Stored signatures in the order they were added, without the first ``skip`` (already loaded)."""
        return self._execute("SELECT file, outlet, hashvalues FROM signatures ORDER BY rowid LIMIT -1 OFFSET ?",
                             (skip,)).fetchall()

    def add_signature(self, file: str, outlet: str, hashvalues: bytes) -> None:
        self._execute("INSERT OR REPLACE INTO signatures VALUES (?, ?, ?)", (file, outlet, hashvalues))

    # -- site memory (outlet boilerplate paragraphs) --
    def site_memory(self) -> dict[str, list[str]]:
        learned: dict[str, list[str]] = {}
        for outlet, key in self._execute("SELECT outlet, key FROM site_memory ORDER BY outlet, key"):
            learned.setdefault(outlet, []).append(key)
        return learned

    def save_site_memory(self, learned: dict[str, list[str]]) -> None:
        with self._lock:
            self._db.executemany(
                "INSERT OR IGNORE INTO site_memory VALUES (?, ?)",
                [(outlet, key) for outlet, keys in learned.items() for key in keys],
            )

    # -- versions of kept articles --
    def track(self, article: TrackedArticle) -> None:
        self._execute("INSERT INTO tracked VALUES (?, ?, ?) ON CONFLICT(url) DO UPDATE SET data=excluded.data",
                      (article.url, tracked_data(article), article.checks))

    def tracked(self, url: str) -> TrackedArticle | None:
        row = self._execute("SELECT data, checks FROM tracked WHERE url=?", (url,)).fetchone()
        return tracked_from(row[0], row[1]) if row else None

    def tracked_articles(self) -> list[TrackedArticle]:
        return [tracked_from(data, checks) for data, checks in
                self._execute("SELECT data, checks FROM tracked ORDER BY url").fetchall()]

    def claim_check(self, url: str, seen: int, checks: int) -> bool:
        cursor = self._execute("UPDATE tracked SET checks=? WHERE url=? AND checks=?", (checks, url, seen))
        return cursor.rowcount == 1

    # -- one article's writes as one unit (pipelines.textfiles), and the start-up reconciliation --
    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Everything the block writes becomes durable together when it ends, or not at all: an exception (or a
        process killed inside the block) leaves the state as it was, the counter included."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise
            try:
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def take_value(self, name: str) -> int:
        """:meth:`next_value` inside a :meth:`transaction`: the number is given back if the block fails."""
        with self._lock:
            row = self._db.execute("SELECT value FROM counters WHERE name=?", (name,)).fetchone()
            value = row[0] if row else 0
            self._db.execute("INSERT OR REPLACE INTO counters VALUES (?, ?)", (name, value + 1))
        return value

    def claimed_files(self) -> list[tuple[str, str]]:
        """(canonical URL, file) of every claim in the files table."""
        return self._execute("SELECT canonical_url, file FROM files").fetchall()

    def kept_urls(self) -> list[str]:
        """The fetched URLs whose outcome is ``kept``."""
        return [row[0] for row in self._execute("SELECT url FROM fetched WHERE outcome=?", (Outcome.KEPT,))]

    def forget_outcome(self, url: str) -> None:
        """Forget what became of a URL, so the next run fetches it again."""
        self._execute("DELETE FROM fetched WHERE url=?", (url,))
