"""One crawl of one topic: its topic, paths, store and lock, built once and handed to every component.

Before this, the spider bootstrapped the archive (lock, state rebuild, topic copy, state) in ``from_crawler`` and
each pipeline re-derived paths and state from ``crawler.spider``. A :class:`TopicRun` is made by
``crawler.extensions.topicrun.TopicRunExtension`` as the crawl is set up (extensions are built after the spider,
before the engine and so before every middleware and pipeline) and put on the crawler as ``crawler.topic_run``;
components read it in their ``from_crawler`` (:func:`topic_run`, ``NotConfigured`` when it is missing: another
spider, no topic). It is closed when the engine stops: the store is closed, then the lock released.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

from crawler.lock import TopicLock
from crawler.paths import TopicPaths
from crawler.topic import Topic

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


@dataclass
class TopicRun:
    """What a crawl of a topic works on; ``store`` is the topic's state (SQLite, or Redis when distributed)."""

    topic: Topic
    paths: TopicPaths
    store: Any
    lock: TopicLock | None = None
    distributed: bool = False
    # Whether this crawl writes the topic's report when it ends: in a cluster only the worker that first finds the
    # shared crawl over does (the report is the topic's, from the shared store; every worker writing it at once
    # only delayed every exit by seconds of CPU).
    writes_report: bool = True
    closed: bool = field(default=False, repr=False)

    def close(self) -> None:
        """Close the store, then give the lock up (the store's last writes land before another crawl may start)."""
        if self.closed:
            return
        self.closed = True
        try:
            self.store.close()
        finally:
            if self.lock is not None:
                self.lock.release()


def open_store(paths: TopicPaths, settings: Any) -> Any:
    """The topic's store: its ``state.sqlite``, or in a distributed crawl its keys in Redis (named after the topic
    directory), shared by every worker."""
    url = settings.get("CLUSTER_REDIS_URL")
    if url:
        from crawler.store.redis import RedisStore

        return RedisStore(url, topic=paths.root.name, retry_seconds=settings.getfloat("CLUSTER_REDIS_RETRY_SECONDS"))
    from crawler.store.sqlite import SqliteStore

    return SqliteStore(paths.state)


def topic_run(crawler: Crawler) -> TopicRun:
    """The crawl's run, for a component's ``from_crawler``; ``NotConfigured`` when the crawl has no topic."""
    run = getattr(crawler, "topic_run", None)
    if run is None:
        raise NotConfigured("no topic: not a coverage crawl")
    return run
