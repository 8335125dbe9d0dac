"""Builds the crawl's :class:`crawler.run.TopicRun` from the spider's ``topic`` argument (``-a topic=FILE``).

Extensions are built after the spider and before the engine, so every middleware and pipeline finds the run on
the crawler in its ``from_crawler``. Opening a run is where the archive is prepared: the topic loaded, its
directories created (refusing symlinks), its lock taken (a local crawl), a missing state rebuilt from the archive,
the topic file copied beside it, the store opened.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.fsutil import write_atomic
from crawler.lock import TopicLock
from crawler.paths import topic_paths
from crawler.rebuild import rebuild_state
from crawler.run import TopicRun, open_store
from crawler.topic import Topic, load_topic

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)


def open_run(settings: Any, topic_file: str) -> TopicRun:
    """Load the topic, create its directories (refusing symlinks), take its lock (a local crawl), rebuild a
    missing state from the archive, keep a copy of the topic file, and open the store."""
    topic = load_topic(topic_file, topics_dir=settings.get("TOPIC_FILES_DIR"))
    paths = topic_paths(settings.get("ARCHIVE_DIR"), topic.name,
                        allow_symlinks=settings.getbool("ARCHIVE_ALLOW_SYMLINKS")).create()
    distributed = bool(settings.get("CLUSTER_REDIS_URL"))
    lock = None if distributed else TopicLock(paths.lock).acquire()  # workers share a topic
    try:
        if not distributed and not paths.state.exists() and paths.manifest.exists():
            logger.warning("%s is missing: rebuilding it from the manifest and the WARC index", paths.state)
            rebuild_state(paths, settings.getint("DEDUP_NEAR_NUM_PERM"), settings.getint("DEDUP_NEAR_SHINGLE"))
        keep_topic_copy(topic, paths.root / "topic.toml")
        store = open_store(paths, settings)
    except BaseException:
        if lock is not None:
            lock.release()
        raise
    return TopicRun(topic, paths, store, lock, distributed)


def keep_topic_copy(topic: Topic, target: Path) -> None:
    """Keep the topic file next to its archive, so the archive explains itself (reports read the window)."""
    if not topic.path:
        return
    text = Path(topic.path).read_text(encoding="utf-8")  # valid UTF-8: TOML requires it and the topic loaded
    if target.exists() and target.read_text(encoding="utf-8", errors="replace") == text:
        return
    write_atomic(target.parent, target.name, text)  # a temporary name of its own: workers start together


class TopicRunExtension:
    """Builds the crawl's :class:`TopicRun` from the spider's ``topic`` argument (``-a topic=FILE``)."""


    def __init__(self, crawler: Crawler, run: TopicRun) -> None:
        self.run = run
        crawler.topic_run = run  # type: ignore[attr-defined]
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TopicRunExtension":
        topic_file = getattr(crawler.spider, "topic_path", None)
        if not topic_file:
            raise NotConfigured("the spider crawls no topic")
        return cls(crawler, open_run(crawler.settings, topic_file))

    def engine_stopped(self) -> None:
        """After every component's own closing (the report, the index): then the store closes, the lock goes."""
        self.run.close()
