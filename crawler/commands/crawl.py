"""``scrapy crawl``, with an exit status schedulers can act on: non-zero when nothing could be fetched at all.

A crawl where some outlets failed still exits 0 (their errors are in the stats and the report); one where not
a single response arrived (network down, every outlet failing) exits 3, so cron or scrapyd users notice.
A ``REPLAY_FROM`` that holds no WARC file is refused before the crawl starts, with one line saying so (exit 2),
instead of every request failing. A crawl stopped by a full disk exits 1 (its one error line is in the log).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.exceptions import NotConfigured, UsageError

from crawler.archive.replay import replay_files

NOTHING_FETCHED = 3
DISK_FULL = 1


class Command(ScrapyCrawlCommand):
    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        check_replay_source(self.settings.get("REPLAY_FROM"))
        created = []
        original = self._create_crawler

        def remember(name):
            crawler = original(name)
            created.append(crawler)
            return crawler

        self._create_crawler = remember
        super().run(args, opts)
        if self.exitcode:
            return
        for crawler in created:
            stats = crawler.stats.get_stats() if crawler.stats else {}
            if stats.get("diskfull/stopped"):
                self.exitcode = DISK_FULL
                return
            if stats and not stats.get("downloader/response_count") and not stats.get("replay/hit"):
                print("error: nothing could be fetched (see the log above); exit status 3")
                self.exitcode = NOTHING_FETCHED


def check_replay_source(source: str | None) -> None:
    """Refuse a REPLAY_FROM with nothing to replay as a usage error, before the crawl starts."""
    if source:
        try:
            replay_files(Path(source))
        except NotConfigured as exc:
            raise UsageError(str(exc)) from None
