"""The workers' registry in Redis: who is alive (heartbeat keys that expire), whose leases go back to the queue,
when an idle worker may close, and a clean stop when Redis goes away."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured

from crawler.cluster.scheduler import _scheduler
from crawler.compat import wake_engine
from crawler.cluster.scripts import HEARTBEAT_SECONDS, WORKER_TTL_SECONDS, stop_worker, worker_id
from crawler.store.redis import key
from crawler.store.redisclient import connect
from crawler.paths import topic_name_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet import task

logger = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 1.0  # how often an idle worker looks whether the cluster's crawl is over
REPORT_TURN_SECONDS = 24 * 3600  # the claim on writing a crawl's report; a new crawl clears it


class WorkerRegistry:
    """Heartbeat, leases of dead workers, when to close, and what to do when Redis goes away."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.redis = connect(crawler.settings["REDIS_URL"], crawler.settings.getfloat("CLUSTER_REDIS_RETRY_SECONDS"))
        self.worker = worker_id()
        self.topic: str | None = None
        self.beat: task.LoopingCall | None = None
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "WorkerRegistry":
        if not crawler.settings.get("CLUSTER_REDIS_URL"):
            raise NotConfigured
        registry = cls(crawler)
        crawler.signals.connect(registry.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(registry.spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(registry.spider_closed, signal=signals.spider_closed)
        return registry

    def _key(self, *parts: str) -> str:
        assert self.topic is not None
        return key(self.topic, *parts)

    def live_workers(self) -> set[str]:
        prefix = self._key("worker", "")
        return {k.decode()[len(prefix):] for k in self.redis.scan_iter(match=prefix + "*")}

    def spider_opened(self, spider) -> None:
        self.topic = topic_name_of(spider)
        with self.redis.lock(self._key("opening"), timeout=30, blocking_timeout=60):
            others = self.live_workers() - {self.worker}
            if not others and not self.redis.exists(self._key("requests")) and not self._lease_keys():
                # a new crawl: yesterday's fingerprints must not stop today's requests, nor its report turn today's
                self.redis.delete(self._key("fingerprints"), self._key("report"))
                logger.info("distributed crawl of %s starts (worker %s)", self.topic, self.worker)
            else:
                logger.info("worker %s joins the crawl of %s (%d other worker(s))", self.worker, self.topic,
                            len(others))
            self.heartbeat()
        from twisted.internet import task

        self.beat = task.LoopingCall(self.heartbeat)
        self.beat.start(HEARTBEAT_SECONDS, now=False)

    def _lease_keys(self) -> list[str]:
        return [k.decode() for k in self.redis.scan_iter(match=self._key("leases", "*")) if self.redis.hlen(k)]

    def heartbeat(self) -> None:
        try:
            self.redis.set(self._key("worker", self.worker), "1", ex=WORKER_TTL_SECONDS)
        except redis.RedisError as exc:
            self.redis_lost(exc)

    def redis_lost(self, exc: Exception) -> None:
        self.failed = True
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        stop_worker(self.crawler, exc)

    def spider_idle(self, spider) -> None:
        if self.failed:
            return
        try:
            live = self.live_workers()
            scheduler = _scheduler(self.crawler)
            busy = False
            for lease_key in self._lease_keys():
                owner = lease_key.rsplit(":", 1)[1]
                if owner == self.worker:
                    continue
                if owner not in live and scheduler is not None:
                    returned = scheduler.return_leases_of(lease_key)
                    if returned:
                        self.crawler.stats.inc_value("distributed/leases_returned", returned)
                        logger.warning("worker %s is gone: %d of its requests are back in the queue", owner,
                                       returned)
                busy = True
            if busy or (scheduler is not None and scheduler.queued()):
                wake_engine(self.crawler, IDLE_CHECK_SECONDS)  # not only at the engine's 5-second heartbeat
                raise DontCloseSpider("other workers are still crawling this topic")
            self._take_report_turn()
        except redis.RedisError as exc:
            self.redis_lost(exc)

    def _take_report_turn(self) -> None:
        """The shared crawl is over: the first worker to see it writes the topic's report, the others do not."""
        run = getattr(self.crawler, "topic_run", None)
        if run is None or not run.writes_report:
            return
        self.redis.set(self._key("report"), self.worker, nx=True, ex=REPORT_TURN_SECONDS)
        owner = (self.redis.get(self._key("report")) or b"").decode()
        if owner and owner != self.worker:
            run.writes_report = False
            self.crawler.stats.set_value("distributed/report_left_to", owner)

    def spider_closed(self, spider, reason: str) -> None:
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        if self.failed:
            return
        try:
            self.redis.delete(self._key("worker", self.worker), self._key("leases", self.worker))
        except redis.RedisError as exc:
            logger.error("could not unregister worker %s: %s", self.worker, exc)
