"""The topic scheduler's queue and leases against a real redis-server, without a crawl around them.

tests/test_distributed.py shows that workers share a crawl and that a killed one loses nothing; these tests pin
the moves underneath, one at a time, so a change to a Lua script or a key name shows up here by name: a request
taken is leased (never only in a worker's memory), a lease given back returns exactly once, a busy outlet's
request stays queued while other outlets' are taken (whichever worker holds the outlet), the outlet's slot cools
down for its delay once the download is over, and within one priority the outlets alternate.
"""

from __future__ import annotations

from typing import Iterator

import time

import pytest
import redis
from scrapy import Spider
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from crawler.cluster.scheduler import TopicScheduler
from crawler.cluster.scripts import LEASE_META
from crawler.store.redis import key
from tests.support.redisserver import redis_server

TOPIC = "scheduling"


@pytest.fixture
def redis_url(tmp_path) -> Iterator[str]:
    with redis_server(tmp_path) as url:
        yield url


class TopicSpider(Spider):
    name = "coverage"
    topic_name = TOPIC


def open_scheduler(redis_url: str, worker: str | None = None, delay: float = 0.0) -> TopicScheduler:
    """A scheduler as a worker's engine opens it; ``worker`` stands in for another process's id, ``delay`` is the
    cluster's per-outlet delay (0: no outlet slots)."""
    crawler = get_crawler(TopicSpider, {
        "REDIS_URL": redis_url, "CLUSTER_OUTLET_DELAY": delay,
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter"})
    scheduler = TopicScheduler.from_crawler(crawler)
    if worker is not None:
        scheduler.worker = worker
    scheduler.open(TopicSpider())
    return scheduler


def request(url: str, outlet: str = "", priority: int = 0) -> Request:
    return Request(url, priority=priority, meta={"outlet": outlet} if outlet else {})


def test_a_request_taken_is_leased_until_released(redis_url):
    scheduler = open_scheduler(redis_url)
    client = redis.Redis.from_url(redis_url)
    assert scheduler.enqueue_request(request("http://a.test/1"))
    assert scheduler.queued() == 1 and scheduler.has_pending_requests()

    taken = scheduler.next_request()
    assert taken is not None and taken.url == "http://a.test/1"
    lease_key = key(TOPIC, "leases", scheduler.worker)
    assert scheduler.queued() == 0 and not client.exists(key(TOPIC, "requests"))
    assert list(client.hkeys(lease_key)) == [taken.meta[LEASE_META].encode()]  # out of the queue, not lost

    scheduler.release(taken.meta[LEASE_META])
    assert client.hlen(lease_key) == 0
    assert scheduler.next_request() is None


def test_requests_seen_are_not_queued_again(redis_url):
    scheduler = open_scheduler(redis_url)
    assert scheduler.enqueue_request(request("http://a.test/1"))
    assert not scheduler.enqueue_request(request("http://a.test/1"))  # the shared fingerprints
    second = open_scheduler(redis_url, worker="other-1")
    assert not second.enqueue_request(request("http://a.test/1"))
    assert scheduler.queued() == 1


def test_priority_first_then_outlets_alternate(redis_url):
    scheduler = open_scheduler(redis_url)
    for n in range(3):
        scheduler.enqueue_request(request(f"http://a.test/{n}", outlet="A"))
    for n in range(3):
        scheduler.enqueue_request(request(f"http://b.test/{n}", outlet="B"))
    scheduler.enqueue_request(request("http://c.test/urgent", outlet="C", priority=10))
    order = []
    while (taken := scheduler.next_request()) is not None:
        order.append(taken.url)
        scheduler.release(taken.meta[LEASE_META])
    assert order == ["http://c.test/urgent", "http://a.test/0", "http://b.test/0", "http://a.test/1",
                     "http://b.test/1", "http://a.test/2", "http://b.test/2"]


def test_one_outlets_requests_keep_their_order_past_a_thousand(redis_url):
    scheduler = open_scheduler(redis_url)
    urls = [f"http://a.test/{n}" for n in range(1100)]
    for url in urls:
        scheduler.enqueue_request(request(url, outlet="A"))
    assert [scheduler.next_request().url for _ in urls] == urls


def test_a_busy_outlets_request_stays_queued_while_others_are_taken(redis_url):
    """Worker one holds outlet A's slot through its download: neither worker takes A's next request (it stays in
    the queue, not in anyone's memory), both take other outlets' requests meanwhile."""
    one = open_scheduler(redis_url, worker="one-1", delay=0.3)
    two = open_scheduler(redis_url, worker="two-1", delay=0.3)
    client = redis.Redis.from_url(redis_url)
    for url, outlet in [("http://a.test/1", "A"), ("http://a.test/2", "A"), ("http://b.test/1", "B")]:
        one.enqueue_request(request(url, outlet=outlet))
    first = one.next_request()
    assert first.url == "http://a.test/1"
    assert client.get(key(TOPIC, "slot", "A")) == first.meta[LEASE_META].encode()  # taken with the request
    assert two.next_request().url == "http://b.test/1"
    assert two.next_request() is None and one.next_request() is None  # A is busy, B has nothing more
    assert one.queued() == 1 and client.hlen(key(TOPIC, "leases", "one-1")) == 1


def test_the_slot_cools_down_for_the_delay_after_the_download(redis_url):
    one = open_scheduler(redis_url, worker="one-1", delay=0.3)
    two = open_scheduler(redis_url, worker="two-1", delay=0.3)
    client = redis.Redis.from_url(redis_url)
    one.enqueue_request(request("http://a.test/1", outlet="A"))
    one.enqueue_request(request("http://a.test/2", outlet="A"))
    first = one.next_request()
    one.request_left(first)  # the download is over (what request_left_downloader tells the scheduler)
    left = time.monotonic()
    assert client.get(key(TOPIC, "slot", "A")) == b"cooling"
    assert 200 < client.pttl(key(TOPIC, "slot", "A")) <= 300
    assert two.next_request() is None
    while (second := two.next_request()) is None:
        time.sleep(0.01)
    assert second.url == "http://a.test/2" and time.monotonic() - left >= 0.29


def test_a_request_refused_before_its_download_frees_the_slot_at_once(redis_url):
    """The request guard or robots.txt refused it: it never reached the downloader (no request_left), so the
    cluster's politeness middleware hands the slot over; the outlet's next request waits only the delay."""
    scheduler = open_scheduler(redis_url, delay=0.2)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    scheduler.enqueue_request(request("http://a.test/2", outlet="A"))
    refused = scheduler.next_request()
    scheduler.slot_done(refused)
    scheduler.slot_done(refused)  # said twice (an error after the download too): no harm
    assert scheduler.held == {}
    time.sleep(0.25)
    assert scheduler.next_request().url == "http://a.test/2"


def test_an_outlet_slot_left_by_a_dead_worker_expires(redis_url):
    dead = open_scheduler(redis_url, worker="gone-1", delay=0.1)
    dead.hold_ms = 300  # instead of the worker TTL, for the test's sake; nobody renews it
    dead.enqueue_request(request("http://a.test/1", outlet="A"))
    dead.enqueue_request(request("http://a.test/2", outlet="A"))
    dead.next_request()
    alive = open_scheduler(redis_url, worker="alive-1", delay=0.1)
    assert alive.next_request() is None
    time.sleep(0.35)
    assert alive.next_request().url == "http://a.test/2"


def test_a_slot_that_expired_during_its_download_is_counted(redis_url):
    """A worker stalled past the slot's life (no renewal) lets another worker in too soon: it cannot undo that,
    but it says so (a stat and a warning) instead of handing over a slot that is no longer its own."""
    stalled = open_scheduler(redis_url, worker="stalled-1", delay=0.1)
    stalled.hold_ms = 200  # instead of SLOT_HOLD_SECONDS, for the test's sake
    stalled.enqueue_request(request("http://a.test/1", outlet="A"))
    stalled.enqueue_request(request("http://a.test/2", outlet="A"))
    first = stalled.next_request()
    time.sleep(0.3)
    other = open_scheduler(redis_url, worker="other-1", delay=0.1)
    assert other.next_request().url == "http://a.test/2"  # the expired slot was free for the taking
    stalled.slot_done(first)
    assert stalled.stats.get_value("distributed/slot_lost") == 1
    assert other.server.get(key(TOPIC, "slot", "A")) != b"cooling"  # the other worker's slot is left alone


def test_a_dead_workers_leases_go_back_once(redis_url):
    dead = open_scheduler(redis_url, worker="gone-1")
    dead.enqueue_request(request("http://a.test/low", priority=1))
    dead.enqueue_request(request("http://b.test/high", outlet="B", priority=5))
    assert dead.next_request().url == "http://b.test/high"
    assert dead.next_request().url == "http://a.test/low"

    alive = open_scheduler(redis_url, worker="alive-1")
    lease_key = key(TOPIC, "leases", "gone-1")
    assert alive.next_request() is None
    assert alive.return_leases_of(lease_key) == 2
    assert alive.return_leases_of(lease_key) == 0  # returned once, whoever else tries
    assert alive.queued() == 2 and not alive.server.exists(lease_key)
    back = [alive.next_request(), alive.next_request()]
    assert [r.url for r in back] == ["http://b.test/high", "http://a.test/low"]  # with their priorities
    assert back[0].meta["outlet"] == "B"  # and to their outlet's queue


def test_a_retry_of_a_leased_request_ends_the_old_lease(redis_url):
    scheduler = open_scheduler(redis_url, delay=0.2)
    client = redis.Redis.from_url(redis_url)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    taken = scheduler.next_request()
    retry = taken.replace(dont_filter=True)
    assert retry.meta[LEASE_META] == taken.meta[LEASE_META]
    assert scheduler.enqueue_request(retry)
    assert client.hlen(key(TOPIC, "leases", scheduler.worker)) == 0  # the queued copy stands for it now
    assert scheduler.queued() == 1
