"""The topic scheduler's queue and leases against a real redis-server, without a crawl around them.

tests/test_distributed.py shows that workers share a crawl and that a killed one loses nothing; these tests pin
the moves underneath, one at a time, so a change to a Lua script or a key name shows up here by name: a request
taken is leased (never only in a worker's memory), a lease given back returns exactly once, a busy outlet's
request waits leased, and within one priority the outlets alternate.
"""

from __future__ import annotations

from typing import Iterator

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


def open_scheduler(redis_url: str, worker: str | None = None, concurrent: int = 16) -> TopicScheduler:
    """A scheduler as a worker's engine opens it; ``worker`` stands in for another process's id."""
    crawler = get_crawler(TopicSpider, {
        "REDIS_URL": redis_url, "CONCURRENT_REQUESTS": concurrent,
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
    assert client.zcard(key(TOPIC, "requests")) == 1

    taken = scheduler.next_request()
    assert taken is not None and taken.url == "http://a.test/1"
    lease_key = key(TOPIC, "leases", scheduler.worker)
    assert client.zcard(key(TOPIC, "requests")) == 0
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
    assert len(scheduler.queue) == 1


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
        scheduler.request_left(taken)  # its download is over: its outlet is free again
        scheduler.release(taken.meta[LEASE_META])
    assert order == ["http://c.test/urgent", "http://a.test/0", "http://b.test/0", "http://a.test/1",
                     "http://b.test/1", "http://a.test/2", "http://b.test/2"]


def test_a_busy_outlets_request_waits_leased(redis_url):
    scheduler = open_scheduler(redis_url)
    client = redis.Redis.from_url(redis_url)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    scheduler.enqueue_request(request("http://a.test/2", outlet="A"))
    first = scheduler.next_request()
    assert first.url == "http://a.test/1"
    assert scheduler.next_request() is None  # outlet A has a download of this worker in flight
    assert scheduler.has_pending_requests() and len(scheduler) == 1
    assert client.hlen(key(TOPIC, "leases", scheduler.worker)) == 2  # the one set aside is leased too
    scheduler.request_left(first)
    second = scheduler.next_request()
    assert second is not None and second.url == "http://a.test/2"


def test_set_aside_requests_are_capped(redis_url):
    """A worker hoards at most twice CONCURRENT_REQUESTS requests of busy outlets; the rest stay queued."""
    scheduler = open_scheduler(redis_url, concurrent=1)
    for n in range(5):
        scheduler.enqueue_request(request(f"http://a.test/{n}", outlet="A"))
    assert scheduler.next_request().url == "http://a.test/0"
    assert scheduler.next_request() is None
    assert len(scheduler.set_aside) == 2 and len(scheduler.queue) == 2


def test_a_dead_workers_leases_go_back_once(redis_url):
    dead = open_scheduler(redis_url, worker="gone-1")
    dead.enqueue_request(request("http://a.test/low", priority=1))
    dead.enqueue_request(request("http://a.test/high", priority=5))
    assert dead.next_request().url == "http://a.test/high"
    assert dead.next_request().url == "http://a.test/low"

    alive = open_scheduler(redis_url, worker="alive-1")
    lease_key = key(TOPIC, "leases", "gone-1")
    assert alive.next_request() is None
    assert alive.return_leases_of(lease_key) == 2
    assert alive.return_leases_of(lease_key) == 0  # returned once, whoever else tries
    assert len(alive.queue) == 2 and not alive.server.exists(lease_key)
    back = [alive.next_request().url, alive.next_request().url]
    assert back == ["http://a.test/high", "http://a.test/low"]  # with their priorities


def test_a_retry_of_a_leased_request_ends_the_old_lease(redis_url):
    scheduler = open_scheduler(redis_url)
    client = redis.Redis.from_url(redis_url)
    scheduler.enqueue_request(request("http://a.test/1"))
    taken = scheduler.next_request()
    retry = taken.replace(dont_filter=True)
    assert retry.meta[LEASE_META] == taken.meta[LEASE_META]
    assert scheduler.enqueue_request(retry)
    assert client.hlen(key(TOPIC, "leases", scheduler.worker)) == 0  # the queued copy stands for it now
    assert client.zcard(key(TOPIC, "requests")) == 1

