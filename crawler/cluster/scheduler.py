"""scrapy-redis's scheduler, per topic, with leases and with the outlets' politeness slots taken at dequeue.

A request a worker takes stays in Redis (in the worker's lease hash) until it is done for good, so a worker that
dies loses nothing it took. The queue is one sorted set per outlet, and a worker only ever takes a request of an
outlet whose cluster-wide slot is free, taking the slot in the same Lua step: no worker waits on an outlet another
worker holds while other outlets have work due, and an outlet's next request goes to whichever worker asks first
once its delay has passed (scrapy-redis's single queue cannot tell due requests from the rest).

Scrapy asks its scheduler synchronously (``next_request``, ``enqueue_request``, ``has_pending_requests``), and no
Redis call may block the reactor: every command goes out on the worker's asyncio client
(``crawler.store.redisclient.connect_async``), in submission order (``crawler.cluster.background.InOrder``).

- ``next_request`` hands out what a background fill took from Redis: a few requests, no more than the downloader
  has free slots, since each already holds its outlet's slot (renewed like those in flight, given back at close).
  With none at hand it returns None, starts a fill and the fill wakes the engine when it has one (or when the
  first busy outlet may be free).
- ``enqueue_request`` puts the request in an outbox and says yes; the fill-and-send order then checks its
  fingerprint and queues it in one Lua step. A request seen before is dropped then, with the ``request_dropped``
  signal the engine would have sent.
- releases, slot hand-overs and renewals are sent without waiting for the answer; a hand-over is sent before the
  next fill looks at the queue, so this worker never sees its own finished download as still holding the outlet.
- ``close`` (awaited by the engine) sends everything still in the outbox and puts the requests it took but did
  not hand out back in the queue.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import deque
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.cluster.background import InOrder, detach
from crawler.cluster.scripts import (ENQUEUE, HAND_OVER_SLOT, HEARTBEAT_SECONDS, LEASE_META, POP_DUE,
                                     RENEW_SLOT, RETURN_LEASE, SLOT_HOLD_SECONDS, stop_worker,
                                     worker_id)
from crawler.compat import engine_scheduler, wake_engine
from crawler.contracts import Meta
from crawler.paths import topic_name_of
from crawler.store.redis import key
from crawler.store.redisclient import connect_async

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)
SLOT_META = Meta.CLUSTER_SLOT  # (slot key, token) of the outlet slot taken for a request
HELD_POLL_MS = 50  # how soon to look again at an outlet whose slot is held through a download (no telling when)


class TopicScheduler(Scheduler):
    """scrapy-redis's scheduler, with the topic in its key names, leases on the requests a worker takes, the
    per-outlet politeness slots taken together with the request, and its Redis I/O off the reactor's critical
    path (see the module's docstring)."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TopicScheduler":
        settings = crawler.settings
        scheduler = cls(server=None, persist=True, queue_cls=settings.get("SCHEDULER_QUEUE_CLASS"),
                        dupefilter_cls=settings.get("DUPEFILTER_CLASS"))
        scheduler.stats = crawler.stats
        scheduler.crawler = crawler
        scheduler.worker = worker_id()
        delay = settings.getfloat("CLUSTER_OUTLET_DELAY")
        scheduler.delay_ms = max(1, int(delay * 1000)) if delay > 0 else 0
        scheduler.hold_ms = int(SLOT_HOLD_SECONDS * 1000)  # renewed while the download lasts, expires if we die
        # A slot is renewed this long at most: a request lost without a trace must not block its outlet for ever.
        scheduler.max_hold = 2 * settings.getfloat("DOWNLOAD_TIMEOUT") + 60
        scheduler.concurrency = settings.getint("CONCURRENT_REQUESTS")
        scheduler.held = {}  # slot key -> (our token, when taken) for the requests taken and not yet done
        scheduler.renewal = None
        scheduler.renewing = None
        scheduler.taken = deque()  # requests taken from Redis (leased, slot held), not yet handed to the engine
        scheduler.outbox = 0  # requests accepted by enqueue_request and not yet in Redis
        scheduler.filling = False  # a fill is waiting or running
        scheduler.queue_seen = True  # the last look at the cluster's queue found requests in it
        scheduler.failed = False
        scheduler.redis_ops = InOrder(scheduler.redis_failed)
        crawler.signals.connect(scheduler.request_left, signal=signals.request_left_downloader)
        crawler.signals.connect(scheduler.response_came, signal=signals.response_received)
        return scheduler

    def open(self, spider) -> Deferred:
        """Scrapy awaits the Deferred: the client and the scripts are ready before the first request comes."""
        topic = topic_name_of(spider)
        self.spider = spider
        self.topic = topic
        self.queue_key = key(topic, "requests")
        self.lease_key = key(topic, "leases", self.worker)
        self._keys = {name: key(topic, name) for name in ("queued", "sequence", "fingerprints")}
        self._queue_prefix = key(topic, "requests", "")
        self._slot_prefix = key(topic, "slot", "")
        self.df = RFPDupeFilter(None, key=self._keys["fingerprints"])  # fingerprints and their log line only
        settings = self.crawler.settings
        self.server = connect_async(settings["REDIS_URL"], settings.getfloat("CLUSTER_REDIS_RETRY_SECONDS"))
        self._enqueue = self.server.register_script(ENQUEUE)
        self._pop_due = self.server.register_script(POP_DUE)
        self._return_lease = self.server.register_script(RETURN_LEASE)
        self._renew_slot = self.server.register_script(RENEW_SLOT)
        self._hand_over = self.server.register_script(HAND_OVER_SLOT)
        return deferred_from_coro(self._open())

    async def _open(self) -> None:
        try:
            queued = int(await self.server.get(self._keys["queued"]) or 0)
        except redis.RedisError as exc:
            self.redis_failed(exc)
            return
        self.queue_seen = queued > 0
        if queued:
            logger.info("Resuming crawl (%d requests scheduled)", queued)

    def close(self, reason: str) -> Deferred:
        """Scrapy awaits the Deferred: the outbox reaches Redis, and what was taken and not handed out goes back."""
        if self.renewal is not None and self.renewal.running:
            self.renewal.stop()
        return deferred_from_coro(self._close())

    async def _close(self) -> None:
        while self.taken:
            request = self.taken.popleft()
            self.redis_ops.submit(lambda request=request: self._give_back(request))
        await self.redis_ops.drained()

    async def _give_back(self, request: Request) -> None:
        lease = request.meta.get(LEASE_META)
        await self._return_lease(keys=[self.lease_key, self.queue_key, self._keys["queued"], self._keys["sequence"]],
                                 args=[lease, -request.priority, self._queue_prefix])
        held = request.meta.pop(SLOT_META, None)
        if held:
            self.held.pop(held[0], None)
            await self._hand_over(keys=[held[0]], args=[held[1], 1])  # no request went out: no delay to keep

    def redis_failed(self, exc: Exception) -> None:
        """Redis stayed away past the retry budget: the worker stops (one line, exit status 2)."""
        self.failed = True
        self.redis_ops.broken = True
        stop_worker(self.crawler, exc)

    # -- the queue --
    def _encode(self, request: Request) -> bytes:
        return picklecompat.dumps(request.to_dict(spider=self.spider))

    def _decode(self, data: bytes) -> Request:
        return request_from_dict(picklecompat.loads(data), spider=self.spider)

    def enqueue_request(self, request: Request) -> bool:
        """Accepted at once; the fingerprint check and the queueing happen in Redis, in order (see the module)."""
        if self.failed:  # what the frontier holds is scheduled again at the next start
            return False
        request.meta.pop(SLOT_META, None)  # a retry's copy: the slot was the old request's
        outlet = request.meta.get(Meta.OUTLET) or ""  # which outlet goes first is Redis's choice (scripts.py)
        fingerprint = "" if request.dont_filter else self.df.request_fingerprint(request)
        data = self._encode(request)
        self.outbox += 1
        self.redis_ops.submit(lambda: self._send(request, outlet, -request.priority, data, fingerprint))
        return True

    async def _send(self, request: Request, outlet: str, score: float, data: bytes, fingerprint: str) -> None:
        try:
            added = await self._enqueue(
                keys=[self.queue_key, self._queue_prefix + outlet, self._keys["queued"], self._keys["sequence"],
                      self._keys["fingerprints"]],
                args=[outlet, score, data, fingerprint])
        finally:
            self.outbox -= 1
        # The engine looks again now: at the request queued, or, once the outbox is empty, whether it is idle
        # (else it would only at its next heartbeat, seconds later).
        wake_engine(self.crawler, 0)
        old_lease = request.meta.get(LEASE_META)
        if old_lease:  # a retry or redirect of a leased request: the copy queued now stands for it, and a copy
            # dropped as seen before (a redirect to a page already fetched) ends it
            await self.server.hdel(self.lease_key, old_lease)
        if int(added) < 0:
            self.df.log(request, self.spider)
            self.crawler.signals.send_catch_log(signals.request_dropped, request=request, spider=self.spider)
            return
        self.queue_seen = True
        self.stats.inc_value("scheduler/enqueued/redis")

    def next_request(self) -> Request | None:
        """The best request among the outlets whose slot is free, leased and with its outlet's slot taken, from
        the requests the last fill took; None while a fill is under way (it wakes the engine when done)."""
        if not self.taken:  # taken only when asked for: a request taken holds its outlet for the cluster
            self._fill_soon()
            return None
        self.stats.inc_value("scheduler/dequeued/redis")
        return self.taken.popleft()

    def _fill_soon(self) -> None:
        if not self.filling and not self.failed:
            self.filling = True
            self.redis_ops.submit(self._fill)

    def _free_slots(self) -> int:
        """How many requests the downloader would take now (at least one: the engine asked for it)."""
        try:
            active = len(self.crawler.engine.downloader.active)
        except (AttributeError, RuntimeError):  # no engine (a scheduler used on its own)
            active = 0
        return max(1, self.concurrency - active)

    async def _fill(self) -> None:
        """Take due requests until the downloader's free slots are covered. When every outlet with requests is
        busy (another download in flight, or its delay counting down), the engine is woken again when the first
        of them may be free, instead of at its next 5-second heartbeat."""
        took, wait = 0, -1
        try:
            while len(self.taken) < self._free_slots():
                lease = uuid.uuid4().hex
                found, value = await self._pop_due(keys=[self.queue_key, self.lease_key, self._keys["queued"]],
                                                   args=[lease, self._queue_prefix, self._slot_prefix,
                                                         self.hold_ms if self.delay_ms else 0, HELD_POLL_MS])
                if not found:
                    wait = int(value)
                    if wait < 0 and self.queue_seen:  # the queue ran empty: the engine may find itself idle now
                        self.queue_seen = False
                        wake_engine(self.crawler, 0)
                    self.queue_seen = wait >= 0
                    break
                self.queue_seen = True
                self.taken.append(self._leased(self._decode(value), lease))
                took += 1
                wake_engine(self.crawler, 0)  # it may take this one while the next is looked for
        finally:
            self.filling = False
        if not took and wait >= 0:
            wake_engine(self.crawler, max(wait, 5) / 1000)

    def _leased(self, request: Request, lease: str) -> Request:
        request.meta[LEASE_META] = lease
        outlet = request.meta.get(Meta.OUTLET)
        if outlet and self.delay_ms:
            slot = self._slot_prefix + outlet
            request.meta[SLOT_META] = (slot, lease)
            self.held[slot] = (lease, time.monotonic())
            if self.renewal is None:
                from twisted.internet import task

                self.renewal = task.LoopingCall(self._renew)
                self.renewal.start(HEARTBEAT_SECONDS, now=False)
            self.stats.inc_value("distributed/slots_taken")
        return request

    async def queued(self) -> int:
        """Requests waiting in the cluster's queue (all outlets)."""
        return int(await self.server.get(self._keys["queued"]) or 0)

    def has_pending_requests(self) -> bool:
        """Requests at hand, on their way to Redis, or seen in the cluster's queue at the last look. A look under
        way does not count: the engine starts one each time it asks, and would never find the worker idle (the
        worker registry looks at the cluster's queue again before the worker may close)."""
        if self.failed:
            return False
        return bool(self.taken or self.outbox or self.queue_seen)

    def __len__(self) -> int:
        return len(self.taken) + self.outbox

    # -- leases --
    def release(self, lease: str | None) -> None:
        if lease:
            self.redis_ops.submit(lambda: self.server.hdel(self.lease_key, lease))

    async def return_leases_of(self, lease_key: str) -> int:
        """Put a dead worker's leased requests back in their outlets' queues; returns how many."""
        returned = 0
        for lease, value in (await self.server.hgetall(lease_key)).items():
            priority = self._decode(value.split(b"\n", 1)[1]).priority
            returned += int(await self._return_lease(
                keys=[lease_key, self.queue_key, self._keys["queued"], self._keys["sequence"]],
                args=[lease, -priority, self._queue_prefix]))
        if returned:
            self.queue_seen = True
        return returned

    # -- outlet slots --
    def request_left(self, request: Request, spider=None) -> None:
        """A download is over (response or error): its outlet's slot cools down for the outlet's delay."""
        self.slot_done(request)

    def response_came(self, response, request: Request, spider=None) -> None:
        """A response the downloader never fetched (a downloader middleware answered it from process_request, as
        the HTTP cache does) leaves no request_left_downloader behind: its slot is handed over here, or the outlet
        would stay held for minutes. After a real download this finds the slot given back already."""
        self.slot_done(request)

    def slot_done(self, request: Request) -> None:
        held = request.meta.pop(SLOT_META, None)
        if held:
            self.held.pop(held[0], None)
            self.redis_ops.submit(lambda: self._hand_over_slot(held, request.url))

    async def _hand_over_slot(self, held: tuple[str, str], url: str) -> None:
        if not await self._hand_over(keys=[held[0]], args=[held[1], self.delay_ms]):
            # it expired during the download: another worker may have been let in too soon
            self.stats.inc_value("distributed/slot_lost")
            logger.warning("the outlet slot of %s expired while its request was in flight (this worker "
                           "stalled for over %d s?): the outlet's delay may not have held", url,
                           SLOT_HOLD_SECONDS - HEARTBEAT_SECONDS)

    def _renew(self) -> None:
        """Keep the slots of the requests taken (handed out or not yet); a worker that dies stops renewing and
        its slots expire."""
        if self.renewing is not None and not self.renewing.done():
            return  # the last round is still waiting for Redis
        now = time.monotonic()
        for slot, (token, taken) in list(self.held.items()):
            if now - taken > self.max_hold:
                del self.held[slot]
        if self.held and not self.failed:
            self.renewing = detach(self._renew_all(dict(self.held)), self.redis_failed)

    async def _renew_all(self, held: dict[str, tuple[str, float]]) -> None:
        for slot, (token, _) in held.items():
            await self._renew_slot(keys=[slot], args=[token, self.hold_ms])


def _scheduler(crawler: Crawler) -> TopicScheduler | None:
    scheduler = engine_scheduler(crawler)
    return scheduler if isinstance(scheduler, TopicScheduler) else None


def release_lease(crawler: Crawler, request: Request) -> None:
    """Mark a request as done for good (called from errbacks); nothing happens in a local crawl."""
    scheduler = _scheduler(crawler)
    if scheduler is not None:
        scheduler.release(request.meta.get(LEASE_META))
