"""``scrapy crawl``, with an exit status schedulers can act on: non-zero when nothing could be fetched at all.

A crawl where some outlets failed still exits 0 (their errors are in the stats and the report); one where not
a single response arrived (network down, every outlet failing) exits 3, so cron or scrapyd users notice.
A setting given a value of the wrong kind (``-s DOWNLOAD_DELAY=abc``), a spider argument the coverage spider does
not take (``-a until=...``: the window is the topic file's), an ``ARCHIVE_DIR`` that cannot be created, a
``REPLAY_FROM`` that holds no WARC file (or a file that is not one), and an ``EXTRACT_CUES_FILE`` that is no cues
file are refused before the crawl starts, with one line saying so (exit 2), instead of a traceback or every request failing; so is a topic directory the crawl would write through a symlink in
(``crawler.paths.UnsafeArchive``, raised as the spider starts). A topic another crawl holds the lock of stops the
crawl at once with one line too (exit 1). A crawl stopped by a full disk exits 1 (its one error line is in the log).
A distributed worker whose Redis stayed away past ``CLUSTER_REDIS_RETRY_SECONDS`` exits 2, naming the URL.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import NotConfigured, UsageError

from crawler.archive.replay import replay_files
from crawler.compat import exit_without_teardown
from crawler.lock import TopicLocked
from crawler.paths import ArchiveUnwritable, UnsafeArchive
from crawler.spiders.coverage import MissingTopic
from crawler.topic import TopicError
from pipelines.cuefile import CuesError, read_cues_file

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

NOTHING_FETCHED = 3
DISK_FULL = 1


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        """:meth:`crawl`, then the process ends at once with its exit status (``compat.exit_without_teardown``:
        the interpreter's teardown would only free memory, for seconds); a usage error still reaches Scrapy,
        which prints it and exits 2."""
        self.crawl(args, opts)
        exit_without_teardown(self.exitcode)

    def crawl(self, args: list[str], opts: argparse.Namespace) -> None:
        """Scrapy's ``crawl`` (one spider, by name), with the crawler built here through the process's public
        ``create_crawler`` so that its refusals and final stats can be read."""
        check_crawl_settings(self.settings)
        if args and args[0] == "coverage":
            check_spider_arguments(opts.spargs)
        check_replay_source(self.settings.get("REPLAY_FROM"))
        if not args:
            raise UsageError  # Scrapy's: the usage text
        if len(args) > 1:
            raise UsageError("running 'scrapy crawl' with more than one spider is not supported")
        assert self.crawler_process is not None
        crawler = self.crawler_process.create_crawler(args[0])
        refused: list[Exception] = []
        catch_refusal(crawler, refused)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        for exc in refused:
            if isinstance(exc, USAGE_ERRORS):
                raise UsageError(str(exc))
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 1
        if self.exitcode:
            return
        stats = crawler.stats.get_stats() if crawler.stats else {}
        if stats.get("diskfull/stopped"):
            self.exitcode = DISK_FULL
            return
        if stats.get("distributed/redis_lost"):
            print(f"error: Redis at {self.settings.get('CLUSTER_REDIS_URL')} stayed unreachable; the queue stays in "
                  "Redis and a new start resumes it once Redis is back (exit status 2)", file=sys.stderr)
            self.exitcode = 2
            return
        if stats.get("warc/unavailable"):
            self.exitcode = 1  # its one error line is in the log
            return
        if stats and not stats.get("downloader/response_count") and not stats.get("replay/hit"):
            print("error: nothing could be fetched (see the log above); exit status 3")
            self.exitcode = NOTHING_FETCHED


USAGE_ERRORS = (UnsafeArchive, ArchiveUnwritable, TopicError, MissingTopic)  # the user's to fix: one line, exit 2
REFUSALS = (*USAGE_ERRORS, TopicLocked)


def catch_refusal(crawler: Crawler, refused: list[Exception]) -> None:
    """Keep a spider's refusal to start (``REFUSALS``, raised while it is built) in ``refused`` instead of letting
    it end the crawl with a traceback; the crawl then stops having done nothing, and ``run`` says why in one line.
    Both ways Scrapy starts a crawler are covered: ``crawl_async`` (the asyncio reactor) and ``crawl``."""
    crawl_async, crawl = crawler.crawl_async, crawler.crawl

    async def guarded_crawl_async(*args: Any, **kwargs: Any) -> None:
        try:
            await crawl_async(*args, **kwargs)
        except REFUSALS as exc:
            refused.append(exc)

    def keep(failure: Failure) -> Failure | None:
        if failure.check(*REFUSALS):
            refused.append(failure.value)
            return None
        return failure

    crawler.crawl_async = guarded_crawl_async
    crawler.crawl = lambda *args, **kwargs: crawl(*args, **kwargs).addErrback(keep)


# Own settings whose default is None, with the type a value must have.
TYPED_NONE_DEFAULTS = {"EXTRACT_WORKERS": int, "WARC_ENABLED": bool, "SETTLED_REFRESH_AFTER_DAYS": float,
                       "VERSIONS_ENABLED": bool}
_GETTERS = {bool: ("getbool", "True or False"), int: ("getint", "a whole number"), float: ("getfloat", "a number"),
            dict: ("getdict", "a JSON object")}


def check_settings(settings: Any) -> None:
    """Refuse a setting given a value of the wrong kind (``-s DOWNLOAD_DELAY=abc``) before anything starts, as a
    usage error naming it, instead of a traceback from whichever component reads it first."""
    from crawler import settings as defaults

    for name in dir(defaults):
        if not name.isupper():
            continue
        default = getattr(defaults, name)
        value = settings.get(name)
        if value is None or value is default:
            continue
        kind = type(default) if default is not None else TYPED_NONE_DEFAULTS.get(name)
        if kind not in _GETTERS:
            continue
        getter, expected = _GETTERS[kind]
        try:
            getattr(settings, getter)(name)
        except (TypeError, ValueError):
            raise UsageError(f"-s {name}={value}: expected {expected} (see the settings table in the README)") from None


def check_crawl_settings(settings: Any) -> None:
    """Every setting a crawl (``crawl``, ``scan-warc``) refuses before it starts: kinds, the versions clock and
    schedule, the user's cues file."""
    check_settings(settings)
    check_versions_settings(settings)
    check_cues_file(settings.get("EXTRACT_CUES_FILE"))


def check_versions_settings(settings: Any) -> None:
    """``VERSIONS_NOW`` must be an ISO 8601 time and ``VERSIONS_SCHEDULE`` hours (numbers), refused in one line."""
    from crawler.fetch.versions import clock, parse_schedule

    try:
        clock(settings)
    except ValueError:
        raise UsageError(f"-s VERSIONS_NOW={settings.get('VERSIONS_NOW')}: expected an ISO 8601 time "
                         "between the years 1970 and 9000 (2021-07-16T12:00:00+00:00)") from None
    try:
        parse_schedule(settings.getlist("VERSIONS_SCHEDULE"))
    except (TypeError, ValueError):
        raise UsageError(f"-s VERSIONS_SCHEDULE={settings.get('VERSIONS_SCHEDULE')}: expected hours after the "
                         "first capture, positive numbers separated by commas (1,6,24,72,168)") from None


def check_spider_arguments(arguments: dict[str, str]) -> None:
    """The coverage spider takes ``-a topic=FILE`` only: the window, the query and the outlets are the topic
    file's, and an argument it ignored (``-a until=...``) would silently crawl something else than asked.
    Arguments starting with ``_`` are scrapyd's (``_job``)."""
    unknown = sorted(k for k in arguments if k != "topic" and not k.startswith("_"))
    if unknown:
        raise UsageError(f"unknown spider argument -a {unknown[0]}=...: the coverage spider takes -a topic=FILE only "
                         "(the window, the query and the outlets are set in the topic file: since, until, query, "
                         "[[outlet]])")


def check_replay_source(source: str | None) -> None:
    """Refuse a REPLAY_FROM with nothing to replay as a usage error, before the crawl starts."""
    if source:
        try:
            replay_files(Path(source))
        except NotConfigured as exc:
            raise UsageError(str(exc)) from None


def check_cues_file(path: str | None) -> None:
    """Refuse an ``EXTRACT_CUES_FILE`` that cannot be used (missing, not TOML, an unknown key, a pattern that is
    not a regular expression) as a usage error, before the crawl starts: a misspelt cue would otherwise be
    ignored, or fail in every extraction worker."""
    try:
        read_cues_file(path)
    except CuesError as exc:
        raise UsageError(str(exc)) from None
