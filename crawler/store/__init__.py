"""A topic's store: one protocol (``base.TopicStore``), one backend per engine (``sqlite``, ``redis``)."""

from crawler.store.base import SETTLED_KINDS, FrontierEntry, PayloadRef, TopicStore
from crawler.store.redis import RedisStore
from crawler.store.sqlite import SqliteStore

__all__ = ["SETTLED_KINDS", "FrontierEntry", "PayloadRef", "RedisStore", "SqliteStore", "TopicStore"]
