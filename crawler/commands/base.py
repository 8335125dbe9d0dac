"""What every presswarc command shares: a topic directory argument and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import UsageError

from crawler.paths import TopicPaths


class TopicDirCommand(ScrapyCommand):
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
