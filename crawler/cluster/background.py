"""Redis work of the cluster's components, done on the reactor's event loop without blocking it.

Scrapy calls the scheduler, the middlewares and the signal handlers synchronously, and a blocking Redis call there
would stall every download of the worker while it lasts (seconds, when Redis restarts). Their Redis commands are
handed to this module instead:

- :class:`InOrder` runs operations one after the other, in the order they were submitted, each awaited before the
  next starts: a retry's copy is queued before its old lease ends, an outlet's slot is handed over before this
  worker looks for the outlet's next request. Its ``drained()`` is what a closing component awaits so nothing
  submitted is lost.
- :func:`detach` runs one coroutine on its own (a heartbeat, a renewal), when its order does not matter.

Both report a Redis error to their ``failed`` callback (the worker then stops, with one line) and anything else
once, in the log; neither lets an exception escape into the event loop's "never retrieved" warnings.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import Awaitable, Callable

import redis

logger = logging.getLogger(__name__)

Operation = Callable[[], Awaitable[object]]


class InOrder:
    """Operations run one at a time, in submission order, on the running event loop."""

    def __init__(self, failed: Callable[[Exception], None]) -> None:
        self.failed = failed
        self.waiting: deque[Operation] = deque()
        self.task: asyncio.Future | None = None
        self.broken = False  # after a Redis error nothing more is sent: the worker is stopping

    def __len__(self) -> int:
        return len(self.waiting) + (self.task is not None)

    def submit(self, operation: Operation) -> None:
        if self.broken:
            return
        self.waiting.append(operation)
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        try:
            while self.waiting:
                operation = self.waiting.popleft()
                try:
                    await operation()
                except redis.RedisError as exc:
                    self.broken = True
                    self.waiting.clear()
                    self.failed(exc)
                except Exception:  # a bug of ours: said once, and the next operations still run
                    logger.exception("a cluster operation failed")
        finally:
            self.task = None

    async def drained(self) -> None:
        """Return once everything submitted so far (and whatever it submitted in turn) has run."""
        while self.task is not None:
            await asyncio.shield(self.task)


def detach(coroutine: Awaitable[object], failed: Callable[[Exception], None]) -> asyncio.Future:
    """Run ``coroutine`` on its own; a Redis error goes to ``failed``, anything else is logged."""

    async def guarded() -> None:
        try:
            await coroutine
        except redis.RedisError as exc:
            failed(exc)
        except Exception:
            logger.exception("a cluster operation failed")

    task = asyncio.ensure_future(guarded())
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


_running: set[asyncio.Future] = set()  # the event loop keeps weak references only
