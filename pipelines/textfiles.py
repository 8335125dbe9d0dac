"""The product users read: one text file per kept article, and one manifest line per text file.

A file is ``text/NNN_<16 hex>.txt``: ``NNN`` numbers files in arrival order per topic (three digits, wider past
999) and continues across runs; the hex is the start of the sha256 of the article's canonical URL, so the same
article can never get two names. Content: `` date YYYY-MM-DD <title>`` when the date is known (else the title
alone), a blank line, the body paragraphs separated by blank lines, one final newline; UTF-8, NFC, ``\\n``.

Files are written under a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from scrapy.exceptions import NotConfigured

from crawler.items import ArticleItem
from crawler.paths import TopicPaths, paths_for
from crawler.signals import text_file_written
from crawler.state import State, open_state
from pipelines.manifest import ManifestWriter, read_manifest, sequence_of
from pipelines.relevance import NotKept

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

SEQUENCE = "text_files"  # the state counter numbering a topic's text files
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def url_hash(canonical_url: str) -> str:
    """The first 16 hex digits of the sha256 of the canonical URL: the stable half of a file name."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:16]


def file_name(sequence: int, canonical_url: str) -> str:
    if sequence < 0:
        raise ValueError(f"sequence must not be negative: {sequence}")
    return f"{sequence:03d}_{url_hash(canonical_url)}.txt"


def clean_line(text: str | None) -> str:
    """One line of text: NFC, no control characters, single spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():  # printable text has none of the control characters: skip the regex
        text = _CONTROL.sub(" ", text)
    return " ".join(text.split())


def render_text(title: str | None, paragraphs: Iterable[str], published: str | None) -> str:
    """The text file's content for an article (see the module docstring for the format)."""
    head = clean_line(title)
    day = clean_line(published)[:10]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        head = f" date {day} {head}".rstrip(" ") if head else f" date {day} "
    body = [line for line in (clean_line(p) for p in paragraphs) if line]
    blocks = ([head] if head else []) + body
    return "\n\n".join(blocks) + "\n"


def text_sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def write_atomic(directory: Path, name: str, content: str) -> Path:
    """Write ``directory/name`` so that it appears whole or not at all (temporary file, fsync, rename)."""
    target = directory / name
    fd, temporary = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(content.encode("utf-8"))
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


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
    }


class TextFilesPipeline:
    """Writes each kept article's text file and manifest line, numbering files in arrival order.

    Order of writes: the text file (atomically), then its manifest line, then the state. A crash between the
    first two leaves a file no manifest line names; it is removed at the next start and the article is
    fetched again, so numbers stay gap-free and nothing is written twice.
    """

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        self.paths: TopicPaths | None = None
        self.manifest: ManifestWriter | None = None
        self.state: State | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TextFilesPipeline":
        if getattr(crawler.spider, "topic", None) is None:
            raise NotConfigured("no topic")
        return cls(crawler)

    def open_spider(self) -> None:
        self.paths = paths_for(self.crawler.settings, self.crawler.spider).create()
        self.state = open_state(self.paths.state)
        self.manifest = ManifestWriter(self.paths.manifest)
        self._reconcile(remove_orphans=not self.crawler.settings.get("DISTRIBUTED"))

    def close_spider(self) -> None:
        if self.manifest is not None:
            self.manifest.close()

    def _reconcile(self, remove_orphans: bool) -> None:
        """Bring the state in line with the manifest: its files are claimed and numbering continues after them.

        A text file no manifest line names was cut off by a crash between the two writes; it is removed (the
        article is fetched again). In a distributed crawl another worker may be between those two writes right
        now, so such files are left alone there.
        """
        assert self.paths is not None and self.state is not None
        listed: set[str] = set()
        last = -1
        for entry in read_manifest(self.paths.manifest):
            name = entry.get("file", "")
            listed.add(name)
            number = sequence_of(name)
            last = max(last, number if number is not None else -1)
            if entry.get("canonical_url"):
                self.state.add_file(entry["canonical_url"], name, entry.get("text_sha256", ""),
                                    entry.get("outlet_slug") or entry.get("outlet", ""))
        if not remove_orphans:  # others write too: never lower the shared counter
            self.state.ensure_counter_at_least(SEQUENCE, last + 1)
            return
        self.state.set_counter(SEQUENCE, last + 1)  # numbers taken by an interrupted write are reused
        for path in self.paths.text_dir.iterdir():
            if path.name not in listed:
                logger.warning("removing %s: no manifest line names it (interrupted write)", path)
                path.unlink()

    def process_item(self, item: ArticleItem) -> ArticleItem:
        assert self.paths is not None and self.manifest is not None and self.state is not None
        article = item.article or {}
        content = item.text_content or render_text(article.get("title"), article.get("paragraphs") or [],
                                                   article.get("published"))
        canonical = item.canonical_url or item.final_url
        name = file_name(self.state.next_value(SEQUENCE), canonical)
        if not self.state.add_file(canonical, name, text_sha256(content), item.outlet_slug):
            self.stats.inc_value(f"coverage/{item.outlet_slug}/duplicate")
            raise NotKept("duplicate", f"not kept (another file holds {canonical}): {item.final_url}")
        try:
            write_atomic(self.paths.text_dir, name, content)
        except BaseException:
            self.state.forget_file(canonical, name)
            raise
        item.file = name
        self.manifest.append(manifest_entry(item, name, content))
        self.state.record_outcome(item.url, kind="article", outlet=item.outlet_slug, outcome="kept",
                                  final_url=item.final_url, status=item.status, warc_file=item.warc_file,
                                  record_id=item.warc_record_id, fetched_at=item.fetched_at)
        self.stats.inc_value(f"coverage/{item.outlet_slug}/kept")
        self.stats.inc_value("textfiles/written")
        self.crawler.signals.send_catch_log(signal=text_file_written, item=item)
        return item
