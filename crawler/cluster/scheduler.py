"""scrapy-redis's scheduler, per topic and with leases: a request a worker takes stays in Redis (in the worker's
lease hash) until it is done for good, so a worker that dies loses nothing it took."""

from __future__ import annotations

import uuid
from collections import Counter
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.scheduler import Scheduler

from crawler.cluster.scripts import LEASE_META, POP_AND_LEASE, RETURN_LEASE, worker_id
from crawler.store.redis import connect, key
from crawler.paths import topic_name_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

IN_FLIGHT_META = "_outlet_in_flight"


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
        self._pop_and_lease = self.server.register_script(POP_AND_LEASE)
        self._return_lease = self.server.register_script(RETURN_LEASE)

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
