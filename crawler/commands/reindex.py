"""``scrapy reindex DIR``: rebuild a topic's ``index.cdxj`` over all its WARC files."""

from __future__ import annotations

from crawler.archive.index import rebuild_index
from crawler.commands.base import TopicDirCommand


class Command(TopicDirCommand):
    def short_desc(self) -> str:
        return "Rebuild DIR/index.cdxj over every WARC file in DIR/warc (e.g. after several workers wrote)"

    def run(self, args: list[str], opts) -> None:
        paths = self.topic_paths(args)
        lines = rebuild_index(paths.index, paths.warc_dir)
        print(f"{paths.index}: {lines} lines")
