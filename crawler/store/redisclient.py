"""The worker's Redis clients, which ride out a Redis restart instead of failing the crawl.

Every component of a distributed crawl asks for its client here, so a worker holds one connection pool per kind:
:func:`connect_async` (``redis.asyncio``) for the cluster's scheduler and worker registry, which run on the
reactor's event loop and must never block it, and :func:`connect` (redis-py's blocking client) for the topic store
(``crawler.store.redis.RedisStore``), whose callers (pipelines, the spider's frontier) ask synchronously.

A Redis that restarts or fails over (a few seconds without an answer) costs a pause, not a crawl: each command is
retried with exponential back-off for up to ``CLUSTER_REDIS_RETRY_SECONDS`` (:class:`PatientRetry`,
:class:`PatientAsyncRetry`). The outage is logged once per URL, in one line, whichever client meets it first, and
so is the recovery (:class:`Outage`); only when Redis stays away longer does a command raise (the worker then
stops, ``scrapy crawl`` exits 2 naming the URL), and once one has waited in vain the others fail at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from functools import lru_cache

import redis
import redis.asyncio
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import ExponentialBackoff
from redis.retry import Retry

logger = logging.getLogger(__name__)

BACKOFF_BASE = 0.1  # seconds before the first retry; doubles each time, up to BACKOFF_CAP
BACKOFF_CAP = 4.0


RETRIED_ERRORS = (redis.ConnectionError, redis.TimeoutError, redis.BusyLoadingError)


class Outage:
    """What a URL's clients know together about Redis being away: when it went (logged once), whether a command
    already waited the whole budget in vain (then the others fail at once: the worker is stopping), and that it is
    back (logged once)."""

    def __init__(self, url: str, seconds: float) -> None:
        self.url = url
        self.seconds = seconds
        self.down_since: float | None = None
        self.gave_up = False

    def __deepcopy__(self, memo: dict) -> "Outage":
        return self  # redis-py copies a client's Retry into each connection: they must still share this

    def failed(self, error: Exception, started: float, failures: int) -> bool:
        """A command failed for want of Redis (``failures`` times); True when it must give up now rather than
        retry. A first failure is not yet an outage: after a restart, each pooled connection fails once (closed by
        the server) before its command is sent again on a new one."""
        if self.down_since is None and failures > 1:
            self.down_since = time.monotonic()
            logger.error("Redis at %s is unreachable (%s): waiting for it, up to %.0f s", self.url, error,
                         self.seconds)
        if self.gave_up or time.monotonic() - started >= self.seconds:
            self.gave_up = True
        return self.gave_up

    def answered(self) -> None:
        """A command that failed got its answer at last (not one that never failed: redis-py nests its retries,
        and an inner step that needed no network proves nothing)."""
        self.gave_up = False
        if self.down_since is not None:
            logger.warning("Redis at %s is back after %.1f s", self.url, time.monotonic() - self.down_since)
            self.down_since = None


@lru_cache(maxsize=None)
def outage_of(url: str, seconds: float) -> Outage:
    return Outage(url, seconds)


class PatientRetry(Retry):
    """redis-py's ``Retry``, bounded by time rather than by a count, logging the outage once and the recovery."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), retries=-1,
                         supported_errors=RETRIED_ERRORS)
        self.outage = outage_of(url, seconds)

    def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):  # type: ignore[override]
        """redis-py's loop (``Retry.call_with_retry``, whose signature this keeps; tests/test_compat.py checks it),
        ending after the outage's ``seconds`` instead of after a number of tries."""
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
                if self.outage.failed(error, started, failures):
                    raise
                time.sleep(self._backoff.compute(failures))
            else:
                if failures > 1:  # a command that found Redis away and then got its answer
                    self.outage.answered()
                return result


class PatientAsyncRetry(AsyncRetry):
    """:class:`PatientRetry` for ``redis.asyncio``: the same budget and the same :class:`Outage`, waiting with
    ``asyncio.sleep`` so the event loop (the reactor) runs on meanwhile."""

    def __init__(self, url: str, seconds: float) -> None:
        super().__init__(ExponentialBackoff(cap=BACKOFF_CAP, base=BACKOFF_BASE), retries=-1,
                         supported_errors=RETRIED_ERRORS)
        self.outage = outage_of(url, seconds)

    async def call_with_retry(self, do, fail, is_retryable=None, with_failure_count=False):  # type: ignore[override]
        """redis-py's asyncio loop (``redis.asyncio.retry.Retry.call_with_retry``, signature kept; checked by
        tests/test_compat.py), ending after the outage's ``seconds``."""
        failures = 0
        started = time.monotonic()
        self._backoff.reset()
        while True:
            try:
                result = await do()
            except self._supported_errors as error:
                if is_retryable and not is_retryable(error):
                    raise
                failures += 1
                await (fail(error, failures) if with_failure_count else fail(error))
                if self.outage.failed(error, started, failures):
                    raise
                await asyncio.sleep(self._backoff.compute(failures))
            else:
                if failures > 1:  # a command that found Redis away and then got its answer
                    self.outage.answered()
                return result


_CLIENT_OPTIONS = dict(socket_connect_timeout=5, socket_timeout=30, health_check_interval=10,
                       retry_on_error=list(RETRIED_ERRORS))


@lru_cache(maxsize=None)
def connect(url: str, retry_seconds: float = 60.0) -> redis.Redis:
    """The worker's blocking client for ``url`` (one per URL and process): the topic store's."""
    return redis.Redis.from_url(url, retry=PatientRetry(url, retry_seconds), **_CLIENT_OPTIONS)


_async_clients: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def connect_async(url: str, retry_seconds: float = 60.0) -> redis.asyncio.Redis:
    """The worker's asyncio client for ``url``, shared by the cluster's components (one per URL and event loop:
    an asyncio connection belongs to the loop it was opened on). Call it with the loop running."""
    clients = _async_clients.setdefault(asyncio.get_running_loop(), {})
    client = clients.get((url, retry_seconds))
    if client is None:
        client = redis.asyncio.Redis.from_url(url, retry=PatientAsyncRetry(url, retry_seconds), **_CLIENT_OPTIONS)
        clients[(url, retry_seconds)] = client
    return client
