"""Duplicates: one text file per article, and wire copies pointed at the copy written first.

- Exact: one canonical URL gets at most one text file ever (tracking parameters, amp/print variants,
  ``<link rel=canonical>`` and redirects all collapse to it), and one outlet's identical text under two URLs
  gets one file.
- Near: MinHash/LSH (``pipelines.minhash``) over word shingles of the cleaned text finds wire stories run by
  several outlets with small edits. Those are still written (who ran the wire story is research data); the manifest
  gains ``duplicate_of`` (the first copy's file, itself not a duplicate) and ``similarity`` (estimated Jaccard).

The index lives in the topic's state, so a copy found next week still points to the first one.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING

import numpy as np
from scrapy.exceptions import NotConfigured

from crawler.contracts import Kind, Outcome
from crawler.items import ArticleItem
from crawler.signals import text_file_written
from crawler.run import topic_run
from crawler.store import TopicStore
from crawler.urls.hosts import in_scope
from crawler.urls.normal import canonical_url
from pipelines.minhash import LSHIndex, jaccard, minhash
from pipelines.relevance import NotKept
from pipelines.render import render_text, text_sha256

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

_WORD_RE = re.compile(r"\w+", re.UNICODE)


def shingles(text: str, size: int) -> set[bytes]:
    """Word n-grams of the casefolded text (the whole text when shorter than one shingle)."""
    words = _WORD_RE.findall(text.casefold())
    if len(words) < size:
        return {" ".join(words).encode("utf-8")} if words else set()
    return {" ".join(words[i:i + size]).encode("utf-8") for i in range(len(words) - size + 1)}


def signature(text: str, num_perm: int, shingle: int) -> np.ndarray:
    """The text's MinHash over its word shingles (the hash scheme is fixed: signatures stored by one run stay
    comparable with the next run's)."""
    return minhash(shingles(text, shingle), num_perm)


def signature_blob(signature: np.ndarray) -> bytes:
    """A signature as the topic's state keeps it: its uint32 values widened to uint64, the layout stored
    signatures have always had."""
    return signature.astype(np.uint64).tobytes()


def signature_from_blob(blob: bytes) -> np.ndarray:
    return np.frombuffer(blob, dtype=np.uint64).astype(np.uint32)


def article_canonical_url(item: ArticleItem, outlet_hosts) -> str:
    """The article's own ``<link rel=canonical>`` when it stays on the outlet, else its final URL."""
    declared = (item.article or {}).get("canonical_url")
    if declared and in_scope(declared, outlet_hosts):
        return canonical_url(declared)
    return canonical_url(item.final_url)


class NearDuplicateIndex:
    """MinHash LSH over the files already written that are not duplicates themselves."""

    def __init__(self, state: TopicStore, threshold: float, num_perm: int) -> None:
        self.state = state
        self.num_perm = num_perm
        # LSH is tuned below the decision threshold so that borderline copies reach the exact estimate below
        self.lsh = LSHIndex(threshold=max(0.5, threshold - 0.15), num_perm=num_perm)
        self.signatures: dict[str, np.ndarray] = {}
        self.newest: dict[str, str] = {}  # NNN_<hex> -> the file of its newest version: copies are linked to it
        self.loaded = 0
        self.refresh()

    def refresh(self) -> None:
        """Load the signatures stored since the last call (other workers of a distributed crawl add some)."""
        rows = self.state.signatures(self.loaded)
        self.loaded += len(rows)
        for file, _outlet, blob in rows:
            stored = signature_from_blob(blob)
            if len(stored) != self.num_perm:
                logger.warning("signature of %s has %d values, not DEDUP_NEAR_NUM_PERM=%d: not compared",
                               file, len(stored), self.num_perm)
                continue
            self._insert(file, stored)

    def _insert(self, file: str, signature: np.ndarray) -> None:
        if file not in self.signatures:
            self.lsh.insert(file, signature)
            self.signatures[file] = signature
            self.newest[file.split(".", 1)[0]] = file  # an article's later version is added after the earlier

    def original_of(self, signature: np.ndarray, threshold: float) -> tuple[str, float] | None:
        """The earliest-written similar file and the estimated Jaccard similarity."""
        self.refresh()
        found = []
        for file in self.lsh.query(signature):
            if self.newest.get(file.split(".", 1)[0]) != file:
                continue  # an article's older version: its newest one is compared instead
            similarity = jaccard(signature, self.signatures[file])
            if similarity >= threshold:
                found.append((file, similarity))
        return min(found) if found else None

    def add(self, file: str, outlet: str, signature: np.ndarray) -> None:
        self.state.add_signature(file, outlet, signature_blob(signature))
        self.refresh()


