"""The worker registry against a real redis-server, without a crawl around it: what the first worker of a crawl
sets right before any other joins."""

from __future__ import annotations

import asyncio

import redis
from scrapy import Spider
from scrapy.utils.test import get_crawler
from scrapy_redis import picklecompat

from crawler.cluster.registry import WorkerRegistry
from crawler.contracts import Kind, Meta
from crawler.store.redis import LISTINGS_IN_FLIGHT, key
from tests.support.redisserver import redis_server

TOPIC = "registry"


class TopicSpider(Spider):
    name = "coverage"
    topic_name = TOPIC


def queued_request(url: str, outlet: str, kind: Kind) -> bytes:
    return picklecompat.dumps({"url": url, "meta": {Meta.OUTLET: outlet, Meta.KIND: kind}})


def test_a_resumed_crawl_counts_its_listings_in_flight_again(tmp_path):
    """A worker killed after counting listings it never queued left the count too high; the first worker of the
    resumed crawl counts again what the queue and the dead worker's leases hold."""
    with redis_server(tmp_path) as url:
        client = redis.Redis.from_url(url)
        client.zadd(key(TOPIC, "requests", "a"), {queued_request("http://a.test/feed", "a", Kind.FEED): 1,
                                                  queued_request("http://a.test/news/1", "a", Kind.ARTICLE): 2})
        client.zadd(key(TOPIC, "requests", "archive.test"), {picklecompat.dumps(
            {"url": "http://archive.test/cdx", "meta": {Meta.OUTLET: "archive.test", Meta.KIND: Kind.CDX,
                                                        Meta.ARCHIVE: {"source": "wayback"}}}): 1})
        client.zadd(key(TOPIC, "requests"), {"a": 1, "archive.test": 1})
        client.hset(key(TOPIC, "leases", "gone-1"), "lease-1",
                    b"a\n" + queued_request("http://a.test/sitemap.xml", "a", Kind.SITEMAP))
        client.hset(key(TOPIC, LISTINGS_IN_FLIGHT), mapping={"a": 7, "b": 3})  # what the killed worker left

        async def open_registry() -> WorkerRegistry:
            crawler = get_crawler(TopicSpider, {"CLUSTER_REDIS_URL": url, "REDIS_URL": url})
            registry = WorkerRegistry.from_crawler(crawler)
            await registry.spider_opened(TopicSpider())
            registry.beat.stop()
            return registry

        asyncio.run(open_registry())
        assert client.hgetall(key(TOPIC, LISTINGS_IN_FLIGHT)) == {b"a": b"2"}
