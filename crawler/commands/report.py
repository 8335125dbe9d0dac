"""``scrapy report DIR``: rebuild a topic's coverage report from its archive, without crawling."""

from __future__ import annotations

from crawler.commands.base import TopicDirCommand
from crawler.report import write_report


class Command(TopicDirCommand):
    def short_desc(self) -> str:
        return "Write DIR/report.html, report.md and report.json from the topic's archive (no crawling)"

    def run(self, args: list[str], opts) -> None:
        paths = self.topic_paths(args)
        for path in write_report(paths.root).values():
            print(path)
