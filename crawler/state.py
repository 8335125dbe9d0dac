"""The process-wide store of each topic, so every component of a crawl shares one connection.

The store itself lives in ``crawler.store``: ``state.sqlite`` beside the archive (``crawler.store.sqlite``), or
the topic's keys in Redis when the crawl is distributed (``crawler.store.redis``).
"""

from __future__ import annotations

from pathlib import Path

from crawler.lock import TopicLock, TopicLocked  # noqa: F401 - their old home; importers still use it
from crawler.store.base import TopicStore
from crawler.store.redis import RedisStore
from crawler.store.sqlite import SqliteStore

_STATES: dict[Path, TopicStore] = {}
_SHARED_URL: str | None = None


def share_state_in(redis_url: str | None) -> None:
    """Keep every topic's state in Redis from now on (several workers, one crawl); None goes back to SQLite."""
    global _SHARED_URL
    _SHARED_URL = redis_url


def open_state(path: str | Path) -> TopicStore:
    """The process-wide store of one topic, so every component of a crawl shares one connection: the SQLite file
    at ``path``, or, in a distributed crawl, the topic's keys in Redis (named after the topic directory)."""
    key = Path(path).resolve()
    if key not in _STATES:
        if _SHARED_URL:
            _STATES[key] = RedisStore(_SHARED_URL, topic=key.parent.name)
        else:
            _STATES[key] = SqliteStore(key)
    return _STATES[key]


def close_state(path: str | Path) -> None:
    state = _STATES.pop(Path(path).resolve(), None)
    if state is not None:
        state.close()
