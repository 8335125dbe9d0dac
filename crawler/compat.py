"""Every private Scrapy, Twisted and scrapy-redis internal the crawl relies on, each in one place with the public
API it lacks.

``tests/test_compat.py`` fails (an assertion, not a log line) when one of these hooks disappears from the installed
libraries. Nothing of ours is imported here. Where Scrapy now has a public route for one (``engine.scheduler``
since 2.19), it is taken when there and the private one kept for older releases.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import weakref
from typing import TYPE_CHECKING, Any, Callable, NoReturn

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from twisted.internet.defer import Deferred

if TYPE_CHECKING:
    from scrapy.core.downloader import Downloader
    from scrapy.http import Request, Response
    from scrapy.robotstxt import RobotParser


# -- the engine ------------------------------------------------------------------------------------------------

def _engine(crawler: Any) -> Any:
    try:
        return crawler.engine  # Scrapy 2.19 raises RuntimeError before the crawl starts
    except (AttributeError, RuntimeError):
        return None


def _scheduler_of(engine: Any) -> Any:
    if engine is None:
        return None
    if isinstance(getattr(type(engine), "scheduler", None), property):
        return engine.scheduler
    slot = getattr(engine, "_slot", None)  # noqa: SLF001 - Scrapy < 2.19
    return slot.scheduler if slot is not None else None


def engine_scheduler(crawler: Any) -> Any:
    """The scheduler of the crawler's running engine, or None before it opens and after it closes.

    Missing public API before Scrapy 2.19: ``ExecutionEngine.scheduler`` (used when there); older releases hand
    the scheduler to nobody, and components that must reach it (the cluster's leases, released from spider
    callbacks and item signals) find it on the engine's private ``_slot``.
    """
    return _scheduler_of(_engine(crawler))


def wake_engine(crawler: Any, seconds: float) -> None:
    """Have the engine ask its scheduler for requests again in ``seconds`` (sooner if something else wakes it).

    Missing public API: a scheduler that has requests but none due yet can only return None, and the engine then
    looks again at its next 5-second heartbeat; its ``nextcall`` (a ``CallLaterOnce``) is the only way to be
    asked sooner. A delay is kept here, on a timer of our own, not given to ``nextcall``: while a call is pending
    there, ``CallLaterOnce`` ignores every other request for one, so a wake-up one second away would swallow the
    engine's own "look now" after each download for that second.
    """
    slot = getattr(_engine(crawler), "_slot", None)  # noqa: SLF001
    if slot is None:
        return
    if seconds <= 0:
        slot.nextcall.schedule(0)
        return
    when = time.monotonic() + seconds
    pending = _DELAYED_WAKES.get(crawler)
    if pending is not None and pending[0] <= when:
        return  # one at least as soon is set already
    if pending is not None:
        pending[1].cancel()
    from scrapy.utils.asyncio import call_later

    _DELAYED_WAKES[crawler] = (when, call_later(seconds, _wake_now, crawler))


def _wake_now(crawler: Any) -> None:
    _DELAYED_WAKES.pop(crawler, None)
    wake_engine(crawler, 0)


_DELAYED_WAKES: "weakref.WeakKeyDictionary[Any, tuple[float, Any]]" = weakref.WeakKeyDictionary()


def spider_open(crawler: Any) -> bool:
    """Whether the crawler's engine has an open spider that ``close_spider_async`` can close (it raises otherwise).

    Missing public API: the engine has no "is a spider open" test; its ``spider`` is set before the slot that
    closing needs exists and cleared after it is gone, so the scheduler (see :func:`engine_scheduler`) tells.
    """
    engine = _engine(crawler)
    return engine is not None and engine.spider is not None and _scheduler_of(engine) is not None


def engine_drained(crawler: Any, held_items: int = 0) -> bool:
    """Nothing queued, nothing downloading, every start request handed out, no response waiting for the spider,
    and no item in the item pipelines but the ``held_items`` its caller holds on purpose.

    Missing public API: Scrapy's ``ExecutionEngine.spider_is_idle()`` requires the scraper to have no item in
    progress at all; the capture-order pipeline holds items on purpose and needs the rest of that test alone.
    It reads the scraper slot's ``queue`` and ``itemproc_size`` and the engine's private ``_start``.
    """
    engine = _engine(crawler)
    slot = getattr(getattr(engine, "scraper", None), "slot", None)
    if slot is None or slot.queue or slot.itemproc_size > held_items:
        return False
    if engine.downloader.active:
        return False
    if engine._start is not None:  # noqa: SLF001 - start requests not all consumed
        return False
    scheduler = _scheduler_of(engine)
    return scheduler is not None and not scheduler.has_pending_requests()


# -- the downloader's slots --------------------------------------------------------------------------------------

def hold_download_slot(downloader: Downloader, request: Request, seconds: float) -> None:
    """Let the downloader send nothing more to ``request``'s slot for ``seconds`` (a server's back-off).

    Missing public API: a slot's delay is fixed (DOWNLOAD_DELAY, AutoThrottle); nothing pauses one slot for a
    while. The downloader sends to a slot once ``lastseen + delay`` has passed on the monotonic clock, so moving
    ``lastseen`` ahead holds it; a slot without a delay is not held (its requests go out at once either way).
    """
    if seconds <= 0:
        return
    key = request.meta.get("download_slot") or downloader.get_slot_key(request)
    slot = downloader.slots.get(key)
    if slot is not None and slot.delay:
        slot.lastseen = max(slot.lastseen, time.monotonic() + seconds - slot.delay)


def drop_waiting_requests(downloader: Downloader, drop: Callable[[Request], bool],
                          error: Callable[[Request], Exception]) -> list[Request]:
    """Take the requests waiting in the downloader's slots for which ``drop`` is true out of their queues, and
    fail each with ``error(request)`` (its errback runs as for any failed download); returns them.

    Missing public API: a request handed to the downloader cannot be recalled; each slot keeps its waiting
    requests in ``slot.queue`` as ``(request, deferred)`` pairs.
    """
    dropped = []
    for slot in list(downloader.slots.values()):
        waiting = [(queued, deferred) for queued, deferred in slot.queue if drop(queued)]
        for entry in waiting:
            slot.queue.remove(entry)
        for queued, deferred in waiting:
            dropped.append(queued)
            deferred.errback(error(queued))
    return dropped


# -- robots.txt ----------------------------------------------------------------------------------------------

class RobotsTxtHooks(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with the steps a subclass changes under public names.

    Missing public API: ``RobotsTxtMiddleware`` has no hook that decides which parser a host gets once its
    robots.txt arrived or failed (the ``robots_parsed`` signal only observes), and no way to read or set a host's
    parser: these are its private ``_parse_robots``, ``_robots_error`` and ``_parsers``. Subclasses override
    :meth:`parse_robots` and :meth:`robots_error`, and call :meth:`parser_of` and :meth:`settle`.
    """

    async def _parse_robots(self, response: Response, netloc: str, request: Request) -> None:  # Scrapy calls it
        await self.parse_robots(response, netloc, request)

    def _robots_error(self, exc: Exception, netloc: str) -> None:  # Scrapy calls it
        self.robots_error(exc, netloc)

    async def parse_robots(self, response: Response, netloc: str, request: Request) -> None:
        """``netloc``'s robots.txt arrived: Scrapy parses it and wakes the requests waiting for it."""
        await super()._parse_robots(response, netloc, request)

    def robots_error(self, exc: Exception, netloc: str) -> None:
        """``netloc``'s robots.txt could not be downloaded: Scrapy lets every request to the host through."""
        super()._robots_error(exc, netloc)

    def parser_of(self, netloc: str) -> RobotParser | None:
        """The parser ``netloc``'s requests are checked with; None while its robots.txt is awaited, or if none."""
        parser = self._parsers.get(netloc)
        return None if isinstance(parser, Deferred) else parser

    def settle(self, netloc: str, parser: Any) -> None:
        """Check ``netloc``'s requests with ``parser`` (anything with ``allowed(url, user_agent)``) from now on,
        the ones waiting for its robots.txt included."""
        waiting = self._parsers.get(netloc)
        self._parsers[netloc] = parser
        if isinstance(waiting, Deferred):
            waiting.callback(parser)


