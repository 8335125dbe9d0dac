"""``scrapy recover-warc DIR``: close WARC files a crashed crawl left ``.open``."""

from __future__ import annotations

from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.archive.writer import recover_directory
from crawler.commands.base import TopicDirCommand


class Command(TopicDirCommand):
    def syntax(self) -> str:
        return "DIR  (a topic directory or its warc/ directory)"

    def short_desc(self) -> str:
        return "Recover WARC files left open by a crashed crawl (keep complete records, cut the torn tail)"

    def long_desc(self) -> str:
        return ("Every *.warc.gz.open file whose writing process is gone is cut after its last complete record "
                "and renamed, so it passes `warcio check`. Files of live crawls are left alone. A crawl does "
                "this by itself when it starts; the command is for archives you move or inspect.")

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("--all-hosts", action="store_true",
                            help="also recover files written on other machines (only when none is running)")

    def run(self, args: list[str], opts) -> None:
        if len(args) != 1:
            raise UsageError("give one directory")
        directory = Path(args[0])
        if (directory / "warc").is_dir():
            directory = directory / "warc"
        if not directory.is_dir():
            self.fail(f"{directory}: no such directory")
            return
        recovered = recover_directory(directory, all_hosts=opts.all_hosts)
        for recovery in recovered:
            print(f"{recovery.path}: {recovery.records} records kept, {recovery.cut_bytes} bytes cut")
        print(f"{len(recovered)} file(s) recovered")
