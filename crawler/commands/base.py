"""What every presswarc command shares: renamed settings still read, a topic directory argument, one-line errors."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.deprecations import rename_settings
from crawler.paths import TopicPaths


class ProjectCommand(ScrapyCommand):
    """A presswarc command: a setting given by its old name (``-s OLD=value``, RENAMED in crawler.deprecations)
    takes effect under its new one, with one warning line on stderr. A command logs nothing by default, and one
    that starts no crawl never runs the crawl's add-ons: this is where its settings are complete."""

    def process_options(self, args: list[str], opts: argparse.Namespace) -> None:
        super().process_options(args, opts)
        assert self.settings is not None
        for line in rename_settings(self.settings):
            print(f"warning: {line}", file=sys.stderr)


class TopicDirCommand(ProjectCommand):
    """A command working on one topic's archive directory (ARCHIVE_DIR/<topic>)."""

    requires_project = True
    default_settings = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "DIR"

    def topic_paths(self, args: list[str]) -> TopicPaths:
        if len(args) != 1:
            raise UsageError("give one topic directory (ARCHIVE_DIR/<topic>)")
        root = Path(args[0])
        if not root.is_dir():
            raise UsageError(f"{root}: no such topic directory")
        return TopicPaths(root)

    def fail(self, message: str) -> None:
        print(f"error: {message}", file=sys.stderr)
        self.exitcode = 2
