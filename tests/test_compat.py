"""The private Scrapy hooks of ``crawler.compat`` still exist in the installed Scrapy (a loud failure if not)."""

from __future__ import annotations

import inspect

from scrapy.core.downloader import Downloader
from scrapy.core.engine import ExecutionEngine
from scrapy.core.scraper import Slot


def test_engine_has_the_attributes_engine_drained_reads():
    source = inspect.getsource(ExecutionEngine)
    assert "self._start" in source and "self._slot" in source
    assert "scheduler" in inspect.getsource(ExecutionEngine.spider_is_idle)
    assert "self.active" in inspect.getsource(Downloader.__init__)


def test_scraper_slot_counts_items_in_progress():
    slot = Slot()
    assert hasattr(slot, "itemproc_size") and hasattr(slot, "queue")


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

    from crawler.middlewares import ROBOTS_FORBIDDEN

    assert ROBOTS_FORBIDDEN in inspect.getsource(RobotsTxtMiddleware)


def test_a_running_engine_exposes_its_scheduler_and_can_be_woken_sooner():
    """``engine_scheduler`` and ``wake_engine`` read the engine's private slot: a real crawl (in a fresh process)
    whose spider asks for both while it runs; if Scrapy renames the slot, its scheduler or ``nextcall``, it fails."""
    import subprocess
    import sys

    from tests.support.crawl import REPO

    script = (
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
        "        wake_engine(self.crawler, 0.01)\n"
        "        seen['woken'] = isinstance(nextcall, CallLaterOnce) and nextcall._call is not None\n"
        "        return\n"
        "        yield\n"
        "process = CrawlerProcess({'TELNETCONSOLE_ENABLED': False, 'LOG_ENABLED': False})\n"
        "crawler = process.create_crawler(Probe)\n"
        "assert engine_scheduler(crawler) is None\n"
        "process.crawl(crawler)\n"
        "process.start()\n"
        "assert isinstance(seen['scheduler'], BaseScheduler), seen\n"
        "assert seen['woken'], seen\n"
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
