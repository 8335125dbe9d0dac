"""The private Scrapy, Twisted and scrapy-redis hooks of ``crawler.compat`` still exist in the installed libraries
and still do what the crawl relies on (a loud failure if not), one test or more per hook."""

from __future__ import annotations

import asyncio
import atexit
import inspect
import os
import subprocess
import sys
import time
from pathlib import Path

from scrapy.core.downloader import Downloader
from scrapy.core.downloader import Slot as DownloaderSlot
from scrapy.core.engine import ExecutionEngine
from scrapy.core.scraper import Slot
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, TextResponse
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred

from crawler.compat import (RobotsTxtHooks, drop_waiting_requests, engine_scheduler, hold_download_slot,
                            keep_connection_headers, robots_sitemaps)

REPO = Path(__file__).resolve().parent.parent


def test_engine_has_the_attributes_engine_drained_reads():
    source = inspect.getsource(ExecutionEngine)
    assert "self._start" in source and "self._slot" in source
    assert "scheduler" in inspect.getsource(ExecutionEngine.spider_is_idle)
    assert "self.active" in inspect.getsource(Downloader.__init__)


def test_the_engine_gives_its_scheduler_while_a_spider_is_open():
    """``engine_scheduler`` (and ``spider_open``, which is ``close_spider_async``'s own precondition) take the
    public ``ExecutionEngine.scheduler`` where Scrapy has it (2.19), else the private slot's."""
    scheduler = getattr(ExecutionEngine, "scheduler", None)
    if isinstance(scheduler, property):
        assert "self._slot" in inspect.getsource(scheduler.fget)  # None exactly when there is no slot
    else:
        assert "self._slot = _Slot(" in inspect.getsource(ExecutionEngine.open_spider_async)
    closing = inspect.getsource(ExecutionEngine.close_spider_async)
    assert "self.spider is None" in closing and "self._slot is None" in closing
    assert "self._slot = None" in closing and "self.spider = None" in closing
    assert engine_scheduler(None) is None


def test_scraper_slot_counts_items_in_progress():
    slot = Slot()
    assert hasattr(slot, "itemproc_size") and hasattr(slot, "queue")


def real_downloader() -> Downloader:
    return Downloader(get_crawler(settings_dict={"DOWNLOAD_HANDLERS": {"http": None, "https": None}}))


def test_a_download_slot_is_held_by_its_lastseen():
    """The downloader sends to a slot once ``lastseen + delay`` has passed on the monotonic clock."""
    source = inspect.getsource(Downloader._process_queue)
    assert "monotonic()" in source and "slot.lastseen" in source and "delay - now + slot.lastseen" in source
    downloader = real_downloader()
    request = Request("http://www.outlet.test/news/1")
    slot = downloader.slots[downloader.get_slot_key(request)] = DownloaderSlot(1, 2.0, 0)
    hold_download_slot(downloader, request, 30)
    assert slot.lastseen + slot.delay >= time.monotonic() + 29


def test_requests_waiting_in_a_download_slot_can_be_dropped():
    """Waiting requests are ``(request, deferred)`` pairs in ``slot.queue``; failing the deferred fails the
    download as any error does."""
    assert "slot.queue.append((request, d))" in inspect.getsource(Downloader._enqueue_request)
    downloader = real_downloader()
    mine, other = Request("http://www.outlet.test/news/1"), Request("http://www.other.test/news/1")
    slot = downloader.slots["www.outlet.test"] = DownloaderSlot(1, 0.0, 0)
    failures: list = []
    for request in (mine, other):
        waiting: Deferred = Deferred()
        waiting.addErrback(failures.append)
        slot.queue.append((request, waiting))
    dropped = drop_waiting_requests(downloader, lambda request: request is mine,
                                    lambda request: IgnoreRequest(request.url))
    assert dropped == [mine] and [queued for queued, _ in slot.queue] == [other]
    assert [failure.value.args for failure in failures] == [(mine.url,)]


def robots_hooks() -> RobotsTxtHooks:
    return RobotsTxtHooks.from_crawler(get_crawler(settings_dict={"ROBOTSTXT_OBEY": True}))


