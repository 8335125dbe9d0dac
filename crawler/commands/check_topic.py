"""``scrapy check-topic FILE``: validate a topic file and show what a crawl of it would do, without crawling."""

from __future__ import annotations

import argparse
import sys

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.topic import TopicError, load_topic


class Command(ScrapyCommand):
    """Catches a broken topic file before a scheduled crawl does, with one readable line instead of a traceback."""

    requires_project = True
    requires_crawler_process = False
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "FILE"

    def short_desc(self) -> str:
        return "Validate a topic file and summarize it (query terms, window, outlets, hosts) without crawling"

    def long_desc(self) -> str:
        return ("Loads FILE as the coverage spider would (a relative path missing from the current directory is "
                "looked up under TOPICS_DIR), checks every key, URL, date and the query, and prints a summary. "
                "An invalid file prints one line naming the file, the key and what was expected, and exits "
                "with status 2. The topic file format is described in docs/topic-file.md.")

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if len(args) != 1:
            raise UsageError("give one topic file")
        topics_dir = self.settings.get("TOPICS_DIR") if self.settings is not None else None
        try:
            topic = load_topic(args[0], topics_dir=topics_dir)
        except TopicError as error:
            print(f"error: {error}", file=sys.stderr)
            self.exitcode = 2
            return
        print(topic.describe())
