"""Several workers, one crawl: the same spider on scrapy-redis, switched on by ``-s DISTRIBUTED=redis://host:port/db``.

scrapy-redis provides the shared request queue (a Redis sorted set, so priorities hold) and the shared request
fingerprints. What a news crawl needs beyond that is here, each piece kept small:

- ``crawler.store.redis.RedisStore``: the topic's state (fetched URLs and outcomes, feed validators, archived
  payload digests, text files claimed per canonical URL, MinHash signatures, the file-number counter via
  ``INCR``, site memory) in Redis instead of ``state.sqlite``, so workers never fetch an article twice, never
  write two files for one article and never reuse a number.
- ``TopicScheduler``: scrapy-redis's scheduler with keys named after the topic, and *leases*: a request taken
  from the queue is moved atomically (one Lua script) into the worker's lease hash, and leaves it only once its
  response has been handled and its item written or dropped. A worker that dies (its heartbeat key expires)
  leaves its leases behind; the others put them back in the queue. Nothing taken is lost.
- ``WorkerRegistry`` (extension): the heartbeat, taking back dead workers' leases, keeping an idle worker open
  while others still work (they may find more), a fresh fingerprint set for a new crawl, and a clean stop with
  one clear error when Redis goes away (the queue stays in Redis; the next start resumes it).
- ``ClusterPolitenessMiddleware``: the per-outlet delay for the whole cluster, not per worker: before a request,
  the worker takes the outlet's slot key with ``SET NX PX <delay>``; while another worker holds it, it waits for
  the key to expire. A slot is a lock with a lifetime, so a dead worker can never block an outlet.

Everything else (WARC files per worker, named with host and pid; manifest lines appended with one ``O_APPEND``
write each; ``scrapy reindex`` over all files) works unchanged on a shared ``ARCHIVE_DIR``.
"""

from __future__ import annotations

import logging
import os
import socket
import uuid
from collections import Counter
from typing import TYPE_CHECKING, AsyncIterator

import redis
from scrapy import signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.settings import SETTINGS_PRIORITIES, BaseSettings
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.items import ArticleItem
from crawler.paths import topic_name_of
from crawler.state import share_state_in
from crawler.store.redis import connect, key

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

logger = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 2.0
WORKER_TTL_SECONDS = 8  # a worker silent this long is dead; its leases go back to the queue
LEASE_META = "lease"
SLOT_META = "_cluster_slot"
IN_FLIGHT_META = "_outlet_in_flight"
POLL_MS = 50  # how often a request waiting for its outlet's slot looks again

_POP_AND_LEASE = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not item then return false end
redis.call('ZREM', KEYS[1], item)
redis.call('HSET', KEYS[2], ARGV[1], item)
return item
"""
_RETURN_LEASE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) return 1 end
return 0
"""
_HAND_OVER_SLOT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class DistributedAddon:
    """Turns the crawl distributed when ``DISTRIBUTED`` holds a Redis URL; does nothing otherwise."""

    def update_settings(self, settings: BaseSettings) -> None:
        url = settings.get("DISTRIBUTED")
        if not url:
            return
        settings.set("REDIS_URL", url, priority="addon")
        settings.set("SCHEDULER", "crawler.distributed.TopicScheduler", priority="addon")
        settings.set("SCHEDULER_PERSIST", True, priority="addon")  # the queue outlives any one worker
        settings.set("SCHEDULER_QUEUE_CLASS", "scrapy_redis.queue.PriorityQueue", priority="addon")
        settings.set("DUPEFILTER_CLASS", "scrapy_redis.dupefilter.RFPDupeFilter", priority="addon")
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES",
                                                "crawler.distributed.ClusterPolitenessMiddleware", 105)
        settings.set_in_component_priority_dict("SPIDER_MIDDLEWARES", "crawler.distributed.LeaseSpiderMiddleware", 950)
        settings.set_in_component_priority_dict("EXTENSIONS", "crawler.distributed.WorkerRegistry", 10)
        # The per-outlet delay becomes the cluster's: a worker's own download slots must not add theirs (a
        # request would leave later than its turn, closer to the next worker's request to the same outlet).
        settings.set("DISTRIBUTED_OUTLET_DELAY", settings.getfloat("DOWNLOAD_DELAY"), priority="addon")
        settings.set("DOWNLOAD_DELAY", 0, priority=SETTINGS_PRIORITIES["cmdline"] + 1)
        share_state_in(url)


