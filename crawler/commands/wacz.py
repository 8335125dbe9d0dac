"""``scrapy wacz DIR -o FILE.wacz``: package a topic's archive as a WACZ file (ReplayWeb.page, pywb).

The packaging itself is the ``wacz`` package's (WACZ 1.1.1: the WARC files, a CDXJ index, datapackage.json with
hashes, datapackage-digest.json); this command gives it the topic's WARC files and, as the pages list, the
articles the crawl kept (their URL, title and fetch time from the manifest).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from scrapy.exceptions import UsageError

from crawler.archive import cdxj
from crawler.archive.writer import warc_files
from crawler.commands.base import TopicDirCommand
from pipelines.manifest import read_manifest


def capture_times(index: Path) -> dict[str, str]:
    """URL -> ISO time of its (latest) capture in the CDXJ index: a page must name a capture that exists."""
    times: dict[str, str] = {}
    if not index.exists():
        return times
    with open(index, encoding="utf-8") as lines:
        for line in lines:
            entry = cdxj.parse_line(line)
            if entry is None or "url" not in entry.fields:
                continue
            stamp, url = entry.timestamp, entry.fields["url"]
            iso = f"{stamp[0:4]}-{stamp[4:6]}-{stamp[6:8]}T{stamp[8:10]}:{stamp[10:12]}:{stamp[12:14]}Z"
            times[url] = max(times.get(url, iso), iso)
    return times


def pages_jsonl(manifest: Path, target: Path, title: str, times: dict[str, str]) -> int:
    """Write the kept articles as a WACZ pages list; returns how many."""
    count = 0
    with open(target, "w", encoding="utf-8") as out:
        out.write(json.dumps({"format": "json-pages-1.0", "id": "pages", "title": title}) + "\n")
        for entry in read_manifest(manifest):
            url = entry.get("final_url") or entry["url"]
            page = {"url": url, "title": entry.get("title") or url}
            if url in times:
                page["ts"] = times[url]
            out.write(json.dumps(page, ensure_ascii=False) + "\n")
            count += 1
    return count


class Command(TopicDirCommand):
    def syntax(self) -> str:
        return "DIR -o FILE.wacz"

    def short_desc(self) -> str:
        return "Package DIR's WARC files, index and kept articles as a WACZ file (ReplayWeb.page, pywb)"

    def add_options(self, parser) -> None:
        super().add_options(parser)
        parser.add_argument("-o", "--output", required=False, help="the WACZ file to write")

    def run(self, args: list[str], opts) -> None:
        from wacz.main import main as wacz_main

        paths = self.topic_paths(args)
        if not opts.output:
            raise UsageError("give the WACZ file to write: -o FILE.wacz")
        warcs = warc_files(paths.warc_dir) if paths.warc_dir.is_dir() else []
        if not warcs:
            self.fail(f"{paths.warc_dir}: no WARC files to package")
            return
        with tempfile.TemporaryDirectory() as tmp:
            pages = Path(tmp) / "pages.jsonl"
            count = pages_jsonl(paths.manifest, pages, f"Articles of {paths.root.name}", capture_times(paths.index))
            status = wacz_main(["create", "-o", opts.output, "-p", str(pages), "--title", paths.root.name,
                                "--desc", f"presswarc topic {paths.root.name}", *map(str, warcs)])
        if status:
            self.fail(f"wacz could not package {paths.root} (exit status {status})")
            return
        print(f"{opts.output}: {len(warcs)} WARC file(s), {count} pages")