def robots_sitemaps(parser: Any) -> list[str]:
    """The Sitemap lines of a parsed robots.txt (none for a parser that does not keep them).

    Missing public API: Scrapy's ``RobotParser`` interface offers ``allowed`` and ``crawl_delay`` only; its
    default ``ProtegoRobotParser`` keeps the Protego parser, whose ``sitemaps`` are public, as ``rp``.
    """
    return [str(url) for url in getattr(getattr(parser, "rp", None), "sitemaps", None) or ()]


# -- HTTP/1.1 download handler ---------------------------------------------------------------------------------

_connection_headers_kept = False


def keep_connection_headers() -> bool:
    """Make Scrapy responses carry the connection headers too (``Transfer-Encoding``, ``Connection``,
    ``Keep-Alive``), for the WARC records; idempotent. False (and Scrapy untouched) when not possible.

    Twisted's HTTP client files these headers apart from the others (``HTTPParser.connHeaders``) and Scrapy
    builds its ``Response`` from the others only, so a recorder reading ``response.headers`` would archive a
    chunked response without its ``Transfer-Encoding: chunked`` line.

    Missing public API: neither Twisted's ``IResponse`` nor Scrapy's download handler exposes them. This wraps
    two private functions of ``scrapy.core.downloader.handlers.http11``: the status line handler of
    ``_LenientHTTPClientParser`` (to keep the parser's ``connHeaders`` on the Twisted response) and
    ``_ScrapyAgent._headers_from_twisted_response`` (to add them to Scrapy's headers).
    """
    global _connection_headers_kept
    if _connection_headers_kept:
        return True
    try:
        from scrapy.core.downloader.handlers import http11

        parser_class = http11._LenientHTTPClientParser  # noqa: SLF001
        agent_class = http11._ScrapyAgent  # noqa: SLF001
        original_status = parser_class.statusReceived
        original_headers = agent_class._headers_from_twisted_response  # noqa: SLF001
    except (ImportError, AttributeError):
        return False

    def statusReceived(self, status):  # noqa: N802 - Twisted's name
        original_status(self, status)
        response = getattr(self, "response", None)
        if response is not None:
            response.presswarc_connection_headers = self.connHeaders  # filled as the header lines arrive

    def headers_from_twisted_response(response):
        headers = original_headers(response)
        connection = getattr(response, "presswarc_connection_headers", None)
        if connection is not None:
            for name, values in connection.getAllRawHeaders():
                if name.lower() != b"content-length":  # Scrapy sets it already
                    headers.setlist(name, values)
        return headers

    parser_class.statusReceived = statusReceived
    agent_class._headers_from_twisted_response = staticmethod(headers_from_twisted_response)  # noqa: SLF001
    _connection_headers_kept = True
    return True


