"""The extraction worker pool: worker processes that warm up early, die with the crawl, and survive a crash.

Extraction is CPU work (lxml + trafilatura, 10-50 ms a page); in the reactor thread it would stall downloads and
use one core. Pages are submitted to a ``ProcessPoolExecutor`` instead and awaited as futures, so the reactor
keeps going. A worker that dies costs only the page that killed it: the pool is rebuilt and the pages it held
are tried again one by one in a worker of their own.

No Scrapy here: the workers import this module for their initializer, and the pipeline
(``pipelines.extract.pipeline``) turns :class:`WorkerDied` into a dropped item.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import sys
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from pipelines.cuefile import use_extra_cues
from pipelines.extract.stages import extract_article, extract_to_dict, load_language_detector

logger = logging.getLogger(__name__)

_WARM_UP_PAGE = ("<html lang='en'><head><title>Warm-up</title><meta name='date' content='2021-07-16'></head><body>"
                 "<article><h1>Warm-up</h1><p>Extraction libraries load their models and caches on first use, "
                 "so a fresh worker reads one small page before the first real one reaches it.</p>"
                 "<p>Support our journalism: subscribe to our newsletter.</p></article></body></html>")


def warm_up() -> None:
    """Load the extraction libraries, their caches, the prompt cues and the language detector's model in a fresh
    worker (a second or so) while discovery runs, instead of on the first page."""
    extract_article(_WARM_UP_PAGE.encode(), "http://warm-up.invalid/")
    load_language_detector()


PR_SET_PDEATHSIG = 1  # linux/prctl.h


def die_with_parent(parent: int) -> None:
    """Worker initializer: the worker dies with the crawl that started it, even a crawl killed with SIGKILL
    (which runs no clean-up), instead of living on idle with its 175 MB.

    On Linux the kernel does it: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; the parent may have died before that call,
    so the parent pid is checked right after it. Elsewhere a daemon thread polls the parent pid once a second.
    (The signal follows the *thread* that started the worker: the pool is grown from the reactor thread.)"""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:
                os._exit(1)
            return
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(1)

    if os.getppid() != parent:
        os._exit(1)
    threading.Thread(target=watch, name="parent-watchdog", daemon=True).start()


def start_worker(parent: int, extra_cues: dict | None) -> None:
    """Worker initializer: die with the crawl (:func:`die_with_parent`), and use the user's prompt cues
    (``EXTRACT_CUES_FILE``, read and checked once by the crawl; a spawned worker starts with the packaged ones)."""
    die_with_parent(parent)
    if extra_cues:
        use_extra_cues(extra_cues)


def new_executor(workers: int, extra_cues: dict | None = None) -> ProcessPoolExecutor:
    """A pool of ``workers`` fresh (spawned) processes that die with this one, using ``extra_cues``."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=start_worker, initargs=(os.getpid(), extra_cues))


class WorkerDied(Exception):
    """A page's worker died on it twice, alone: the page is what kills it."""


class ExtractionPool:
    """Runs ``extract`` (a module-level function with :func:`extract_to_dict`'s signature) on pages in
    ``workers`` processes (0: in this process). ``on_crash`` is called once per worker death (a counter);
    ``extra_cues``: the user's prompt cues (:func:`pipelines.cuefile.read_cues_file`), used by every worker."""

    def __init__(self, workers: int, extract: Callable[..., dict], on_crash: Callable[[], Any],
                 extra_cues: dict | None = None) -> None:
        self.workers = workers
        self.extract = extract
        self.on_crash = on_crash
        self.extra_cues = extra_cues
        self.executor: ProcessPoolExecutor | None = None
        self.alone: ProcessPoolExecutor | None = None  # runs pages suspected of killing a worker, one at a time
        self.warming: Future | None = None  # in-process extraction: the warm-up, in a thread, while discovery runs
        self._alone_lock = asyncio.Lock()

    def start(self) -> None:
        """Start the workers now: their imports (a second or so each) then overlap the rest of the crawler's
        start-up and discovery instead of following them."""
        if self.workers == 0:
            use_extra_cues(self.extra_cues)
        if self.workers > 0:
            self.executor = new_executor(self.workers, self.extra_cues)
            if self.extract is extract_to_dict:
                for _ in range(self.workers):
                    self.executor.submit(warm_up)
        elif self.extract is extract_to_dict:
            # Extraction runs on the reactor's thread: without this its first page stalled the crawl for the
            # imports and models (3-4 s on a busy machine), in every worker of a cluster.
            warmer = ThreadPoolExecutor(1, thread_name_prefix="extract-warm-up")
            self.warming = warmer.submit(warm_up)
            warmer.shutdown(wait=False)

    def shutdown(self) -> None:
        for executor in (self.executor, self.alone):
            if executor is not None:
                executor.shutdown(wait=True, cancel_futures=True)
        self.executor = self.alone = None

    async def run(self, args: tuple) -> dict:
        """The extraction result of one page (``args``: html, url, boilerplate, content type)."""
        if self.executor is None:
            if self.warming is not None:  # never two extractions at once in this process
                warming, self.warming = self.warming, None
                try:
                    await asyncio.wrap_future(warming)
                except Exception:  # a failed warm-up only means the first page pays for the imports
                    logger.debug("extraction warm-up failed", exc_info=True)
            return self.extract(*args)
        executor = self.executor
        try:
            return await asyncio.wrap_future(executor.submit(self.extract, *args))
        except BrokenProcessPool:
            # One of the pages in the pool killed its worker, and the pool fails every page it held. Which one
            # is not known: each is tried again alone, in a worker of its own, so only the culprit is lost.
            self.on_crash()
            logger.error("extraction worker died while %s was in the pool; trying it again alone", args[1])
            if self.executor is executor:  # the first page to notice replaces the pool for all
                executor.shutdown(wait=False, cancel_futures=False)
                self.executor = new_executor(self.workers, self.extra_cues)
            return await self._run_alone(args)

    async def _run_alone(self, args: tuple) -> dict:
        """A suspect page in a worker of its own: a crash there is its own; it gets one fresh worker more."""
        async with self._alone_lock:
            for attempt in (1, 2):
                if self.alone is None:
                    self.alone = new_executor(1, self.extra_cues)
                try:
                    return await asyncio.wrap_future(self.alone.submit(self.extract, *args))
                except BrokenProcessPool:
                    self.on_crash()
                    logger.error("extraction worker died on %s (alone, attempt %d)", args[1], attempt)
                    self.alone.shutdown(wait=False, cancel_futures=False)
                    self.alone = None
        raise WorkerDied(f"extraction failed twice (worker died): {args[1]}")
