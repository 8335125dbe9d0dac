"""A topic's store: one protocol (``base.TopicStore``), one backend per engine (``sqlite``, ``redis``)."""

from crawler.store.base import (SETTLED_KINDS, UNSETTLING_OUTCOMES, FrontierEntry, OutcomeRecord, PayloadRef,
                                TopicStore, TrackedArticle)
from crawler.store.redis import RedisStore
from crawler.store.sqlite import SqliteStore

__all__ = ["SETTLED_KINDS", "UNSETTLING_OUTCOMES", "FrontierEntry", "OutcomeRecord", "PayloadRef", "RedisStore", "SqliteStore",
           "TopicStore", "TrackedArticle"]