def test_scrapy_robots_middleware_calls_the_steps_the_hooks_rename():
    """Scrapy's robot_parser keeps a Deferred per host in ``_parsers`` and calls ``_parse_robots`` and
    ``_robots_error`` with these arguments: the hooks override exactly those."""
    source = inspect.getsource(RobotsTxtMiddleware.robot_parser)
    assert "self._parsers[netloc] = Deferred()" in source
    assert "await self._parse_robots(resp, netloc, request)" in source
    assert "self._robots_error(e, netloc)" in source
    assert list(inspect.signature(RobotsTxtMiddleware._parse_robots).parameters) == [
        "self", "response", "netloc", "request"]
    assert list(inspect.signature(RobotsTxtMiddleware._robots_error).parameters) == ["self", "exc", "netloc"]


def test_robots_hooks_parse_settle_and_read_a_hosts_parser():
    hooks = robots_hooks()
    hooks._parsers["www.outlet.test"] = waiting = Deferred()
    woken: list = []
    waiting.addCallback(woken.append)
    body = b"User-agent: *\nDisallow: /private\nSitemap: http://www.outlet.test/news.xml\n"
    response = TextResponse("http://www.outlet.test/robots.txt", body=body)
    asyncio.run(hooks._parse_robots(response, "www.outlet.test", Request("http://www.outlet.test/")))
    parser = hooks.parser_of("www.outlet.test")
    assert woken == [parser] and not parser.allowed("http://www.outlet.test/private/1", "presswarc")
    assert robots_sitemaps(parser) == ["http://www.outlet.test/news.xml"]

    hooks._parsers["www.failed.test"] = Deferred()
    assert hooks.parser_of("www.failed.test") is None  # still awaited
    hooks._robots_error(IgnoreRequest("refused"), "www.failed.test")
    assert "www.failed.test" in hooks._parsers and hooks.parser_of("www.failed.test") is None  # Scrapy: allow

    hooks._parsers["www.closed.test"] = closed = Deferred()
    hooks.settle("www.closed.test", parser)
    assert hooks.parser_of("www.closed.test") is parser and closed.called


def test_connection_headers_reach_scrapy_headers():
    """A real Twisted parser of Scrapy's HTTP/1.1 handler reads a chunked answer's head: with the hook, the
    headers Scrapy builds its Response from carry Transfer-Encoding and Connection (without: Content-Type only)."""
    from scrapy.core.downloader.handlers import http11
    from twisted.internet.testing import StringTransport
    from twisted.web._newclient import Request as TwistedRequest
    from twisted.web.http_headers import Headers

    assert keep_connection_headers() is True
    assert "self._headers_from_twisted_response(" in inspect.getsource(http11._ScrapyAgent)
    parser = http11._LenientHTTPClientParser(TwistedRequest(b"GET", b"/", Headers({b"host": [b"x"]}), None),
                                             lambda rest: None)
    parser.makeConnection(StringTransport())
    parser.dataReceived(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Type: text/html\r\n"
                        b"Connection: keep-alive\r\n\r\n")
    headers = http11._ScrapyAgent._headers_from_twisted_response(parser.response)
    assert headers.get(b"Transfer-Encoding") == b"chunked" and headers.get(b"Connection") == b"keep-alive"
    assert headers.get(b"Content-Type") == b"text/html"


def test_cookies_middleware_judges_public_domains_with_split_domain():
    """``use_bundled_public_suffix_list`` replaces ``cookies._split_domain``: if Scrapy stops reading it, the
    replacement would do nothing and crawls would download the suffix list again."""
    from scrapy.downloadermiddlewares import cookies
    from tldextract import TLDExtract

    assert isinstance(cookies._split_domain, TLDExtract)
    assert "_split_domain(" in inspect.getsource(cookies._is_public_domain)