# scrapy-redis needs nothing here: crawler.cluster.scheduler encodes requests with the queue's public
# ``serializer`` and Scrapy's ``Request.to_dict`` / ``request_from_dict``, as its private ``_encode_request`` does.


# -- cookies -------------------------------------------------------------------------------------------------

def use_bundled_public_suffix_list() -> None:
    """Make the cookies middleware use tldextract's bundled public suffix list instead of downloading it.

    Scrapy's ``_split_domain`` is a ``TLDExtract`` with its default list URLs: on the first cookie with a domain
    it fetches the list from publicsuffix.org (then GitHub) with ``requests``, synchronously in the reactor
    thread, logging two tracebacks when offline. A replay must not touch the network, so the replay add-on calls
    this when REPLAY_FROM is set; a live crawl keeps Scrapy's behaviour.

    Missing public API: Scrapy has no setting or hook for the suffix list (or the ``TLDExtract``) the cookies
    middleware judges public domains with; it is the module attribute ``_split_domain``.
    """
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    cookies._split_domain = TLDExtract(suffix_list_urls=(), include_psl_private_domains=True)  # noqa: SLF001


# -- the interpreter -------------------------------------------------------------------------------------------

def exit_without_teardown(code: int) -> NoReturn:
    """End the process now that the crawl is over and its files are closed: the ``atexit`` handlers run (WARC
    writers, logging, multiprocessing) and stdio is flushed, but the interpreter's teardown, which frees every
    object of the crawl one by one (1-2 s of CPU after a crawl, several seconds on a busy machine, for nothing the
    operating system would not do at once), is skipped. It was the largest part of a distributed worker's time
    between its last request and its exit. Public API missing: running the ``atexit`` handlers without
    finalizing (``atexit._run_exitfuncs``)."""
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe or stream: nothing more can reach it
            pass
    os._exit(code)
