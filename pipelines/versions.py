"""Versions of a kept article: is a re-checked page a new version, and what do its file and manifest line say?

A new version is a changed *cleaned* title or body (what the text file holds), never a changed ad slot, view
counter or timestamp in the HTML, which changes the payload of nearly every news page on every fetch. The first
file keeps its name and content (nothing written is changed); version N is ``NNN_<16 hex>.vN.txt`` beside it,
with a manifest line of its own carrying ``version``, ``previous`` (the file it replaces), ``changed`` (``title``,
``body`` or ``both``) and ``captured_at`` (its response record's date). A manifest line without ``version`` is
a first version. The store's ``TrackedArticle`` names the newest version; :func:`restore_tracked` rebuilds it
from the manifest, so the manifest stays the record of what was kept.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any, Iterable

from scrapy.exceptions import DropItem, NotConfigured

from crawler.items import ArticleItem
from crawler.run import topic_run
from crawler.store import TopicStore, TrackedArticle
from pipelines.render import render_text, text_sha256

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

_VERSION_NAME = re.compile(r"([0-9]+_[0-9a-f]{16})(?:\.v([0-9]+))?\.txt")


class Unchanged(DropItem):
    """A re-checked article whose cleaned title and text are those of its newest version: no file."""


def version_file_name(first_file: str, version: int) -> str:
    """``NNN_<16 hex>.vN.txt`` beside the first file ``NNN_<16 hex>.txt`` (version 1 is the first file)."""
    match = _VERSION_NAME.fullmatch(first_file)
    if match is None or version < 2:
        raise ValueError(f"no version {version} of {first_file!r}")
    return f"{match.group(1)}.v{version}.txt"


def split_text(content: str) -> tuple[str, str]:
    """(title, body) of a text file's content; the title without its ``date YYYY-MM-DD`` stamp."""
    head, _, body = content.partition("\n\n")
    title = re.sub(r"^ date \d{4}-\d{2}-\d{2} ?", "", head)
    return title.strip(), body.strip()


def what_changed(previous: str, current: str) -> str | None:
    """``title``, ``body``, ``both`` or None (the same title and body) between two text files' contents."""
    (old_title, old_body), (new_title, new_body) = split_text(previous), split_text(current)
    title, body = old_title != new_title, old_body != new_body
    return "both" if title and body else "title" if title else "body" if body else None


def version_entry(entry: dict[str, Any], item: ArticleItem) -> dict[str, Any]:
    """A version's manifest line: the usual fields, then what makes it a version."""
    return {**entry, "version": item.version, "previous": item.previous, "changed": item.changed,
            "captured_at": item.fetched_at}


def tracked_for(item: ArticleItem, name: str, content: str, version: int = 1,
                base: TrackedArticle | None = None) -> TrackedArticle:
    """What the store tracks of an article once ``name`` (its version ``version``) is written."""
    etag, last_modified = item.validators or (None, None)
    title = split_text(content)[0]
    if base is not None:
        return dataclasses.replace(base, file=name, version=version, title=title, text_sha256=text_sha256(content),
                                   record_id=item.warc_record_id, warc_date=item.captured_at, etag=etag,
                                   last_modified=last_modified, removed=None, removed_at=None)
    return TrackedArticle(url=item.url, request_url=item.final_url, canonical_url=item.canonical_url or item.final_url,
                          outlet=item.outlet_slug, file=name, version=version, first_captured=item.fetched_at,
                          title=title, text_sha256=text_sha256(content), record_id=item.warc_record_id,
                          warc_date=item.captured_at, etag=etag, last_modified=last_modified)


def restore_tracked(store: TopicStore, entries: Iterable[dict[str, Any]]) -> int:
    """Track every article of the manifest at its newest version (a state rebuilt, or kept before versions were
    tracked); returns how many were (re)tracked. A first version's ``url`` keys it, later ones follow ``previous``."""
    key_of: dict[str, str] = {}
    newest: dict[str, dict[str, Any]] = {}
    first: dict[str, dict[str, Any]] = {}
    for entry in entries:
        key = key_of.get(entry.get("previous") or "") if entry.get("version") else entry.get("url")
        if not key or not entry.get("file"):
            continue
        key_of[entry["file"]] = key
        first.setdefault(key, entry)
        newest[key] = entry
    restored = 0
    for key, entry in newest.items():
        version = int(entry.get("version") or 1)
        known = store.tracked(key)
        if known is not None and known.version >= version:
            continue
        stamp = entry.get("fetched_at") or ""
        store.track(TrackedArticle(
            url=key, request_url=first[key].get("final_url") or key,
            canonical_url=entry.get("canonical_url") or entry.get("final_url") or key,
            outlet=entry.get("outlet_slug") or entry.get("outlet") or "", file=entry["file"], version=version,
            first_captured=first[key].get("fetched_at") or "", title=entry.get("title"),
            text_sha256=entry.get("text_sha256", ""), record_id=entry.get("warc_record_id"),
            warc_date=stamp.replace("+00:00", "Z") or None, checks=known.checks if known else 0))
        restored += 1
    return restored


class VersionsPipeline:
    """Judges re-checked articles (``item.recheck``): unchanged ones are dropped (``Unchanged``, stats
    ``versions/unchanged``), changed ones go on as their next version (``item.version``, ``previous``,
    ``changed``) for the text files to write. Other articles pass untouched."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "VersionsPipeline":
        if getattr(crawler, "topic_run", None) is None:
            raise NotConfigured("no topic")
        return cls(crawler)

    def process_item(self, item: ArticleItem) -> ArticleItem:
        if not isinstance(item, ArticleItem) or not item.recheck:
            return item
        run = topic_run(self.crawler)
        tracked = run.store.tracked(item.recheck["url"])
        if tracked is None:  # a replay's later record of an article that was not kept
            raise Unchanged(f"not a kept article: {item.final_url}")
        article = item.article or {}
        content = render_text(article.get("title"), article.get("paragraphs") or [], article.get("published"))
        newest = run.paths.text_dir / tracked.file
        previous = newest.read_text(encoding="utf-8") if newest.is_file() else ""
        changed = what_changed(previous, content) if (article.get("text") or "").strip() else None
        if changed is None:
            etag, last_modified = item.validators or (tracked.etag, tracked.last_modified)
            run.store.track(dataclasses.replace(tracked, record_id=item.warc_record_id or tracked.record_id,
                                                warc_date=item.captured_at or tracked.warc_date, etag=etag,
                                                last_modified=last_modified))
            self.stats.inc_value("versions/unchanged")
            raise Unchanged(f"unchanged since {tracked.file}: {item.final_url}")
        first_file = _VERSION_NAME.fullmatch(tracked.file)
        item.url = tracked.url
        item.canonical_url = tracked.canonical_url
        item.version = tracked.version + 1
        item.previous = tracked.file
        item.changed = changed
        item.text_content = content
        item.text_sha256 = text_sha256(content)
        item.recheck = {**item.recheck, "first_file": f"{first_file.group(1)}.txt" if first_file else tracked.file}
        return item
