"""``scrapy reextract DIR``: run extraction again over the archived pages into a new text directory, offline.

After an extractor upgrade, this shows what would change without crawling: every manifest entry's response
record is read from the topic's WARC files (or ``--warc-dir``), extracted with the current code, written under
the same file name into the new directory, and compared with the current text file.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.archive.reader import response_payloads
from crawler.archive.writer import warc_files
from crawler.commands.base import TopicDirCommand
from crawler.state import open_state
from pipelines.cuefile import CuesError, read_cues_file, use_extra_cues
from pipelines.extract import extract_article
from pipelines.manifest import read_manifest
from crawler.fsutil import write_atomic
from pipelines.textfiles import render_text


def archived_pages(directories: list[Path], record_ids: set[str]) -> dict[str, tuple[bytes, str | None]]:
    """The decompressed bodies (and Content-Type) of the response records with these ids."""
    return response_payloads([path for directory in directories for path in warc_files(directory)],
                             "WARC-Record-ID", record_ids)


def word_changes(old: str, new: str) -> tuple[int, int]:
    before, after = Counter(old.split()), Counter(new.split())
    return sum((after - before).values()), sum((before - after).values())


class Command(TopicDirCommand):
    def short_desc(self) -> str:
        return "Extract the archived articles of DIR again into a new text directory and summarize the changes"

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", help="the new text directory (default: DIR/text-reextract-<time>)")
        parser.add_argument("--warc-dir", action="append", default=[],
                            help="also look for the records here (e.g. the WARC a replay was made from)")

    def run(self, args: list[str], opts) -> None:
        paths = self.topic_paths(args)
        try:  # the crawl's extraction, the user's prompt cues (EXTRACT_CUES_FILE) included
            use_extra_cues(read_cues_file(self.settings.get("EXTRACT_CUES_FILE")))
        except CuesError as exc:
            raise UsageError(str(exc)) from None
        entries = [e for e in read_manifest(paths.manifest) if e.get("warc_record_id")]
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d%H%M%S")
        target = Path(opts.output) if opts.output else paths.root / f"text-reextract-{stamp}"
        target.mkdir(parents=True, exist_ok=True)
        directories = [paths.warc_dir] + [Path(d) for d in opts.warc_dir]
        pages = archived_pages([d for d in directories if d.exists()], {e["warc_record_id"] for e in entries})
        memory = open_state(paths.state).site_memory() if paths.state.exists() else {}
        changed = missing = added = removed = 0
        for entry in entries:
            page = pages.get(entry["warc_record_id"])
            if page is None:
                missing += 1
                print(f"missing record {entry['warc_record_id']} for {entry['file']} (give --warc-dir?)")
                continue
            article = extract_article(page[0], entry.get("final_url") or entry["url"],
                                      frozenset(memory.get(entry.get("outlet_slug") or "", [])), page[1])
            content = render_text(article.title, article.paragraphs, article.published)
            write_atomic(target, entry["file"], content)
            current = paths.text_dir / entry["file"]
            old = current.read_text(encoding="utf-8") if current.exists() else ""
            if old != content:
                changed += 1
                plus, minus = word_changes(old, content)
                added, removed = added + plus, removed + minus
                print(f"changed {entry['file']}: +{plus} / -{minus} words")
        print(f"{len(entries) - missing} file(s) extracted into {target}: {changed} changed, "
              f"{len(entries) - missing - changed} unchanged, {missing} without a record; "
              f"words +{added} / -{removed}")
