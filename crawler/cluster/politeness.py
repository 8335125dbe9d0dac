"""Per-outlet politeness across the cluster: one Redis slot key per outlet, taken before a request and left to
expire ``DOWNLOAD_DELAY`` after its response, whichever worker sends the next one."""

from __future__ import annotations

import logging
import uuid
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future

from crawler.cluster.scripts import HAND_OVER_SLOT, HEARTBEAT_SECONDS, WORKER_TTL_SECONDS
from crawler.store.redis import connect, key
from crawler.paths import topic_name_of

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request

logger = logging.getLogger(__name__)

SLOT_META = "_cluster_slot"
POLL_MS = 50  # how often a request waiting for its outlet's slot looks again


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
        self._hand_over = self.redis.register_script(HAND_OVER_SLOT)
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
