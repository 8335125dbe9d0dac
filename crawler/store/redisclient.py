"""One Redis client per worker and URL, which rides out a Redis restart instead of failing the crawl.

Every component of a distributed crawl (the scheduler, the worker registry, the topic store) asks for its client
here, so a worker holds one connection pool, and a Redis that restarts or fails over (a few seconds without an
answer) costs a pause, not a crawl: redis-py's own ``Retry`` retries each command with exponential back-off for
up to ``CLUSTER_REDIS_RETRY_SECONDS``. Its first failure is logged once, in one line, and so is the
recovery; only when Redis stays away longer does the command raise (the worker registry then stops the worker,
``scrapy crawl`` exits 2 naming the URL).

The scheduler interface of Scrapy is synchronous (``next_request`` returns a request, not a Deferred), as is
scrapy-redis's, so these calls block the reactor while they last; on a local or nearby Redis that is well under
a millisecond, and while Redis is away nothing could progress anyway.
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache

import redis
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.1  # seconds before the first retry; doubles each time, up to BACKOFF_CAP
BACKOFF_CAP = 4.0


class PatientRetry(Retry):
    """redis-py's ``Retry``, bounded by time rather than by a count, logging the outage once and the recovery."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), retries=-1,
                         supported_errors=(redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError))
        self.url = url
        self.seconds = seconds
        self.down_since: float | None = None
        self.gave_up = False  # once a command waited in vain, the others fail at once (the worker is stopping)

    def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):  # type: ignore[override]
        """redis-py's loop (``Retry.call_with_retry``, whose signature this keeps; tests/test_compat.py checks it),
        ending after ``seconds`` instead of after a number of tries."""
        failures = 0
        started = time.monotonic()
        self._backoff.reset()
        while True:
            try:
                result = do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                fail(error, failures) if with_failure_count else fail(error)
                if self.down_since is None:
                    self.down_since = time.monotonic()
                    logger.error("Redis at %s is unreachable (%s): waiting for it, up to %.0f s", self.url, error,
                                 self.seconds)
                if self.gave_up or time.monotonic() - started >= self.seconds:
                    self.gave_up = True
                    raise
                time.sleep(self._backoff.compute(failures))
            else:
                self.gave_up = False
                if self.down_since is not None:
                    logger.warning("Redis at %s is back after %.1f s", self.url, time.monotonic() - self.down_since)
                    self.down_since = None
                return result


@lru_cache(maxsize=None)
def connect(url: str, retry_seconds: float = 60.0) -> redis.Redis:
    """The worker's client for ``url`` (one per URL and process, shared by its components)."""
    return redis.Redis.from_url(url, socket_connect_timeout=5, socket_timeout=30, health_check_interval=10,
                                retry=PatientRetry(url, retry_seconds),
                                retry_on_error=[redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError])
