"""robots.txt once per host for the whole cluster, not once per worker.

Scrapy's robots.txt middleware keeps what it parsed in the worker's memory, so each of N workers asks every outlet
for its robots.txt: N requests an outlet sees as N crawlers, and N times the time before each worker's first
article there (with 40 outlets and 4 workers, 120 extra requests, about a tenth of the crawl). Here the first
worker to read a host's robots.txt puts what it read (the status and the part parsed) in Redis; the others build
their parser from that and send no request. The file stays in the worker's WARC that fetched it.

- What is shared: a file that arrived (any status: a 4xx allows everything, a 5xx disallows the host, as for a
  worker alone) and a refused redirect (the host is not crawled). A download that failed (connection refused,
  timeout) is not: each worker tries it again, as it would alone.
- How long: the hash of a topic's files lives ``ROBOTS_SHARED_SECONDS`` from its first entry (RFC 9309 asks not to
  keep a robots.txt much past 24 hours), and a new crawl of the topic starts with none (the worker registry
  clears it with the fingerprints).
- Redis away: the worker reads the file itself, as it would alone; the scheduler stops the worker if Redis stays
  away.

Two workers that need one host's file at the same instant may both fetch it (the first answer is kept): a
worker only asks when it holds the outlet's cluster slot, so this takes an outlet's next request coming from
another worker less than one request's time later, which the outlet's delay rules out.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import redis
from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred

from crawler.cluster.background import detach
from crawler.compat import robots_sitemaps
from crawler.middlewares.guard import RefusedRedirect
from crawler.middlewares.robots import OutletRobotsMiddleware, _DisallowAll, capped_robots
from crawler.paths import topic_name_of
from crawler.store.redis import key
from crawler.store.redisclient import connect_async

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from scrapy.robotstxt import RobotParser

logger = logging.getLogger(__name__)

REFUSED = 0  # the status shared for a robots.txt whose redirect was refused (no file was read)

# The first worker's entry wins; the hash's lifetime starts with its first entry (KEYS: hash; ARGV: host, entry,
# seconds).
SHARE = """
redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[3]) end
return 1
"""


def robots_key(topic: str) -> str:
    """The hash of a topic's shared robots.txt files (host -> entry); cleared when a new crawl of it starts."""
    return key(topic, "robots")


def encode(status: int, body: bytes) -> bytes:
    return b"%d\n" % status + body


def decode(entry: bytes) -> tuple[int, bytes]:
    status, _, body = entry.partition(b"\n")
    return int(status), body


class ClusterRobotsMiddleware(OutletRobotsMiddleware):
    """:class:`OutletRobotsMiddleware` whose hosts' files are read once for the cluster (see the module)."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.get("CLUSTER_REDIS_URL"):
            raise NotConfigured
        super().__init__(crawler)
        self.shared_seconds = crawler.settings.getint("ROBOTS_SHARED_SECONDS")
        self.redis = None  # the asyncio client, made on the running event loop when the spider opens
        self.hash: str | None = None
        self._share = None
        crawler.signals.connect(self._opened, signal=signals.spider_opened)

    def _opened(self, spider) -> None:
        settings = self.crawler.settings
        self.redis = connect_async(settings["REDIS_URL"], settings.getfloat("CLUSTER_REDIS_RETRY_SECONDS"))
        self.hash = robots_key(topic_name_of(spider))
        self._share = self.redis.register_script(SHARE)

    async def robot_parser(self, request: Request) -> RobotParser | None:
        netloc = urlparse_cached(request).netloc
        if netloc in self._parsers or self.redis is None:
            return await super().robot_parser(request)
        waiting: Deferred = Deferred()
        self._parsers[netloc] = waiting  # the host's other requests wait for this look, as for a download
        try:
            entry = await self.redis.hget(self.hash, netloc)
        except redis.RedisError:
            entry = None  # read it ourselves; the scheduler stops the worker if Redis stays away
        if entry is not None:
            self.crawler.stats.inc_value("robotstxt/shared")
            parser = self._from_entry(netloc, *decode(entry))
        else:
            del self._parsers[netloc]
            parser = await super().robot_parser(request)  # downloads it; parse_robots / robots_error share it
        if not waiting.called:
            waiting.callback(parser)
        return parser

    def _from_entry(self, netloc: str, status: int, body: bytes) -> RobotParser:
        """The parser another worker's reading of ``netloc``'s robots.txt gave, and its Sitemap lines."""
        if status == REFUSED or status >= 500:
            logger.warning("robots.txt of %s %s (as another worker of the crawl found): not crawling that host "
                           "in this run", netloc, "redirects where the crawl does not follow" if status == REFUSED
                           else f"answered {status}")
            parser = _DisallowAll()
        else:
            parser = build_from_crawler(self._parserimpl, self.crawler, body)
        self.settle(netloc, parser)
        self.sitemaps[netloc] = robots_sitemaps(parser)
        return parser

    async def parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        await super().parse_robots(response, netloc, request)
        await self._publish(netloc, response.status, capped_robots(response.body, self.max_size, self.max_rules))

    def robots_error(self, exc: Exception, netloc: str) -> None:
        super().robots_error(exc, netloc)
        if isinstance(exc, RefusedRedirect):
            detach(self._publish(netloc, REFUSED, b""), _ignore)

    async def _publish(self, netloc: str, status: int, body: bytes) -> None:
        if self._share is None:
            return
        try:
            await self._share(keys=[self.hash], args=[netloc, encode(status, body), self.shared_seconds])
        except redis.RedisError:
            return  # the others read it themselves
        self.crawler.stats.inc_value("robotstxt/published")


def _ignore(exc: Exception) -> None:
    """A file that could not be shared: the other workers read it themselves."""