def test_bundled_public_suffix_list_looks_nothing_up(tmp_path):
    """With the patch, the cookies middleware's public-domain check runs on the bundled list: no host name is
    looked up, even with an empty tldextract cache (without it, tldextract fetches the list from publicsuffix.org
    and GitHub). A fresh process, so the cache and the patch are those of a crawl's start."""
    import os
    import subprocess
    import sys

    from tests.support.crawl import REPO

    script = ("import socket\n"
              "looked_up, real = [], socket.getaddrinfo\n"
              "socket.getaddrinfo = lambda host, *args, **kw: looked_up.append(host) or real(host, *args, **kw)\n"
              "from crawler.compat import use_bundled_public_suffix_list\n"
              "use_bundled_public_suffix_list()\n"
              "from scrapy.downloadermiddlewares.cookies import _is_public_domain\n"
              "assert _is_public_domain('co.uk') and not _is_public_domain('www.example.co.uk')\n"
              "assert not looked_up, looked_up\n")
    env = {**os.environ, "PYTHONPATH": str(REPO), "TLDEXTRACT_CACHE": str(tmp_path / "cache")}
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


def test_scrapy_robots_middleware_still_refuses_with_the_message_the_spider_reads():
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    from crawler.middlewares.robots import ROBOTS_FORBIDDEN

    assert ROBOTS_FORBIDDEN in inspect.getsource(RobotsTxtMiddleware)


def test_a_running_engine_exposes_its_scheduler_and_can_be_woken_sooner():
    """``engine_scheduler`` and ``wake_engine`` read the engine's private slot: a real crawl (in a fresh process)
    whose spider asks for both while it runs; if Scrapy renames the slot, its scheduler or ``nextcall``, it fails."""
    import subprocess
    import sys

    from tests.support.crawl import REPO

    script = (
        "import asyncio, time\n"
        "from scrapy import Spider\n"
        "from scrapy.core.scheduler import BaseScheduler\n"
        "from scrapy.crawler import CrawlerProcess\n"
        "from scrapy.utils.reactor import CallLaterOnce\n"
        "from crawler.compat import engine_scheduler, wake_engine\n"
        "seen = {}\n"
        "class Probe(Spider):\n"
        "    name = 'probe'\n"
        "    async def start(self):\n"
        "        seen['scheduler'] = engine_scheduler(self.crawler)\n"
        "        nextcall = self.crawler.engine._slot.nextcall\n"
        "        seen['hook'] = isinstance(nextcall, CallLaterOnce)\n"
        "        for _ in range(500):  # the engine's own pending call runs first\n"
        "            if nextcall._call is None:\n"
        "                break\n"
        "            await asyncio.sleep(0.01)\n"
        "        wake_engine(self.crawler, 60)  # a wake-up a minute away, then one now: the sooner one counts\n"
        "        wake_engine(self.crawler, 0)\n"
        "        began = time.monotonic()\n"
        "        await asyncio.wait_for(nextcall.wait(), 20)\n"
        "        seen['woken'] = time.monotonic() - began < 2\n"
        "        return\n"
        "        yield\n"
        "process = CrawlerProcess({'TELNETCONSOLE_ENABLED': False, 'LOG_ENABLED': False})\n"
        "crawler = process.create_crawler(Probe)\n"
        "assert engine_scheduler(crawler) is None\n"
        "process.crawl(crawler)\n"
        "process.start()\n"
        "assert isinstance(seen['scheduler'], BaseScheduler), seen\n"
        "assert seen['hook'] and seen['woken'], seen\n"
        "assert engine_scheduler(crawler) is None\n"
        "print('ok')\n")
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                            env={**__import__("os").environ, "PYTHONPATH": str(REPO)})
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-3000:]
    from scrapy.utils.reactor import CallLaterOnce

    assert "delay" in inspect.signature(CallLaterOnce.schedule).parameters  # wake_engine passes one


def test_redis_py_retry_has_what_patient_retry_overrides():
    """``crawler.store.redisclient.PatientRetry`` replaces redis-py's ``Retry.call_with_retry`` keeping its signature
    and reads its backoff and error list; if redis-py changes either, the retries would stop working."""
    from redis.backoff import ExponentialBackoff
    from redis.retry import Retry

    assert list(inspect.signature(Retry.call_with_retry).parameters) == [
        "self", "do", "fail", "is_retryable", "with_failure_count"]
    retry = Retry(ExponentialBackoff(), retries=1)
    assert hasattr(retry, "_backoff") and hasattr(retry, "_supported_errors")


