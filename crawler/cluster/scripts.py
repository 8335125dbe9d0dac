"""What the cluster's components share: the Lua scripts that make their Redis moves atomic, the worker's id and
the timings of heartbeats and leases.

The scripts are plain strings, registered by each component on its own connection (``register_script``), so
Redis runs each as one step: no other worker's command can come between taking a request and leasing it.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from crawler.contracts import Meta

HEARTBEAT_SECONDS = 2.0
WORKER_TTL_SECONDS = 8  # a worker silent this long is dead; its leases go back to the queue
# An outlet slot taken for a request lives this long unless renewed (every HEARTBEAT_SECONDS while the request is
# in flight): long enough that a worker stalled for seconds on a busy machine keeps it (another worker would then
# send the outlet a request too soon), short enough that a dead worker's outlets are free again soon.
SLOT_HOLD_SECONDS = 20
LEASE_META = Meta.LEASE

# The queue is one sorted set per outlet (``requests:<outlet>``), scored by minus the priority (plus a fraction from
# a shared sequence, so an outlet's requests of one priority keep their order), an index of the outlets that have
# requests (``requests``) and a count of all queued requests (``queued``). An outlet's index score is its best
# priority's (the whole part of its first request's score) plus 1 / (1 + its queue's length): among the outlets of
# one priority whose slots are free, the one with the most requests waiting goes first. The crawl then ends when
# its longest queues do: ranked by arrival instead, the outlets that came a little behind stay behind while the
# others keep every worker busy, and are left alone at the end, bound by their delays while workers sit idle.
# Outlets with queues of one length take turns (taking one shortens its queue).
INDEX_OUTLET = """
local function index_outlet(index, queue, outlet)
  local head = redis.call('ZRANGE', queue, 0, 0, 'WITHSCORES')
  if head[1] then
    redis.call('ZADD', index, math.floor(tonumber(head[2])) + 1 / (1 + redis.call('ZCARD', queue)), outlet)
  else
    redis.call('ZREM', index, outlet)
  end
end
"""

# A request added to its outlet's queue unless its fingerprint was seen (KEYS: index, outlet queue, count, sequence,
# fingerprints; ARGV: outlet, score, request, fingerprint ('': not filtered)); returns -1 for a request seen before.
ENQUEUE = INDEX_OUTLET + """
if ARGV[4] ~= '' and redis.call('SADD', KEYS[5], ARGV[4]) == 0 then return -1 end
local seq = redis.call('INCR', KEYS[4]) % 1000000000
local added = redis.call('ZADD', KEYS[2], tonumber(ARGV[2]) + seq / 1e10, ARGV[3])
if added == 1 then redis.call('INCR', KEYS[3]) end
index_outlet(KEYS[1], KEYS[2], ARGV[1])
return added
"""
# The best request of the best outlet whose slot is free, moved into the worker's lease hash, with the outlet's
# slot taken for it, all in one step (KEYS: index, lease hash, count; ARGV: lease id, queue key prefix, slot key
# prefix, milliseconds to hold a slot (0: no slots), longest wait reported for a slot held through a download).
# Returns {1, request} or {0, milliseconds until the first busy outlet may be free (-1: nothing queued)}.
POP_DUE = INDEX_OUTLET + """
local wait = -1
for _, outlet in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  local slot = ARGV[3] .. outlet
  local ttl = -2
  if outlet ~= '' and ARGV[4] ~= '0' then ttl = redis.call('PTTL', slot) end
  if ttl == -2 then
    local queue = ARGV[2] .. outlet
    local item = redis.call('ZRANGE', queue, 0, 0)[1]
    if item then
      redis.call('ZREM', queue, item)
      redis.call('DECR', KEYS[3])
      index_outlet(KEYS[1], queue, outlet)
      if outlet ~= '' and ARGV[4] ~= '0' then redis.call('SET', slot, ARGV[1], 'PX', ARGV[4]) end
      redis.call('HSET', KEYS[2], ARGV[1], outlet .. '\\n' .. item)
      return {1, item}
    end
    redis.call('ZREM', KEYS[1], outlet)
  else
    if redis.call('GET', slot) ~= 'cooling' then ttl = math.min(ttl, tonumber(ARGV[5])) end
    if ttl < 0 then ttl = tonumber(ARGV[5]) end
    if wait < 0 or ttl < wait then wait = ttl end
  end
end
return {0, wait}
"""
# A lease given back to its outlet's queue, unless someone else returned it first (KEYS: lease hash, index,
# count, sequence; ARGV: lease id, score, queue key prefix).
RETURN_LEASE = INDEX_OUTLET + """
local value = redis.call('HGET', KEYS[1], ARGV[1])
if not value then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local cut = string.find(value, '\\n', 1, true)
local outlet, item = string.sub(value, 1, cut - 1), string.sub(value, cut + 1)
local queue = ARGV[3] .. outlet
local seq = redis.call('INCR', KEYS[4]) % 1000000000
if redis.call('ZADD', queue, tonumber(ARGV[2]) + seq / 1e10, item) == 1 then redis.call('INCR', KEYS[3]) end
index_outlet(KEYS[2], queue, outlet)
return 1
"""
# An outlet slot's lifetime set anew, only while it is still ours (KEYS: slot; ARGV: our token, milliseconds).
RENEW_SLOT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""
# A download over: the outlet's slot, if still ours, lives on for the outlet's delay, marked as cooling down (so
# a worker waiting for it knows exactly when it ends). KEYS: slot; ARGV: our token, milliseconds.
HAND_OVER_SLOT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('SET', KEYS[1], 'cooling', 'PX', ARGV[2]) return 1 end
return 0
"""


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


def stop_worker(crawler: Any, exc: Exception) -> None:
    """Redis stayed away past ``CLUSTER_REDIS_RETRY_SECONDS``: one error line, and the worker stops cleanly
    (files closed, exit status 2); whichever component met it first says so, the others stay quiet."""
    stats = crawler.stats
    if stats.get_value("distributed/redis_lost"):
        return
    stats.set_value("distributed/redis_lost", 1)
    logging.getLogger(__name__).error(
        "Redis at %s is unreachable (%s): this worker stops; the queue stays in Redis and a new start resumes it "
        "once Redis is back", crawler.settings["REDIS_URL"], exc)
    quiet = _QuietRedisErrors()
    for name in ("scrapy.core.scraper", "scrapy.core.engine", "twisted"):
        logging.getLogger(name).addFilter(quiet)
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor

    from crawler.compat import spider_open

    def close() -> None:
        if spider_open(crawler):  # not when the error came from the closing itself
            deferred_from_coro(crawler.engine.close_spider_async(reason="redis_unavailable"))

    reactor.callLater(0, close)


class _QuietRedisErrors(logging.Filter):
    """Once the worker stops for Redis, the requests still in flight fail on their next Redis command; each would
    log a traceback that says again what the one error line said. Their lines stay, without the traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        import redis

        error = record.exc_info[1] if record.exc_info else None
        while error is not None and not isinstance(error, redis.RedisError):
            error = error.__cause__ or error.__context__
        if error is not None:
            record.exc_info = None
            record.msg = f"{record.msg} (no Redis)"
        return True
