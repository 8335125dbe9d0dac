"""scrapy-redis's scheduler, per topic, with leases and with the outlets' politeness slots taken at dequeue.

A request a worker takes stays in Redis (in the worker's lease hash) until it is done for good, so a worker that
dies loses nothing it took. The queue is one sorted set per outlet, and a worker only ever takes a request of an
outlet whose cluster-wide slot is free, taking the slot in the same Lua step: no worker waits on an outlet another
worker holds while other outlets have work due, and an outlet's next request goes to whichever worker asks first
once its delay has passed (scrapy-redis's single queue cannot tell due requests from the rest).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections import Counter
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.utils.request import request_from_dict
from scrapy_redis import picklecompat
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.cluster.scripts import (ENQUEUE, HAND_OVER_SLOT, HEARTBEAT_SECONDS, LEASE_META, POP_DUE,
                                     RENEW_SLOT, RETURN_LEASE, SLOT_HOLD_SECONDS, stop_worker,
                                     worker_id)
from crawler.compat import engine_scheduler, wake_engine
from crawler.contracts import Meta
from crawler.paths import topic_name_of
from crawler.store.redis import key
from crawler.store.redisclient import connect

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

logger = logging.getLogger(__name__)
SLOT_META = Meta.CLUSTER_SLOT  # (slot key, token) of the outlet slot taken for a request
HELD_POLL_MS = 50  # how soon to look again at an outlet whose slot is held through a download (no telling when)


class TopicScheduler(Scheduler):
    """scrapy-redis's scheduler, with the topic in its key names, leases on the requests a worker takes, and the
    per-outlet politeness slots taken together with the request."""

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "TopicScheduler":
        settings = crawler.settings
        scheduler = cls(server=connect(settings["REDIS_URL"], settings.getfloat("CLUSTER_REDIS_RETRY_SECONDS")), persist=True,
                        queue_cls=settings.get("SCHEDULER_QUEUE_CLASS"),
                        dupefilter_cls=settings.get("DUPEFILTER_CLASS"))
        scheduler.stats = crawler.stats
        scheduler.crawler = crawler
        scheduler.worker = worker_id()
        delay = settings.getfloat("CLUSTER_OUTLET_DELAY")
        scheduler.delay_ms = max(1, int(delay * 1000)) if delay > 0 else 0
        scheduler.hold_ms = int(SLOT_HOLD_SECONDS * 1000)  # renewed while the download lasts, expires if we die
        # A slot is renewed this long at most: a request lost without a trace must not block its outlet for ever.
        scheduler.max_hold = 2 * settings.getfloat("DOWNLOAD_TIMEOUT") + 60
        scheduler.enqueued = Counter()
        scheduler.held = {}  # slot key -> (our token, when taken) for the requests handed out and not yet done
        scheduler.renewal = None
        crawler.signals.connect(scheduler.request_left, signal=signals.request_left_downloader)
        return scheduler

    def open(self, spider) -> None:
        topic = topic_name_of(spider)
        self.topic = topic
        self.queue_key = key(topic, "requests")
        self.lease_key = key(topic, "leases", self.worker)
        self._keys = {name: key(topic, name) for name in ("queued", "sequence")}
        self._queue_prefix = key(topic, "requests", "")
        self._slot_prefix = key(topic, "slot", "")
        self.df = RFPDupeFilter(self.server, key=key(topic, "fingerprints"))
        super().open(spider)
        self._enqueue = self.server.register_script(ENQUEUE)
        self._pop_due = self.server.register_script(POP_DUE)
        self._return_lease = self.server.register_script(RETURN_LEASE)
        self._renew_slot = self.server.register_script(RENEW_SLOT)
        self._hand_over = self.server.register_script(HAND_OVER_SLOT)

    def close(self, reason: str) -> None:
        if self.renewal is not None and self.renewal.running:
            self.renewal.stop()
        super().close(reason)

    # -- the queue --
    def _encode(self, request: Request) -> bytes:
        return picklecompat.dumps(request.to_dict(spider=self.spider))

    def _decode(self, data: bytes) -> Request:
        return request_from_dict(picklecompat.loads(data), spider=self.spider)

    def enqueue_request(self, request: Request) -> bool:
        try:
            return self._enqueue_request(request)
        except redis.RedisError as exc:  # what the frontier holds is scheduled again at the next start
            stop_worker(self.crawler, exc)
            return False

    def _enqueue_request(self, request: Request) -> bool:
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        request.meta.pop(SLOT_META, None)  # a retry's copy: the slot was the old request's
        outlet = request.meta.get(Meta.OUTLET) or ""
        # Within one priority an outlet's n-th request ranks with the other outlets' n-th: a worker that finds
        # two outlets free takes from both in turn rather than all of one outlet's first.
        self.enqueued[outlet] += 1
        spread = min(self.enqueued[outlet], 999) / 1000
        self._enqueue(keys=[self.queue_key, self._queue_prefix + outlet, self._keys["queued"], self._keys["sequence"]],
                      args=[outlet, -request.priority + spread, self._encode(request)])
        self.stats.inc_value("scheduler/enqueued/redis")
        old_lease = request.meta.get(LEASE_META)
        if old_lease:  # a retry or redirect of a leased request: the copy in the queue now stands for it
            self.release(old_lease)
        return True

    def next_request(self) -> Request | None:
        """The best request among the outlets whose slot is free, leased and with its outlet's slot taken.

        When every outlet with requests is busy (another download in flight, or its delay counting down), the
        engine is woken again when the first of them may be free, instead of at its next 5-second heartbeat.
        """
        lease = uuid.uuid4().hex
        try:
            found, value = self._pop_due(keys=[self.queue_key, self.lease_key, self._keys["queued"]],
                                         args=[lease, self._queue_prefix, self._slot_prefix,
                                               self.hold_ms if self.delay_ms else 0, HELD_POLL_MS])
        except redis.RedisError as exc:
            stop_worker(self.crawler, exc)
            return None
        if not found:
            if int(value) >= 0:
                wake_engine(self.crawler, max(int(value), 5) / 1000)
            return None
        request = self._decode(value)
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
        self.stats.inc_value("scheduler/dequeued/redis")
        return request

    def queued(self) -> int:
        """Requests waiting in the cluster's queue (all outlets)."""
        return int(self.server.get(self._keys["queued"]) or 0)

    def has_pending_requests(self) -> bool:
        try:
            return self.queued() > 0
        except redis.RedisError as exc:
            stop_worker(self.crawler, exc)
            return False

    def __len__(self) -> int:
        return self.queued()

    # -- leases --
    def release(self, lease: str | None) -> None:
        if lease:
            self.server.hdel(self.lease_key, lease)

    def return_leases_of(self, lease_key: str) -> int:
        """Put a dead worker's leased requests back in their outlets' queues; returns how many."""
        returned = 0
        for lease, value in self.server.hgetall(lease_key).items():
            priority = self._decode(value.split(b"\n", 1)[1]).priority
            returned += int(self._return_lease(
                keys=[lease_key, self.queue_key, self._keys["queued"], self._keys["sequence"]],
                args=[lease, -priority, self._queue_prefix]))
        return returned

    # -- outlet slots --
    def request_left(self, request: Request, spider=None) -> None:
        """A download is over (response or error): its outlet's slot cools down for the outlet's delay."""
        self.slot_done(request)

    def slot_done(self, request: Request) -> None:
        held = request.meta.pop(SLOT_META, None)
        if held:
            self.held.pop(held[0], None)
            try:
                ours = self._hand_over(keys=[held[0]], args=[held[1], self.delay_ms])
            except redis.RedisError:
                return  # the slot expires by itself; the registry reports Redis going away
            if not ours:  # it expired during the download: another worker may have been let in too soon
                self.stats.inc_value("distributed/slot_lost")
                logger.warning("the outlet slot of %s expired while its request was in flight (this worker "
                               "stalled for over %d s?): the outlet's delay may not have held", request.url,
                               SLOT_HOLD_SECONDS - HEARTBEAT_SECONDS)

    def _renew(self) -> None:
        """Keep the slots of downloads in flight; a worker that dies stops renewing and its slots expire."""
        now = time.monotonic()
        try:
            for slot, (token, taken) in list(self.held.items()):
                if now - taken > self.max_hold:
                    del self.held[slot]
                    continue
                self._renew_slot(keys=[slot], args=[token, self.hold_ms])
        except redis.RedisError:
            pass


def _scheduler(crawler: Crawler) -> TopicScheduler | None:
    scheduler = engine_scheduler(crawler)
    return scheduler if isinstance(scheduler, TopicScheduler) else None


def release_lease(crawler: Crawler, request: Request) -> None:
    """Mark a request as done for good (called from errbacks); nothing happens in a local crawl."""
    scheduler = _scheduler(crawler)
    if scheduler is not None:
        scheduler.release(request.meta.get(LEASE_META))
