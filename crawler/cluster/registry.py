"""The workers' registry in Redis: who is alive (heartbeat keys that expire), whose leases go back to the queue,
when an idle worker may close, what the first worker of a crawl clears or counts again, and a clean stop when
Redis goes away.

Its Redis commands go out on the worker's asyncio client and never block the reactor: the heartbeat is sent
without waiting for the answer, and ``spider_idle`` (which Scrapy calls synchronously) decides from what the last
look at the cluster found (:meth:`WorkerRegistry.look`, run in the background while the worker is idle), keeping
the worker open until a look that began after its last request says the crawl is over.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy_redis import picklecompat

from crawler.cluster.background import detach
from crawler.cluster.robots import robots_key
from crawler.cluster.scheduler import _scheduler
from crawler.compat import wake_engine
from crawler.contracts import Meta, counts_as_listing
from crawler.cluster.scripts import HEARTBEAT_SECONDS, WORKER_TTL_SECONDS, stop_worker, worker_id
from crawler.store.redis import LISTINGS_IN_FLIGHT, key
from crawler.store.redisclient import connect_async
from crawler.paths import topic_name_of

if TYPE_CHECKING:
    import asyncio

    from scrapy.crawler import Crawler
    from twisted.internet import task

logger = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 1.0  # how often an idle worker looks whether the cluster's crawl is over
REPORT_TURN_SECONDS = 24 * 3600  # the claim on writing a crawl's report; a new crawl clears it


class WorkerRegistry:
    """Heartbeat, leases of dead workers, when to close, and what to do when Redis goes away."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.redis = None  # the asyncio client, made on the running event loop when the spider opens
        self.worker = worker_id()
        self.topic: str | None = None
        self.beat: task.LoopingCall | None = None
        self.beating: asyncio.Future | None = None
        self.looking: asyncio.Future | None = None
        self.over: tuple | None = None  # the activity a look that found the crawl over began with
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

    async def live_workers(self) -> set[str]:
        prefix = self._key("worker", "")
        return {k.decode()[len(prefix):] async for k in self.redis.scan_iter(match=prefix + "*")}

    async def spider_opened(self, spider) -> None:
        settings = self.crawler.settings
        self.redis = connect_async(settings["REDIS_URL"], settings.getfloat("CLUSTER_REDIS_RETRY_SECONDS"))
        self.topic = topic_name_of(spider)
        try:
            async with self.redis.lock(self._key("opening"), timeout=30, blocking_timeout=60):
                others = await self.live_workers() - {self.worker}
                leases = await self._lease_keys()
                if not others and not await self.redis.exists(self._key("requests")) and not leases:
                    # a new crawl: yesterday's fingerprints must not stop today's requests, nor its report turn
                    # or the listings a killed worker left counted as in flight, and each host's robots.txt is
                    # read again
                    await self.redis.delete(self._key("fingerprints"), self._key("report"), robots_key(self.topic),
                                            self._key(LISTINGS_IN_FLIGHT))
                    logger.info("distributed crawl of %s starts (worker %s)", self.topic, self.worker)
                else:
                    if not others:
                        await self._recount_listings(leases)
                    logger.info("worker %s joins the crawl of %s (%d other worker(s))", self.worker, self.topic,
                                len(others))
                await self._beat()
        except redis.RedisError as exc:
            self.redis_lost(exc)
            return
        from twisted.internet import task

        self.beat = task.LoopingCall(self.heartbeat)
        self.beat.start(HEARTBEAT_SECONDS, now=False)

    async def _recount_listings(self, lease_keys: list[str]) -> None:
        """A crawl resumed with no worker alive: none is reading a listing, so each outlet's count of listings in
        flight (``TopicStore.add_listings_in_flight``) is made again from the listings the queue and the leases
        hold. A worker killed between counting a listing and queueing it left the count too high, and every
        worker would hold that outlet's articles until it ran out of work."""
        counts: Counter[str] = Counter()

        def count(data: bytes) -> None:
            meta = picklecompat.loads(data).get("meta") or {}
            if counts_as_listing(meta):
                counts[meta[Meta.OUTLET]] += 1

        async for queue in self.redis.scan_iter(match=self._key("requests", "*")):
            async for member, _score in self.redis.zscan_iter(queue):
                count(member)
        for lease_key in lease_keys:
            for value in await self.redis.hvals(lease_key):
                count(value.split(b"\n", 1)[1])
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(self._key(LISTINGS_IN_FLIGHT))
            if counts:
                pipe.hset(self._key(LISTINGS_IN_FLIGHT), mapping=dict(counts))
            await pipe.execute()

    async def _lease_keys(self) -> list[str]:
        return [k.decode() async for k in self.redis.scan_iter(match=self._key("leases", "*"))
                if await self.redis.hlen(k)]

    def heartbeat(self) -> None:
        if self.beating is None or self.beating.done():  # the last one may still be waiting for Redis
            self.beating = detach(self._beat(), self.redis_lost)

    async def _beat(self) -> None:
        await self.redis.set(self._key("worker", self.worker), "1", ex=WORKER_TTL_SECONDS)

    def redis_lost(self, exc: Exception) -> None:
        self.failed = True
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        stop_worker(self.crawler, exc)

    def _activity(self) -> tuple:
        """What changes whenever this worker queues or takes a request: a look at the cluster that began before
        a change may have missed what it led to."""
        stats = self.crawler.stats
        return (stats.get_value("scheduler/enqueued/redis", 0), stats.get_value("scheduler/dequeued/redis", 0),
                stats.get_value("distributed/leases_returned", 0))

    def spider_idle(self, spider) -> None:
        """This worker has nothing to do: it closes only when a look at the cluster, begun since its last
        request, found no request queued and no other worker holding one; until then it stays open."""
        if self.failed:
            return
        if self.over is not None and self.over == self._activity():
            return  # the crawl is over: Scrapy closes the spider
        self.over = None
        if self.looking is None or self.looking.done():
            self.looking = detach(self.look(), self.redis_lost)
        wake_engine(self.crawler, IDLE_CHECK_SECONDS)  # not only at the engine's 5-second heartbeat
        raise DontCloseSpider("other workers are still crawling this topic")

    async def look(self) -> None:
        """Whether the cluster's crawl is over: dead workers' leases are put back in the queue first."""
        began = self._activity()
        live = await self.live_workers()
        scheduler = _scheduler(self.crawler)
        busy = False
        for lease_key in await self._lease_keys():
            owner = lease_key.rsplit(":", 1)[1]
            if owner == self.worker:
                continue
            if owner not in live and scheduler is not None:
                returned = await scheduler.return_leases_of(lease_key)
                if returned:
                    self.crawler.stats.inc_value("distributed/leases_returned", returned)
                    logger.warning("worker %s is gone: %d of its requests are back in the queue", owner, returned)
            busy = True
        if busy or (scheduler is not None and await scheduler.queued()):
            return  # spider_idle asks again in IDLE_CHECK_SECONDS
        await self._take_report_turn()
        self.over = began
        wake_engine(self.crawler, 0)

    async def _take_report_turn(self) -> None:
        """The shared crawl is over: the first worker to see it writes the topic's report, the others do not."""
        run = getattr(self.crawler, "topic_run", None)
        if run is None or not run.writes_report:
            return
        await self.redis.set(self._key("report"), self.worker, nx=True, ex=REPORT_TURN_SECONDS)
        owner = (await self.redis.get(self._key("report")) or b"").decode()
        if owner and owner != self.worker:
            run.writes_report = False
            self.crawler.stats.set_value("distributed/report_left_to", owner)

    async def spider_closed(self, spider, reason: str) -> None:
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        if self.failed or self.redis is None or self.crawler.stats.get_value("distributed/redis_lost"):
            return
        try:
            await self.redis.delete(self._key("worker", self.worker), self._key("leases", self.worker))
        except redis.RedisError as exc:
            logger.error("could not unregister worker %s: %s", self.worker, exc)
