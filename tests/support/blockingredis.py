"""A Scrapy extension for tests: every blocking Redis command a worker sends from its reactor thread while it
crawls, written to ``BLOCKING_REDIS_LOG`` (one JSON line each: the command and the innermost project frame).

The topic store's commands (``crawler.store.redis``, asked synchronously by the pipelines and the spider's
frontier) are the documented exception and are left out; anything else the cluster's components send through
redis-py's blocking client (``redis.Redis.execute_command``, a pipeline's ``execute``) shows up. Enable it with
``-s BLOCKING_REDIS_LOG=path`` and ``-s EXTENSIONS=`` the project's extensions plus this one (``-s`` replaces the
whole dict).
"""

from __future__ import annotations

import json
import threading
import traceback
from pathlib import Path

import redis
import redis.client
from scrapy import signals

REPO = Path(__file__).resolve().parents[2]
EXEMPT = str(REPO / "crawler" / "store" / "redis.py")
OURS = (str(REPO / "crawler"), str(REPO / "pipelines"))


class BlockingRedisProbe:
    def __init__(self, crawler) -> None:
        self.log = open(crawler.settings["BLOCKING_REDIS_LOG"], "a")
        self.crawling = True  # from the crawl's start (the components' spider_opened) to its end
        self.originals = (redis.Redis.execute_command, redis.client.Pipeline.execute)
        probe = self

        def execute_command(client, *args, **options):
            probe.seen(args[0] if args else "?")
            return probe.originals[0](client, *args, **options)

        def execute(pipeline, *args, **kwargs):
            probe.seen("pipeline")
            return probe.originals[1](pipeline, *args, **kwargs)

        redis.Redis.execute_command = execute_command
        redis.client.Pipeline.execute = execute
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler) -> "BlockingRedisProbe":
        return cls(crawler)

    def spider_closed(self, spider, reason: str) -> None:
        self.crawling = False
        self.log.close()

    def seen(self, command) -> None:
        if not self.crawling or threading.current_thread() is not threading.main_thread():
            return
        stack = traceback.extract_stack()[:-2]
        if any(frame.filename == EXEMPT for frame in stack):
            return
        ours = [frame for frame in stack if frame.filename.startswith(OURS)]
        where = f"{ours[-1].filename}:{ours[-1].lineno} {ours[-1].name}" if ours else "outside the project"
        self.log.write(json.dumps({"command": str(command), "where": where}) + "\n")
        self.log.flush()