class TopicScheduler(Scheduler):
    """scrapy-redis's scheduler, with the topic in its key names and leases on the requests a worker takes."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TopicScheduler":
        settings = crawler.settings
        scheduler = cls(server=connect(settings["REDIS_URL"]), persist=True,
                        queue_cls=settings.get("SCHEDULER_QUEUE_CLASS"),
                        dupefilter_cls=settings.get("DUPEFILTER_CLASS"))
        scheduler.stats = crawler.stats
        scheduler.crawler = crawler
        scheduler.worker = worker_id()
        scheduler.set_aside = []
        scheduler.enqueued = Counter()
        scheduler.max_set_aside = 2 * max(1, settings.getint("CONCURRENT_REQUESTS", 16))
        scheduler.in_flight = Counter()
        crawler.signals.connect(scheduler.request_left, signal=signals.request_left_downloader)
        return scheduler

    def open(self, spider) -> None:
        topic = topic_name_of(spider)
        self.topic = topic
        self.queue_key = key(topic, "requests")
        self.lease_key = key(topic, "leases", self.worker)
        self.df = RFPDupeFilter(self.server, key=key(topic, "fingerprints"))
        super().open(spider)
        self._pop_and_lease = self.server.register_script(_POP_AND_LEASE)
        self._return_lease = self.server.register_script(_RETURN_LEASE)

    def enqueue_request(self, request: Request) -> bool:
        """scrapy-redis's enqueue, with one change to the order: within one priority, requests of different
        outlets alternate (the score gets a fraction that grows with each request of the same outlet), so the
        workers' requests spread over the outlets instead of queueing behind one outlet's slot."""
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        outlet = request.meta.get("outlet") or ""
        self.enqueued[outlet] += 1
        spread = min(self.enqueued[outlet], 999) / 1000
        self.server.execute_command("ZADD", self.queue_key, -request.priority + spread,
                                    self.queue._encode_request(request))
        self.stats.inc_value("scheduler/enqueued/redis")
        added = True
        old_lease = request.meta.get(LEASE_META)
        if old_lease:  # a retry or redirect of a leased request: the copy in the queue now stands for it
            self.release(old_lease)
        return added

    def next_request(self) -> Request | None:
        """The next request whose outlet has no download of this worker in flight.

        The queue is ordered by priority, so one outlet's requests come in runs; sent straight to the downloader
        they would all wait for that outlet's cluster slot and hold every place this worker has in flight. A
        request of a busy outlet is set aside (it stays leased, so it is not lost) for when the outlet is free.
        """
        for index, request in enumerate(self.set_aside):
            if not self.in_flight[request.meta.get("outlet")]:
                return self._hand_out(self.set_aside.pop(index))
        while len(self.set_aside) < self.max_set_aside:  # hoarding more would starve the other workers
            lease = uuid.uuid4().hex
            data = self._pop_and_lease(keys=[self.queue_key, self.lease_key], args=[lease])
            if not data:
                return None
            request = self.queue._decode_request(data)
            request.meta[LEASE_META] = lease
            self.stats.inc_value("scheduler/dequeued/redis")
            if request.meta.get("outlet") and self.in_flight[request.meta["outlet"]]:
                self.set_aside.append(request)
                continue
            return self._hand_out(request)
        return None

    def _hand_out(self, request: Request) -> Request:
        outlet = request.meta.get("outlet")
        if outlet:
            self.in_flight[outlet] += 1
            request.meta[IN_FLIGHT_META] = outlet
        return request

    def request_left(self, request: Request, spider=None) -> None:
        outlet = request.meta.pop(IN_FLIGHT_META, None)
        if outlet:
            self.in_flight[outlet] -= 1

    def has_pending_requests(self) -> bool:
        return bool(self.set_aside) or super().has_pending_requests()

    def __len__(self) -> int:
        return len(self.set_aside) + super().__len__()

    def release(self, lease: str | None) -> None:
        if lease:
            self.server.hdel(self.lease_key, lease)

    def return_leases_of(self, lease_key: str) -> int:
        """Put a dead worker's leased requests back in the queue; returns how many."""
        returned = 0
        for lease, data in self.server.hgetall(lease_key).items():
            priority = self.queue._decode_request(data).priority
            returned += int(self._return_lease(keys=[lease_key, self.queue_key], args=[lease, -priority, data]))
        return returned


