"""The product users read: one text file per kept article, and one manifest line per text file.

A file is ``text/NNN_<16 hex>.txt``: ``NNN`` numbers files in arrival order per topic (three digits, wider past
999) and continues across runs; the hex is the start of the sha256 of the article's canonical URL, so the same
article can never get two names. Content: `` date YYYY-MM-DD <title>`` when the date is known (else the title
alone), a blank line, the body paragraphs separated by blank lines, one final newline; UTF-8, NFC, ``\\n``.

Files are written under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Iterator

from scrapy.exceptions import DropItem, NotConfigured

from crawler.contracts import Kind, Outcome
from crawler.fsutil import is_disk_full, write_atomic
from crawler.items import ArticleItem
from crawler.paths import TopicPaths
from crawler.signals import disk_full, text_file_written
from crawler.run import topic_run
from crawler.store import TopicStore
from pipelines.manifest import ManifestWriter, read_manifest, sequence_of
from pipelines.relevance import NotKept
from pipelines.versions import restore_tracked, tracked_for, version_entry, version_file_name
from pipelines.render import (clean_line, file_name, render_text, text_sha256,  # noqa: F401 - the names
                              url_hash)  # of a text file's content and name, used from here by many

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

SEQUENCE = "text_files"  # the state counter numbering a topic's text files
_TEMPORARY = re.compile(r"\.(.+)\.[a-z0-9_]{8}\.tmp")  # tempfile.mkstemp(prefix=".NAME.", suffix=".tmp")


def manifest_entry(item: ArticleItem, name: str, content: str) -> dict[str, Any]:
    """The manifest line of one text file."""
    article = item.article or {}
    return {
        "file": name,
        "url": item.url,
        "final_url": item.final_url,
        "canonical_url": item.canonical_url or item.final_url,
        "outlet": item.outlet,
        "outlet_slug": item.outlet_slug,
        "title": article.get("title"),
        "author": article.get("author"),
        "published": article.get("published"),
        "language": article.get("language"),
        "words": len((article.get("text") or "").split()),
        "text_sha256": text_sha256(content),
        "paywalled": bool(article.get("paywalled")),
        "via": item.via,
        "relevance": item.relevance,
        "duplicate_of": item.duplicate_of,
        "similarity": item.similarity,
        "warc_file": item.warc_file,
        "warc_record_id": item.warc_record_id,
        "fetched_at": item.fetched_at,
        "source": item.source,
        "captured_at": item.fetched_at if item.source == "live" else item.captured_at,
        "also_in": item.also_in,
    }


def reached(step: str) -> None:
    """Called as an article passes each step of its writes (``text_written``, ``manifest_written``, ``kept``);
    does nothing. Tests replace it (a sitecustomize in ``tests/plugins/torn``) to kill the crawl at a step."""


def is_text_file_name(name: str) -> bool:
    """A name the crawl gives text files: ``NNN_<16 hex>.txt``."""
    return sequence_of(name) is not None


def is_temporary_name(name: str) -> bool:
    """A temporary file :func:`write_atomic` makes for a text file (``.NNN_<16 hex>.txt.XXXXXXXX.tmp``), left
    behind only by a process killed while writing it."""
    match = _TEMPORARY.fullmatch(name)
    return bool(match) and is_text_file_name(match.group(1))


class TextFilesPipeline:
    """Writes each kept article's text file and manifest line, numbering files in arrival order.

    One article is one unit: its number, its files claim and its ``kept`` outcome are taken in one state
    transaction that commits only after the text file (fsynced, renamed, directory fsynced) and then its
    manifest line (fsynced) are written. A failure in between (disk full) rolls the transaction back and removes
    the text file, so the number is reused and the article is fetched again; a process killed in between leaves
    an uncommitted transaction (nothing) and files that the next start reconciles with the manifest
    (:meth:`_reconcile`). The manifest is the record of what was kept; the state follows it.

    In a distributed crawl the state is in Redis, outside any transaction with the files: a failed article's
    claim is dropped, but its number (a Redis ``INCR``) is not given back, so numbers there are unique and
    increasing, and a failed or killed write leaves a gap.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.paths: TopicPaths | None = None
        self.manifest: ManifestWriter | None = None
        self.state: TopicStore | None = None
        self.stopped = False  # the disk is full: nothing more is written

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TextFilesPipeline":
        if getattr(crawler, "topic_run", None) is None:
            raise NotConfigured("no topic")
        return cls(crawler)

    def open_spider(self) -> None:
        run = topic_run(self.crawler)
        self.paths, self.state = run.paths, run.store
        self.manifest = ManifestWriter(self.paths.manifest)
        if self.crawler.settings.get("CLUSTER_REDIS_URL"):
            self._continue_numbering()
        else:
            self._reconcile()

    def close_spider(self) -> None:
        if self.manifest is not None:
            self.manifest.close()

    def _continue_numbering(self) -> None:
        """Distributed: other workers may be between an article's writes right now, so nothing is removed or
        dropped; the manifest's files are claimed and the shared counter is only ever raised past them."""
        assert self.paths is not None and self.state is not None
        last = -1
        for entry in read_manifest(self.paths.manifest):
            name = entry.get("file", "")
            last = max(last, sequence_of(name) if sequence_of(name) is not None else -1)
            if entry.get("canonical_url"):
                self.state.add_file(entry["canonical_url"], name, entry.get("text_sha256", ""),
                                    entry.get("outlet_slug") or entry.get("outlet", ""))
        self.state.ensure_counter_at_least(SEQUENCE, last + 1)

    def _reconcile(self) -> None:
        """Bring the state and ``text/`` in line with the manifest (this process holds the topic's lock)."""
        assert self.paths is not None and self.state is not None
        settings = self.crawler.settings
        counts = reconcile(self.paths, self.state, settings.getint("DEDUP_NEAR_NUM_PERM"),
                           settings.getint("DEDUP_NEAR_SHINGLE"))
        for event, count in counts.items():
            if count:
                self.stats.set_value(f"textfiles/{event}", count)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        assert self.paths is not None and self.manifest is not None and self.state is not None
        if self.stopped:
            raise DropItem(f"not written (the disk is full): {item.final_url}")
        article = item.article or {}
        content = item.text_content or render_text(article.get("title"), article.get("paragraphs") or [],
                                                   article.get("published"))
        canonical = item.canonical_url or item.final_url
        try:
            with self.state.transaction():
                if item.version:  # a later version of a kept article (pipelines.versions): beside its first file
                    self._write_version(item, content)
                    return self._written(item)
                name = file_name(self.state.take_value(SEQUENCE), canonical)
                if not self.state.add_file(canonical, name, text_sha256(content), item.outlet_slug):
                    raise NotKept(Outcome.DUPLICATE, f"not kept (another file holds {canonical}): {item.final_url}")
                try:
                    write_atomic(self.paths.text_dir, name, content)
                    reached("text_written")
                    item.file = name
                    self.manifest.append(manifest_entry(item, name, content))
                    reached("manifest_written")
                except BaseException:
                    item.file = None
                    (self.paths.text_dir / name).unlink(missing_ok=True)
                    self.state.forget_file(canonical, name)  # Redis: no transaction undoes the claim
                    raise
                self.state.record_outcome(item.url, kind=Kind.ARTICLE, outlet=item.outlet_slug, outcome=Outcome.KEPT,
                                          final_url=item.final_url, status=item.status, warc_file=item.warc_file,
                                          record_id=item.warc_record_id, fetched_at=item.fetched_at)
                self.state.track(tracked_for(item, name, content))
        except NotKept:
            # after the rolled-back transaction: the URL is settled as a duplicate, its number goes to the next
            self.stats.inc_value(f"coverage/{item.outlet_slug}/duplicate")
            self.state.record_outcome(item.url, kind=Kind.ARTICLE, outlet=item.outlet_slug, outcome=Outcome.DUPLICATE,
                                      final_url=item.final_url, status=item.status, warc_file=item.warc_file,
                                      record_id=item.warc_record_id, fetched_at=item.fetched_at,
                                      detail={"duplicate_of": self.state.file_for_url(canonical),
                                              "how": "canonical URL", "title": article.get("title")})
            raise
        except (OSError, sqlite3.Error) as exc:
            if not is_disk_full(exc):
                raise
            self.stopped = True
            self.crawler.signals.send_catch_log(signal=disk_full, exc=exc,
                                              path=getattr(exc, "filename", None) or str(self.paths.root))
            raise DropItem(f"not written (the disk is full): {item.final_url}") from None
        reached("kept")
        self.stats.inc_value(f"coverage/{item.outlet_slug}/kept")
        return self._written(item)

    def _written(self, item: ArticleItem) -> ArticleItem:
        self.stats.inc_value("textfiles/written")
        self.crawler.signals.send_catch_log(signal=text_file_written, item=item)
        return item

    def _write_version(self, item: ArticleItem, content: str) -> None:
        """Version N of a kept article: ``NNN_<16 hex>.vN.txt``, its manifest line, then the store's tracked
        article moved on to it (inside the caller's transaction; the earlier files are never touched)."""
        assert self.paths is not None and self.manifest is not None and self.state is not None
        name = version_file_name(item.recheck["first_file"], item.version)
        write_atomic(self.paths.text_dir, name, content)
        try:
            item.file = name
            self.manifest.append(version_entry(manifest_entry(item, name, content), item))
        except BaseException:
            item.file = None
            (self.paths.text_dir / name).unlink(missing_ok=True)
            raise
        base = self.state.tracked(item.url)
        self.state.track(tracked_for(item, name, content, item.version, base))
        self.stats.inc_value(f"coverage/{item.outlet_slug}/changed")
        self.stats.inc_value(f"versions/changed_{item.changed}")


