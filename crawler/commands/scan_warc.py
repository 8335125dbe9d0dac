"""``scrapy scan-warc TOPIC PATH_OR_URL...``: a topic's articles from WARC files someone else made.

Two passes. The prefilter (crawler/archive/scan.py) streams every source once and keeps the response records on
an outlet's host whose payload holds one of the query's positive terms, into a temporary WARC with an index.
Then the crawl machinery replays exactly those records (``REPLAY_FROM``, the scan-warc spider): extraction,
relevance, window, dedup, text files, manifest (``source`` = ``warc-scan``, ``captured_at`` = the record's
WARC-Date) and report are the normal ones, and the replay copies each record it serves into the topic's
``warc/`` together with the ``metadata`` record naming its source and offset. What an earlier scan or crawl
settled is not read again, so scanning the same files twice adds nothing.

Bad input is refused before any source is read and anything is written, in one line with exit status 2: a
topic file that does not load, a topic directory that is a symlink, a source that does not exist, cannot be
fetched or is no WARC file (each is opened and its first bytes read first), a reader that does not exist.
Once reading has begun, errors are the source's: one that breaks off, stalls past ``SCAN_WARC_HTTP_TIMEOUT`` or
cannot be opened again is named in a warning line, what was kept from it and the others goes on to the crawl.
Ctrl-C during the pass writes nothing to the topic (exit status 130).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from scrapy.crawler import AsyncCrawlerProcess, CrawlerProcess, CrawlerProcessBase
from scrapy.exceptions import UsageError
from scrapy.settings import Settings

from crawler.archive.index import add_to_index
from crawler.archive.replay import ReplayAddon
from crawler.archive.scan import (READERS, SUMMARY_NAME, NotAWarc, Prefilter, ScanResult, needles, open_source,
                                  scan_stream)
from crawler.archive.writer import RotatingWarcWriter
from crawler.commands.base import ProjectCommand
from crawler.commands.crawl import USAGE_ERRORS, catch_refusal, check_crawl_settings
from crawler.paths import UnsafeArchive, topic_paths
from crawler.topic import Topic, TopicError, load_topic

WARC_NAMES = (".warc", ".warc.gz")


class Command(ProjectCommand):
    requires_project = True
    # The crawler process (and Scrapy's logging with it) starts only once the input is known to be good, so a
    # refusal is one line.
    requires_crawler_process = False

    def syntax(self) -> str:
        return "TOPIC.toml PATH_OR_URL [PATH_OR_URL ...]"

    def short_desc(self) -> str:
        return "Keep a topic's articles from existing WARC files (local files, directories or HTTP URLs)"

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        try:
            check_crawl_settings(self.settings)
            topic, sources, reader = self._arguments(args)
        except UsageError as exc:
            return self._fail(str(exc))
        except KeyboardInterrupt:
            print("interrupted: nothing was read or written", file=sys.stderr)
            self.exitcode = 130
            return
        warm_up_extraction()
        with tempfile.TemporaryDirectory(prefix="presswarc-scan-warc-") as tmp:
            try:
                result, seconds = self._prefilter(topic, sources, reader, Path(tmp))
            except KeyboardInterrupt:  # nothing of the topic's was written yet; the temporary files go with tmp
                print("interrupted: the scan stopped before it wrote anything to the topic", file=sys.stderr)
                self.exitcode = 130
                return
            mb = result.bytes_read / 1e6
            print(f"scan-warc: {result.records} response records ({mb:.1f} MB) read from {len(sources)} source(s) "
                  f"in {seconds:.1f} s, {result.on_outlet} on the outlets' hosts, {result.kept} kept for extraction",
                  file=sys.stderr)
            for line in result.damaged:
                print(f"warning: {line}", file=sys.stderr)
            if result.kept:
                self._crawl(topic, Path(tmp))

    def _fail(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        self.exitcode = 2

    def _arguments(self, args: list[str]) -> tuple[Topic, list[str], str]:
        if len(args) < 2:
            raise UsageError("give a topic file and at least one WARC file, directory or URL: "
                             "scrapy scan-warc TOPIC.toml PATH_OR_URL ...")
        try:
            topic = load_topic(args[0], topics_dir=self.settings.get("TOPIC_FILES_DIR"))
        except TopicError as exc:
            raise UsageError(str(exc)) from None
        reader = self.settings.get("SCAN_WARC_READER")
        if reader not in READERS:
            raise UsageError(f"-s SCAN_WARC_READER={reader}: expected one of {', '.join(READERS)}")
        try:  # the topic directory the crawl pass will write: refused now, before any source is read
            topic_paths(self.settings.get("ARCHIVE_DIR"), topic.name,
                        allow_symlinks=self.settings.getbool("ARCHIVE_ALLOW_SYMLINKS")).check()
        except UnsafeArchive as exc:
            raise UsageError(str(exc)) from None
        sources = expand_sources(args[1:])
        self._probe(sources)
        return topic, sources, reader

    def _probe(self, sources: list[str]) -> None:
        """Each source opened and its first bytes read before any is scanned: one that does not exist, cannot be
        fetched or is no WARC file is the user's to fix (one line, nothing written), and is known before a
        first source of hours has been read."""
        timeout = self.settings.getfloat("SCAN_WARC_HTTP_TIMEOUT")
        for source in sources:
            try:
                open_source(source, timeout).close()
            except (OSError, NotAWarc) as exc:
                message = str(exc)
                raise UsageError(message if source in message else f"{source}: {message}") from None

    def _prefilter(self, topic: Topic, sources: list[str], reader: str, tmp: Path) -> tuple[ScanResult, float]:
        """The first pass, into ``tmp/warc`` (with ``tmp/index.cdxj``) and ``tmp/kept.jsonl``."""
        hosts = {host for outlet in topic.outlets for host in outlet.hosts}
        prefilter = Prefilter(hosts, needles(topic.query), self.settings.getint("DOWNLOAD_MAXSIZE"))
        writer = RotatingWarcWriter(tmp / "warc", prefix="scan-warc", max_size=1 << 62, info={
            "software": "presswarc scan-warc", "description": "records kept by a scan of " + " ".join(sources)})
        result, seen = ScanResult(), set()
        started = time.monotonic()
        timeout = self.settings.getfloat("SCAN_WARC_HTTP_TIMEOUT")
        try:
            for source in sources:
                try:
                    stream = open_source(source, timeout)
                except (OSError, NotAWarc) as exc:  # it opened a moment ago: this source fails, the others go on
                    result.source_failed(source, str(exc).removeprefix(f"{source}: "))
                    continue
                try:
                    scan_stream(stream, source, prefilter, writer.write_raw, result, seen, reader)
                finally:
                    result.bytes_read += stream.count
                    stream.close()
        finally:
            writer.close()
        if writer.files_written:
            add_to_index(tmp / "index.cdxj", [tmp / "warc" / name for name in writer.files_written])
        (tmp / SUMMARY_NAME).write_text(json.dumps(result.summary()), encoding="utf-8")  # for the report
        (tmp / "kept.jsonl").write_text("".join(json.dumps({"url": url}) + "\n" for url in result.urls),
                                        encoding="utf-8")
        return result, time.monotonic() - started

    def _crawl(self, topic: Topic, tmp: Path) -> None:
        """The second pass: the scan-warc spider over the kept records, replayed."""
        from crawler.spiders.scan import ScanSpider

        self.settings.set("REPLAY_FROM", str(tmp / "warc"), priority="cmdline")
        self.settings.set("ROBOTSTXT_OBEY", False, priority="cmdline")  # the outlets are not visited
        ReplayAddon.update_pre_crawler_settings(self.settings)
        self.crawler_process = crawler_process(self.settings)
        crawler = self.crawler_process.create_crawler(ScanSpider)
        refused: list[Exception] = []
        catch_refusal(crawler, refused)
        self.crawler_process.crawl(crawler, topic=topic.path, kept=str(tmp / "kept.jsonl"))
        self.crawler_process.start()
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        for exc in refused:
            print(f"error: {exc}", file=sys.stderr)
            self.exitcode = 2 if isinstance(exc, USAGE_ERRORS) else 1
        stats = crawler.stats.get_stats() if crawler.stats else {}
        if stats.get("replay/miss"):  # a kept record the crawl asked for under another URL: never silent
            print(f"warning: {stats['replay/miss']} kept record(s) were not found again by their URL in the second "
                  "pass, so their articles were not read (see the log at DEBUG for which)", file=sys.stderr)
        if stats.get("diskfull/stopped") or stats.get("warc/unavailable"):
            self.exitcode = 1


ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


def crawler_process(settings: Settings) -> CrawlerProcessBase:
    """The process Scrapy's command line would have made for a command that asks for one."""
    if (settings["TWISTED_REACTOR"] == ASYNCIO_REACTOR and not settings.getbool("FORCE_CRAWLER_PROCESS")) \
            or not settings.getbool("TWISTED_REACTOR_ENABLED"):
        return AsyncCrawlerProcess(settings)
    return CrawlerProcess(settings)


def warm_up_extraction() -> None:
    """Load the extraction libraries and the language model (a second or two) in a thread while the pass reads
    the sources, instead of after it: the pass spends its time inflating, which leaves the interpreter free."""
    import threading

    from pipelines.extract import warm_up

    threading.Thread(target=warm_up, name="extract-warm-up", daemon=True).start()


def expand_sources(args: list[str]) -> list[str]:
    """Each argument as a source: an HTTP(S) URL, a WARC file, or a directory's WARC files (sorted); a path that
    does not exist, or a directory holding none, is a usage error."""
    sources: list[str] = []
    for arg in args:
        if arg.startswith(("http://", "https://")):
            sources.append(arg)
            continue
        path = Path(arg)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.is_file() and p.name.endswith(WARC_NAMES))
            if not found:
                raise UsageError(f"{arg}: no WARC files (*.warc, *.warc.gz) in this directory")
            sources += [str(p) for p in found]
        elif path.is_file():
            sources.append(str(path))
        else:
            raise UsageError(f"{arg}: no such file or directory")
    return sources
