"""``scrapy rebuild-state DIR``: recreate a topic's state.sqlite from its manifest and WARC index."""

from __future__ import annotations

from scrapy.exceptions import UsageError

from crawler.commands.base import TopicDirCommand
from crawler.lock import TopicLock, TopicLocked
from crawler.rebuild import rebuild_state


class Command(TopicDirCommand):
    def short_desc(self) -> str:
        return "Rebuild DIR/state.sqlite from manifest.jsonl and the WARC index, without fetching anything"

    def long_desc(self) -> str:
        return ("Kept articles come back from the manifest (with their near-duplicate signatures), every other "
                "archived URL from the CDXJ index, so the next run fetches only what is new. An existing "
                "state.sqlite is replaced.")

    def run(self, args: list[str], opts) -> None:
        paths = self.topic_paths(args)
        try:
            lock = TopicLock(paths.lock).acquire()  # a running crawl writes the state and text/ right now
        except TopicLocked as exc:
            raise UsageError(str(exc)) from None
        try:
            counts = rebuild_state(paths, self.settings.getint("DEDUP_NEAR_NUM_PERM"),
                                   self.settings.getint("DEDUP_NEAR_SHINGLE"))
        finally:
            lock.release()
        print(f"{paths.state}: {counts['kept']} kept articles, {counts['archived']} other archived URLs, "
              f"{counts['payloads']} payload digests, {counts['orphans_removed']} interrupted text file(s) removed")