@contextmanager
def _nothing() -> Iterator[list]:
    yield []


def reconcile(paths: TopicPaths, state: TopicStore, num_perm: int, shingle: int) -> dict[str, int]:
    """Make the state and ``text/`` agree with the manifest, after a crash or anything else; returns counts.

    The manifest is the record of what was kept. Its files are claimed and their URLs marked ``kept`` (a crawl
    killed after the manifest line, before the state commit); a claim or ``kept`` outcome it does not back is
    dropped (the article is fetched again); a near-duplicate signature it lacks is computed from the text file;
    the counter continues after its last number, so numbers an interrupted write took are reused.

    In ``text/`` only the crawl's own leftovers are removed: a ``NNN_<16 hex>.txt`` no manifest line names (a
    write cut off before its line) and a ``write_atomic`` temporary of such a name (a write cut off midway).
    Anything else (a user's notes, ``.DS_Store``, sub-directories, symlinks, which are never followed) is left
    alone and counted in one warning."""
    from pipelines.dedup import signature, signature_blob

    entries = list(read_manifest(paths.manifest))
    listed: dict[str, dict[str, Any]] = {}
    last = -1
    for entry in entries:
        name = entry.get("file", "")
        if not is_text_file_name(name):
            continue
        listed[name] = entry
        last = max(last, sequence_of(name) or 0)
    counts = {"claims_dropped": 0, "outcomes_dropped": 0, "outcomes_restored": 0, "signatures_restored": 0,
              "orphans_removed": 0, "temporaries_removed": 0, "foreign_left": 0}
    by_file = dict((file, canonical) for canonical, file in state.claimed_files())
    for file, canonical in by_file.items():
        entry = listed.get(file)
        if entry is None or (entry.get("canonical_url") or entry.get("final_url")) != canonical:
            state.forget_file(canonical, file)
            counts["claims_dropped"] += 1
    listed_urls = {entry.get("url") for entry in listed.values()}
    for url in state.kept_urls():
        if url not in listed_urls:
            state.forget_outcome(url)
            counts["outcomes_dropped"] += 1
    signed = {file for file, _outlet, _blob in state.signatures()}
    for name, entry in listed.items():
        outlet = entry.get("outlet_slug") or entry.get("outlet") or ""
        canonical = entry.get("canonical_url") or entry.get("final_url")
        if canonical:
            state.add_file(canonical, name, entry.get("text_sha256", ""), outlet)
        previous = state.outcome_of(entry["url"]) if entry.get("url") else (Outcome.KEPT,)
        if previous is None or previous[0] != Outcome.KEPT:
            state.record_outcome(entry["url"], kind=Kind.ARTICLE, outlet=outlet, outcome=Outcome.KEPT,
                                 final_url=entry.get("final_url"), warc_file=entry.get("warc_file"),
                                 record_id=entry.get("warc_record_id"), fetched_at=entry.get("fetched_at"))
            counts["outcomes_restored"] += 1
        text_file = paths.text_dir / name
        if name not in signed and entry.get("duplicate_of") is None and text_file.is_file():
            content = text_file.read_text(encoding="utf-8")
            body = content.split("\n\n", 1)[1] if "\n\n" in content else content
            state.add_signature(name, outlet, signature_blob(signature(body, num_perm, shingle)))
            counts["signatures_restored"] += 1
    counts["tracked_restored"] = restore_tracked(state, entries)
    state.set_counter(SEQUENCE, last + 1)
    foreign: list[str] = []
    with os.scandir(paths.text_dir) if paths.text_dir.is_dir() else _nothing() as scan:
        for found in scan:
            ours = found.is_file(follow_symlinks=False)
            if ours and is_text_file_name(found.name) and found.name not in listed:
                logger.warning("removing %s: no manifest line names it (a write cut off before its line)",
                               found.path)
                os.unlink(found.path)
                counts["orphans_removed"] += 1
            elif ours and is_temporary_name(found.name):
                os.unlink(found.path)
                counts["temporaries_removed"] += 1
            elif not (ours and found.name in listed):
                foreign.append(found.name)
    if counts["temporaries_removed"]:
        logger.warning("removed %d temporary file(s) of writes cut off midway in %s", counts["temporaries_removed"],
                       paths.text_dir)
    if foreign:
        counts["foreign_left"] = len(foreign)
        shown = ", ".join(sorted(foreign)[:5]) + (", ..." if len(foreign) > 5 else "")
        logger.warning("%s: %d entr%s the crawl did not write left alone (%s)", paths.text_dir, len(foreign),
                       "y" if len(foreign) == 1 else "ies", shown)
    for name in listed:
        if not (paths.text_dir / name).is_file():
            logger.warning("%s: listed in the manifest but missing from %s (its page is in the WARC files; "
                           "`scrapy reextract` writes its text again)", name, paths.text_dir)
            counts["missing"] = counts.get("missing", 0) + 1
    return counts