def test_redis_py_asyncio_retry_has_what_patient_async_retry_overrides():
    """The same for ``PatientAsyncRetry`` and ``redis.asyncio``'s ``Retry``, and for the copy redis-py makes of a
    client's retry for each connection (``Outage`` must stay shared: it says an outage once per worker)."""
    import copy

    from redis.asyncio.retry import Retry as AsyncRetry
    from redis.backoff import ExponentialBackoff

    from crawler.store.redisclient import PatientAsyncRetry

    assert list(inspect.signature(AsyncRetry.call_with_retry).parameters) == [
        "self", "do", "fail", "is_retryable", "with_failure_count"]
    assert inspect.iscoroutinefunction(AsyncRetry.call_with_retry)
    retry = AsyncRetry(ExponentialBackoff(), retries=1)
    assert hasattr(retry, "_backoff") and hasattr(retry, "_supported_errors")
    patient = PatientAsyncRetry("redis://127.0.0.1:1/0", 1.0)
    assert copy.deepcopy(patient).outage is patient.outage


def test_patient_retry_waits_for_redis_then_gives_up_at_once(tmp_path):
    """A real redis-server stopped: a command waits the whole budget, then raises; the next raises at once."""
    import time

    import redis

    from crawler.store.redisclient import connect
    from tests.support.redisserver import restartable_redis_server

    with restartable_redis_server(tmp_path) as server:
        client = connect(server.url, 1.0)
        client.set("k", "v")
        server.stop()
        started = time.monotonic()
        try:
            client.get("k")
        except redis.ConnectionError:
            pass
        assert 1.0 <= time.monotonic() - started < 6
        started = time.monotonic()
        try:
            client.get("k")
        except redis.ConnectionError:
            pass
        assert time.monotonic() - started < 0.5
        server.start()
        assert client.get("k") == b"v"  # back, and its data with it


def test_patient_async_retry_waits_for_redis_without_blocking_the_loop(tmp_path):
    """The asyncio client: a command waits the whole budget while the event loop runs on, then raises; the next
    raises at once; once Redis is back its data answers again."""
    import asyncio
    import time

    import redis

    from crawler.store.redisclient import connect_async
    from tests.support.redisserver import restartable_redis_server

    async def scenario(server) -> None:
        client = connect_async(server.url, 1.0)
        await client.set("k", "v")
        server.stop()
        ticks = 0

        async def tick() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.05)
                ticks += 1

        ticker = asyncio.ensure_future(tick())
        started = time.monotonic()
        try:
            await client.get("k")
        except redis.ConnectionError:
            pass
        waited = time.monotonic() - started
        assert 1.0 <= waited < 6 and ticks >= 10  # the loop ran while the command waited
        ticker.cancel()
        started = time.monotonic()
        try:
            await client.get("k")
        except redis.ConnectionError:
            pass
        assert time.monotonic() - started < 0.5
        server.start()
        assert await client.get("k") == b"v"
        await client.aclose()

    with restartable_redis_server(tmp_path) as server:
        asyncio.run(scenario(server))


def test_exit_without_teardown_runs_exit_handlers_and_flushes(tmp_path):
    """The crawl command ends through it: the atexit handlers (WARC writers, logging) must still run and buffered
    output must still arrive, with the exit status asked for."""
    assert callable(getattr(atexit, "_run_exitfuncs", None))
    marker = tmp_path / "handler-ran"
    script = ("import atexit, pathlib, sys\n"
              "from crawler.compat import exit_without_teardown\n"
              f"atexit.register(pathlib.Path({str(marker)!r}).write_text, 'yes')\n"
              "sys.stdout.write('buffered, no newline')\n"
              "exit_without_teardown(5)\n"
              "print('never')\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert result.returncode == 5, result.stderr
    assert result.stdout == "buffered, no newline"
    assert marker.read_text() == "yes"