class DedupPipeline:
    """Drops exact duplicates; marks near duplicates (settings ``NEAR_DUPLICATE_*``)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.threshold = settings.getfloat("DEDUP_NEAR_THRESHOLD")
        self.num_perm = settings.getint("DEDUP_NEAR_NUM_PERM")
        self.shingle = settings.getint("DEDUP_NEAR_SHINGLE")
        self.state: TopicStore | None = None
        self.index: NearDuplicateIndex | None = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "DedupPipeline":
        topic_run(crawler)  # NotConfigured without a topic
        pipeline = cls(crawler)
        crawler.signals.connect(pipeline.file_written, signal=text_file_written)
        return pipeline

    def open_spider(self) -> None:
        self.state = topic_run(self.crawler).store
        self.index = NearDuplicateIndex(self.state, self.threshold, self.num_perm)

    def _outlet_hosts(self, item: ArticleItem):
        topic = topic_run(self.crawler).topic
        return next(o.hosts for o in topic.outlets if o.slug == item.outlet_slug)

    def _duplicate(self, item: ArticleItem, original: str, how: str) -> NotKept:
        self.stats.inc_value(f"coverage/{item.outlet_slug}/duplicate")
        assert self.state is not None
        self.state.record_outcome(item.url, kind=Kind.ARTICLE, outlet=item.outlet_slug, outcome=Outcome.DUPLICATE,
                                  final_url=item.final_url, status=item.status, warc_file=item.warc_file,
                                  record_id=item.warc_record_id, fetched_at=item.fetched_at,
                                  detail={"duplicate_of": original, "how": how,
                                          "title": (item.article or {}).get("title") or item.hint_title})
        return NotKept(Outcome.DUPLICATE, f"not kept (same {how} as {original}): {item.final_url}")

    def process_item(self, item: ArticleItem) -> ArticleItem:
        assert self.state is not None and self.index is not None
        article = item.article or {}
        if item.version:  # a later version of a kept article (pipelines.versions): its signature replaces the last
            item.minhash = signature(article.get("text") or "", self.num_perm, self.shingle)
            return item
        item.canonical_url = article_canonical_url(item, self._outlet_hosts(item))
        existing = self.state.file_for_url(item.canonical_url)
        if existing:
            raise self._duplicate(item, existing, "canonical URL")
        item.text_content = render_text(article.get("title"), article.get("paragraphs") or [],
                                        article.get("published"))
        item.text_sha256 = text_sha256(item.text_content)
        existing = self.state.file_for_text(item.outlet_slug, item.text_sha256)
        if existing:
            raise self._duplicate(item, existing, "text")
        item.minhash = signature(article.get("text") or "", self.num_perm, self.shingle)
        original = self.index.original_of(item.minhash, self.threshold)
        if original is not None:
            item.duplicate_of, similarity = original
            item.similarity = round(similarity, 3)
            self.stats.inc_value(f"coverage/{item.outlet_slug}/near_duplicate")
        return item

    def file_written(self, item: ArticleItem) -> None:
        """Once the text file exists, index it for the items that follow (signal ``text_file_written``)."""
        assert self.state is not None and self.index is not None and item.file
        if item.duplicate_of is None and item.minhash is not None:
            self.index.add(item.file, item.outlet_slug, item.minhash)