def _scheduler(crawler: Crawler) -> TopicScheduler | None:
    engine = getattr(crawler, "engine", None)
    scheduler = getattr(engine, "_slot", None) and engine._slot.scheduler
    return scheduler if isinstance(scheduler, TopicScheduler) else None


def release_lease(crawler: Crawler, request: Request) -> None:
    """Mark a request as done for good (called from errbacks); nothing happens in a local crawl."""
    scheduler = _scheduler(crawler)
    if scheduler is not None:
        scheduler.release(request.meta.get(LEASE_META))


class LeaseSpiderMiddleware:
    """A request's lease ends when its callback has run, or, when it yields an article, once that article's
    text file is written or the article is dropped."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        for signal in (signals.item_scraped, signals.item_dropped, signals.item_error):
            crawler.signals.connect(self.item_done, signal=signal)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "LeaseSpiderMiddleware":
        if not crawler.settings.get("DISTRIBUTED"):
            raise NotConfigured
        return cls(crawler)

    async def process_spider_output(self, response, result: AsyncIterator) -> AsyncIterator:
        lease = response.request.meta.get(LEASE_META) if response.request is not None else None
        carried = False
        async for output in result:
            if lease and isinstance(output, ArticleItem):
                output.lease, carried = lease, True
            yield output
        if lease and not carried:
            release_lease(self.crawler, response.request)

    def process_spider_exception(self, response, exception):
        if response.request is not None:
            release_lease(self.crawler, response.request)

    def item_done(self, item, **kwargs) -> None:
        scheduler = _scheduler(self.crawler)
        if scheduler is not None and isinstance(item, ArticleItem):
            scheduler.release(item.lease)


class WorkerRegistry:
    """Heartbeat, leases of dead workers, when to close, and what to do when Redis goes away."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.redis = connect(crawler.settings["REDIS_URL"])
        self.worker = worker_id()
        self.topic: str | None = None
        self.beat: task.LoopingCall | None = None
        self.failed = False

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "WorkerRegistry":
        if not crawler.settings.get("DISTRIBUTED"):
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
                self.redis.delete(self._key("fingerprints"))  # a new crawl: yesterday's fingerprints must not
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
        if self.failed:
            return
        self.failed = True
        logger.error("Redis at %s is unreachable (%s): this worker stops; the queue stays in Redis and a new "
                     "start resumes it once Redis is back", self.crawler.settings["REDIS_URL"], exc)
        self.crawler.stats.set_value("distributed/redis_lost", 1)
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        from twisted.internet import reactor

        reactor.callLater(0, deferred_from_coro, self.crawler.engine.close_spider_async(reason="redis_unavailable"))

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
            if busy or (scheduler is not None and len(scheduler.queue)):
                raise DontCloseSpider("other workers are still crawling this topic")
        except redis.RedisError as exc:
            self.redis_lost(exc)

    def spider_closed(self, spider, reason: str) -> None:
        if self.beat is not None and self.beat.running:
            self.beat.stop()
        if self.failed:
            return
        try:
            self.redis.delete(self._key("worker", self.worker), self._key("leases", self.worker))
        except redis.RedisError as exc:
            logger.error("could not unregister worker %s: %s", self.worker, exc)


