"""The topic scheduler's queue and leases against a real redis-server, without a crawl around them.

tests/test_distributed.py shows that workers share a crawl and that a killed one loses nothing; these tests pin
the moves underneath, one at a time, so a change to a Lua script or a key name shows up here by name: a request
taken is leased (never only in a worker's memory), a lease given back returns exactly once, a busy outlet's
request stays queued while other outlets' are taken (whichever worker holds the outlet), the outlet's slot cools
down for its delay once the download is over, and within one priority the longest queue goes first (outlets
with queues of one length alternate). The scheduler's Redis I/O runs on the event loop: each test runs on one
(``on_event_loop``) and waits for the scheduler's background work where a worker's engine would simply be woken
by it (``take``, ``settled``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from typing import Iterator

import pytest
import redis
from scrapy import Spider, signals
from scrapy.http import HtmlResponse, Request
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


def on_event_loop(test):
    """Run an async test on an event loop of its own, as the worker's reactor runs the scheduler."""

    @functools.wraps(test)
    def run(*args, **kwargs):
        asyncio.run(test(*args, **kwargs))

    return run


class TopicSpider(Spider):
    name = "coverage"
    topic_name = TOPIC


async def open_scheduler(redis_url: str, worker: str | None = None, delay: float = 0.0,
                         concurrency: int = 1) -> TopicScheduler:
    """A scheduler as a worker's engine opens it; ``worker`` stands in for another process's id, ``delay`` is the
    cluster's per-outlet delay (0: no outlet slots), ``concurrency`` the worker's CONCURRENT_REQUESTS (with no
    download in flight here, how many requests a fill takes at most)."""
    crawler = get_crawler(TopicSpider, {
        "REDIS_URL": redis_url, "CLUSTER_OUTLET_DELAY": delay, "CONCURRENT_REQUESTS": concurrency,
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter"})
    scheduler = TopicScheduler.from_crawler(crawler)
    if worker is not None:
        scheduler.worker = worker
    await scheduler.open(TopicSpider()).asFuture(asyncio.get_running_loop())
    return scheduler


async def settled(scheduler: TopicScheduler) -> None:
    """Everything the scheduler sent to Redis so far has been answered."""
    await scheduler.redis_ops.drained()


async def take(scheduler: TopicScheduler) -> Request | None:
    """What the engine gets once woken: a request taken by the fill that asking started, or None if none is due."""
    request = scheduler.next_request()
    if request is None:
        await settled(scheduler)
        request = scheduler.next_request()
        await settled(scheduler)  # a None started another look; whatever it takes is the next one
    return request


async def drained(scheduler: TopicScheduler) -> list[str]:
    """The URLs of every request the scheduler hands out, in order, each released once taken (its work done)."""
    urls = []
    while (taken := await take(scheduler)) is not None:
        urls.append(taken.url)
        scheduler.release(taken.meta[LEASE_META])
    return urls


def queued(redis_url: str) -> int:
    return int(redis.Redis.from_url(redis_url).get(key(TOPIC, "queued")) or 0)


def request(url: str, outlet: str = "", priority: int = 0) -> Request:
    return Request(url, priority=priority, meta={"outlet": outlet} if outlet else {})


@on_event_loop
async def test_a_request_taken_is_leased_until_released(redis_url):
    scheduler = await open_scheduler(redis_url)
    client = redis.Redis.from_url(redis_url)
    assert scheduler.enqueue_request(request("http://a.test/1"))
    assert scheduler.has_pending_requests()  # on its way to Redis
    await settled(scheduler)
    assert queued(redis_url) == 1 and scheduler.has_pending_requests()

    taken = await take(scheduler)
    assert taken is not None and taken.url == "http://a.test/1"
    lease_key = key(TOPIC, "leases", scheduler.worker)
    assert queued(redis_url) == 0 and not client.exists(key(TOPIC, "requests"))
    assert list(client.hkeys(lease_key)) == [taken.meta[LEASE_META].encode()]  # out of the queue, not lost

    scheduler.release(taken.meta[LEASE_META])
    await settled(scheduler)
    assert client.hlen(lease_key) == 0
    assert await take(scheduler) is None
    assert not scheduler.has_pending_requests()


@on_event_loop
async def test_requests_seen_are_not_queued_again(redis_url):
    """The shared fingerprints, checked in the same Lua step that queues: a request seen before is dropped with
    the signal Scrapy's engine sends for a request its scheduler refuses."""
    scheduler = await open_scheduler(redis_url)
    second = await open_scheduler(redis_url, worker="other-1")
    dropped = []
    for one in (scheduler, second):
        one.crawler.signals.connect(lambda request, **kwargs: dropped.append(request.url),
                                    signal=signals.request_dropped, weak=False)
    scheduler.enqueue_request(request("http://a.test/1"))
    scheduler.enqueue_request(request("http://a.test/1"))
    await settled(scheduler)
    second.enqueue_request(request("http://a.test/1"))
    second.enqueue_request(request("http://a.test/1").replace(dont_filter=True))  # a retry's copy goes through
    await settled(second)
    assert dropped == ["http://a.test/1", "http://a.test/1"]
    assert queued(redis_url) == 2


@on_event_loop
async def test_priority_first_then_outlets_alternate(redis_url):
    scheduler = await open_scheduler(redis_url)
    for n in range(3):
        scheduler.enqueue_request(request(f"http://a.test/{n}", outlet="A"))
    for n in range(3):
        scheduler.enqueue_request(request(f"http://b.test/{n}", outlet="B"))
    scheduler.enqueue_request(request("http://c.test/urgent", outlet="C", priority=10))
    await settled(scheduler)
    assert await drained(scheduler) == ["http://c.test/urgent", "http://a.test/0", "http://b.test/0", "http://a.test/1",
                     "http://b.test/1", "http://a.test/2", "http://b.test/2"]


@on_event_loop
async def test_the_outlet_with_the_most_waiting_goes_first(redis_url):
    """Among free outlets of one priority the longest queue is served first, so the crawl ends when its longest
    queues do; an outlet whose requests arrived after another's, or a worker that queued an outlet's requests
    before (its count ran ahead), does not leave that outlet behind until the others are drained."""
    earlier = await open_scheduler(redis_url, worker="other-1")
    for n in range(3):  # this worker's earlier requests to B, already crawled
        earlier.enqueue_request(request(f"http://b.test/old{n}", outlet="B"))
    await settled(earlier)
    await drained(earlier)
    for n in range(2):
        earlier.enqueue_request(request(f"http://a.test/{n}", outlet="A"))
    for n in range(5):
        earlier.enqueue_request(request(f"http://b.test/{n}", outlet="B"))
    await settled(earlier)
    scheduler = await open_scheduler(redis_url)
    assert await drained(scheduler) == ["http://b.test/0", "http://b.test/1", "http://b.test/2", "http://a.test/0",
                     "http://b.test/3", "http://a.test/1", "http://b.test/4"]


@on_event_loop
async def test_one_outlets_requests_keep_their_order_past_a_thousand(redis_url):
    scheduler = await open_scheduler(redis_url, concurrency=16)
    urls = [f"http://a.test/{n}" for n in range(1100)]
    for url in urls:
        scheduler.enqueue_request(request(url, outlet="A"))
    await settled(scheduler)
    assert [(await take(scheduler)).url for _ in urls] == urls


@on_event_loop
async def test_a_fill_takes_no_more_than_the_free_download_slots(redis_url):
    """Each request taken holds its outlet's slot: a worker takes as many as its downloader can start now, and
    the others stay free for the other workers."""
    scheduler = await open_scheduler(redis_url, delay=0.3, concurrency=2)
    for outlet in "ABCDE":
        scheduler.enqueue_request(request(f"http://{outlet.lower()}.test/1", outlet=outlet))
    await settled(scheduler)
    assert scheduler.next_request() is None  # nothing at hand yet: a fill starts, the engine is woken later
    await settled(scheduler)
    assert len(scheduler.taken) == 2 and queued(redis_url) == 3
    client = redis.Redis.from_url(redis_url)
    assert len(client.keys(key(TOPIC, "slot", "*"))) == 2


@on_event_loop
async def test_asking_never_waits_for_redis(redis_url):
    """Redis busy for half a second (``DEBUG SLEEP``): the scheduler's answers come at once, the work waits."""
    scheduler = await open_scheduler(redis_url)
    scheduler.enqueue_request(request("http://a.test/1"))
    await settled(scheduler)
    sleeper = asyncio.ensure_future(asyncio.to_thread(redis.Redis.from_url(redis_url).execute_command,
                                                      "DEBUG", "SLEEP", "0.5"))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    assert scheduler.next_request() is None
    assert scheduler.enqueue_request(request("http://a.test/2"))
    scheduler.release("no-such-lease")
    assert scheduler.has_pending_requests()
    assert time.monotonic() - started < 0.05
    await sleeper
    assert (await take(scheduler)).url == "http://a.test/1"


@on_event_loop
async def test_closing_sends_the_outbox_and_gives_back_what_was_not_handed_out(redis_url):
    scheduler = await open_scheduler(redis_url, delay=0.3, concurrency=3)
    client = redis.Redis.from_url(redis_url)
    for outlet in "ABC":
        scheduler.enqueue_request(request(f"http://{outlet.lower()}.test/1", outlet=outlet))
    handed = await take(scheduler)
    assert len(scheduler.taken) == 2  # taken from Redis for the engine, which did not ask again
    for n in range(5):
        scheduler.enqueue_request(request(f"http://d.test/{n}", outlet="D"))
    await scheduler.close("finished").asFuture(asyncio.get_running_loop())
    assert queued(redis_url) == 2 + 5  # nothing lost
    assert list(client.hkeys(key(TOPIC, "leases", scheduler.worker))) == [handed.meta[LEASE_META].encode()]
    assert [k.decode() for k in client.keys(key(TOPIC, "slot", "*"))] in ([], [key(TOPIC, "slot", handed.meta["outlet"])])
    assert client.get(key(TOPIC, "slot", handed.meta["outlet"])) == handed.meta[LEASE_META].encode()


@on_event_loop
async def test_a_busy_outlets_request_stays_queued_while_others_are_taken(redis_url):
    """Worker one holds outlet A's slot through its download: neither worker takes A's next request (it stays in
    the queue, not in anyone's memory), both take other outlets' requests meanwhile."""
    one = await open_scheduler(redis_url, worker="one-1", delay=0.3)
    two = await open_scheduler(redis_url, worker="two-1", delay=0.3)
    client = redis.Redis.from_url(redis_url)
    for url, outlet in [("http://a.test/1", "A"), ("http://a.test/2", "A"), ("http://b.test/1", "B")]:
        one.enqueue_request(request(url, outlet=outlet))
    await settled(one)
    first = await take(one)
    assert first.url == "http://a.test/1"
    assert client.get(key(TOPIC, "slot", "A")) == first.meta[LEASE_META].encode()  # taken with the request
    assert (await take(two)).url == "http://b.test/1"
    assert await take(two) is None and await take(one) is None  # A is busy, B has nothing more
    assert queued(redis_url) == 1 and client.hlen(key(TOPIC, "leases", "one-1")) == 1


@on_event_loop
async def test_the_slot_cools_down_for_the_delay_after_the_download(redis_url):
    one = await open_scheduler(redis_url, worker="one-1", delay=0.3)
    two = await open_scheduler(redis_url, worker="two-1", delay=0.3)
    client = redis.Redis.from_url(redis_url)
    one.enqueue_request(request("http://a.test/1", outlet="A"))
    one.enqueue_request(request("http://a.test/2", outlet="A"))
    first = await take(one)
    one.request_left(first)  # the download is over (what request_left_downloader tells the scheduler)
    await settled(one)
    left = time.monotonic()
    assert client.get(key(TOPIC, "slot", "A")) == b"cooling"
    assert 200 < client.pttl(key(TOPIC, "slot", "A")) <= 300
    assert await take(two) is None
    while (second := await take(two)) is None:
        await asyncio.sleep(0.01)
    assert second.url == "http://a.test/2" and time.monotonic() - left >= 0.29


@on_event_loop
async def test_a_hand_over_reaches_redis_before_the_next_look(redis_url):
    """The download is over and the engine asks at once: the hand-over went first, so the fill sees the outlet
    cooling down (and reports when it may be taken), not still held by the finished download."""
    scheduler = await open_scheduler(redis_url, delay=0.2)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    scheduler.enqueue_request(request("http://a.test/2", outlet="A"))
    first = await take(scheduler)
    scheduler.request_left(first)
    assert scheduler.next_request() is None
    await settled(scheduler)
    client = redis.Redis.from_url(redis_url)
    assert client.get(key(TOPIC, "slot", "A")) == b"cooling"
    assert scheduler.has_pending_requests() and not scheduler.taken


@on_event_loop
async def test_a_request_refused_before_its_download_frees_the_slot_at_once(redis_url):
    """The request guard or robots.txt refused it: it never reached the downloader (no request_left), so the
    cluster's politeness middleware hands the slot over; the outlet's next request waits only the delay."""
    scheduler = await open_scheduler(redis_url, delay=0.2)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    scheduler.enqueue_request(request("http://a.test/2", outlet="A"))
    refused = await take(scheduler)
    scheduler.slot_done(refused)
    scheduler.slot_done(refused)  # said twice (an error after the download too): no harm
    assert scheduler.held == {}
    await asyncio.sleep(0.25)
    assert (await take(scheduler)).url == "http://a.test/2"


@on_event_loop
async def test_a_response_answered_before_the_download_hands_the_slot_over(redis_url):
    """A downloader middleware answered from process_request (the HTTP cache): no request_left_downloader, but
    the engine's response_received hands the slot over, and says nothing more after a real download."""
    scheduler = await open_scheduler(redis_url, delay=0.2)
    client = redis.Redis.from_url(redis_url)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    cached = await take(scheduler)
    scheduler.crawler.signals.send_catch_log(signals.response_received, response=HtmlResponse(cached.url),
                                             request=cached, spider=scheduler.spider)
    await settled(scheduler)
    assert scheduler.held == {} and client.get(key(TOPIC, "slot", "A")) == b"cooling"
    scheduler.request_left(cached)  # a signal after the first: no second hand-over
    await settled(scheduler)
    assert scheduler.stats.get_value("distributed/slot_lost") is None


@on_event_loop
async def test_an_outlet_slot_left_by_a_dead_worker_expires(redis_url):
    dead = await open_scheduler(redis_url, worker="gone-1", delay=0.1)
    dead.hold_ms = 300  # instead of the worker TTL, for the test's sake; nobody renews it
    dead.enqueue_request(request("http://a.test/1", outlet="A"))
    dead.enqueue_request(request("http://a.test/2", outlet="A"))
    await take(dead)
    alive = await open_scheduler(redis_url, worker="alive-1", delay=0.1)
    assert await take(alive) is None
    await asyncio.sleep(0.35)
    assert (await take(alive)).url == "http://a.test/2"


@on_event_loop
async def test_a_slot_that_expired_during_its_download_is_counted(redis_url):
    """A worker stalled past the slot's life (no renewal) lets another worker in too soon: it cannot undo that,
    but it says so (a stat and a warning) instead of handing over a slot that is no longer its own."""
    stalled = await open_scheduler(redis_url, worker="stalled-1", delay=0.1)
    stalled.hold_ms = 200  # instead of SLOT_HOLD_SECONDS, for the test's sake
    stalled.enqueue_request(request("http://a.test/1", outlet="A"))
    stalled.enqueue_request(request("http://a.test/2", outlet="A"))
    first = await take(stalled)
    await asyncio.sleep(0.3)
    other = await open_scheduler(redis_url, worker="other-1", delay=0.1)
    assert (await take(other)).url == "http://a.test/2"  # the expired slot was free for the taking
    stalled.slot_done(first)
    await settled(stalled)
    assert stalled.stats.get_value("distributed/slot_lost") == 1
    client = redis.Redis.from_url(redis_url)
    assert client.get(key(TOPIC, "slot", "A")) != b"cooling"  # the other worker's slot is left alone


@on_event_loop
async def test_a_dead_workers_leases_go_back_once(redis_url):
    dead = await open_scheduler(redis_url, worker="gone-1")
    dead.enqueue_request(request("http://a.test/low", priority=1))
    dead.enqueue_request(request("http://b.test/high", outlet="B", priority=5))
    assert (await take(dead)).url == "http://b.test/high"
    assert (await take(dead)).url == "http://a.test/low"

    alive = await open_scheduler(redis_url, worker="alive-1")
    client = redis.Redis.from_url(redis_url)
    lease_key = key(TOPIC, "leases", "gone-1")
    assert await take(alive) is None
    assert await alive.return_leases_of(lease_key) == 2
    assert await alive.return_leases_of(lease_key) == 0  # returned once, whoever else tries
    assert queued(redis_url) == 2 and not client.exists(lease_key)
    back = [await take(alive), await take(alive)]
    assert [r.url for r in back] == ["http://b.test/high", "http://a.test/low"]  # with their priorities
    assert back[0].meta["outlet"] == "B"  # and to their outlet's queue


@on_event_loop
async def test_a_retry_of_a_leased_request_ends_the_old_lease(redis_url):
    scheduler = await open_scheduler(redis_url, delay=0.2)
    client = redis.Redis.from_url(redis_url)
    scheduler.enqueue_request(request("http://a.test/1", outlet="A"))
    taken = await take(scheduler)
    retry = taken.replace(dont_filter=True)
    assert retry.meta[LEASE_META] == taken.meta[LEASE_META]
    assert scheduler.enqueue_request(retry)
    assert client.hlen(key(TOPIC, "leases", scheduler.worker)) == 1  # ended only once the copy is queued
    await settled(scheduler)
    assert client.hlen(key(TOPIC, "leases", scheduler.worker)) == 0  # the queued copy stands for it now
    assert queued(redis_url) == 1


@on_event_loop
async def test_a_redirect_to_a_page_seen_before_ends_the_old_lease(redis_url):
    """The copy is dropped as a duplicate: nothing stands for the leased request any more, and a lease left
    behind would keep the other workers from finding the crawl over until this one stops."""
    scheduler = await open_scheduler(redis_url, delay=0.2)
    client = redis.Redis.from_url(redis_url)
    scheduler.enqueue_request(request("http://a.test/article", outlet="A"))
    scheduler.enqueue_request(request("http://a.test/short", outlet="A"))
    first = await take(scheduler)
    scheduler.release(first.meta[LEASE_META])
    scheduler.slot_done(first)
    await asyncio.sleep(0.25)  # the outlet's delay
    short = await take(scheduler)
    assert short.url == "http://a.test/short"
    hop = short.replace(url="http://a.test/article")  # the redirect middleware's copy keeps the meta
    assert scheduler.enqueue_request(hop)
    await settled(scheduler)
    assert client.hlen(key(TOPIC, "leases", scheduler.worker)) == 0
    assert queued(redis_url) == 0
