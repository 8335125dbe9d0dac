"""What the cluster's components share: the Lua scripts that make their Redis moves atomic, the worker's id and
the timings of heartbeats and leases.

The scripts are plain strings, registered by each component on its own connection (``register_script``), so
Redis runs each as one step: no other worker's command can come between taking a request and leasing it.
"""

from __future__ import annotations

import os
import socket

HEARTBEAT_SECONDS = 2.0
WORKER_TTL_SECONDS = 8  # a worker silent this long is dead; its leases go back to the queue
LEASE_META = "lease"

# The queue's first request, moved into the worker's lease hash (KEYS: queue, lease hash; ARGV: lease id).
POP_AND_LEASE = """
local item = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
if not item then return false end
redis.call('ZREM', KEYS[1], item)
redis.call('HSET', KEYS[2], ARGV[1], item)
return item
"""
# A lease given back to the queue, unless someone else returned it first (KEYS: lease hash, queue;
# ARGV: lease id, score, request).
RETURN_LEASE = """
if redis.call('HDEL', KEYS[1], ARGV[1]) == 1 then redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3]) return 1 end
return 0
"""
# An outlet slot's lifetime set anew, only while it is still ours (KEYS: slot; ARGV: our token, milliseconds).
HAND_OVER_SLOT = """
if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) return 1 end
return 0
"""


def worker_id() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"