class ClusterPolitenessMiddleware:
    """Per-outlet politeness for the whole cluster: one request at a time per outlet, and ``DOWNLOAD_DELAY``
    between the end of one and the start of the next, whichever worker sends them.

    The outlet's slot is a Redis key taken with ``SET NX`` before the request and, once the response (or error)
    is in, given ``DOWNLOAD_DELAY`` more to live; the next request of any worker waits for it to expire. Holding
    the slot through the download (not just for the delay) keeps the spacing exact even when a worker's reactor
    is late to send what it took a slot for. The key always carries an expiry (the download timeout while held),
    so a worker that dies never blocks an outlet. It sits after the robots.txt check, which may hold a request.
    """

    def __init__(self, crawler: Crawler, delay: float) -> None:
        self.crawler = crawler
        self.redis = connect(crawler.settings["REDIS_URL"])
        self.delay_ms = max(1, int(delay * 1000))
        self.hold_ms = int(WORKER_TTL_SECONDS * 1000)  # renewed while the download lasts, expires if we die
        self._hand_over = self.redis.register_script(_HAND_OVER_SLOT)
        self.held: dict[str, str] = {}  # slot key -> our token, for the downloads in flight
        self.renewal = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ClusterPolitenessMiddleware":
        delay = crawler.settings.getfloat("DISTRIBUTED_OUTLET_DELAY")
        if not crawler.settings.get("DISTRIBUTED") or delay <= 0:
            raise NotConfigured
        middleware = cls(crawler, delay)
        # Every request that reached the downloader leaves it (response or error), whatever later middlewares
        # make of the response (a redirect or a retry returns a new request and skips our process_response).
        crawler.signals.connect(middleware.request_left, signal=signals.request_left_downloader)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    def spider_closed(self, spider) -> None:
        if self.renewal is not None and self.renewal.running:
            self.renewal.stop()

    async def process_request(self, request: Request) -> None:
        from twisted.internet import reactor, task

        outlet = request.meta.get("outlet")
        if not outlet:
            return None
        slot = key(topic_name_of(self.crawler.spider), "slot", outlet)
        token = uuid.uuid4().hex
        while not self.redis.set(slot, token, nx=True, px=self.hold_ms):
            # held through a download (no telling when it ends) or counting down the delay: look again soon
            wait_ms = min(max(self.redis.pttl(slot), 5), POLL_MS)
            await maybe_deferred_to_future(task.deferLater(reactor, wait_ms / 1000, lambda: None))
        request.meta[SLOT_META] = (slot, token)
        self.held[slot] = token
        if self.renewal is None:
            self.renewal = task.LoopingCall(self._renew)
            self.renewal.start(HEARTBEAT_SECONDS, now=False)
        self.crawler.stats.inc_value("distributed/slots_taken")
        return None

    def _renew(self) -> None:
        """Keep the slots of downloads in flight; a worker that dies stops renewing and its slots expire."""
        try:
            for slot, token in list(self.held.items()):
                self._hand_over(keys=[slot], args=[token, self.hold_ms])
        except redis.RedisError as exc:
            logger.error("could not renew outlet slots in Redis: %s", exc)

    def _done(self, request: Request) -> None:
        held = request.meta.pop(SLOT_META, None)
        if held:
            self.held.pop(held[0], None)
            self._hand_over(keys=[held[0]], args=[held[1], self.delay_ms])

    def request_left(self, request: Request, spider=None) -> None:
        self._done(request)

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._done(request)  # refused by a later middleware before reaching the downloader
        return None
