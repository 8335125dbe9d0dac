"""Where a topic's files live: ARCHIVE_DIR/<topic>/{warc/, index.cdxj, text/, manifest.jsonl, state.sqlite}.

Every component asks this module for its paths, so the layout is stated once and a topic name can never
point outside ARCHIVE_DIR (names are validated as slugs before any path is built).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.topic import validate_slug

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


@dataclass(frozen=True)
class TopicPaths:
    """The files of one topic's archive."""

    root: Path

    @property
    def warc_dir(self) -> Path:
        return self.root / "warc"

    @property
    def text_dir(self) -> Path:
        return self.root / "text"

    @property
    def index(self) -> Path:
        return self.root / "index.cdxj"

    @property
    def manifest(self) -> Path:
        return self.root / "manifest.jsonl"

    @property
    def state(self) -> Path:
        return self.root / "state.sqlite"

    @property
    def lock(self) -> Path:
        return self.root / "crawl.lock"

    def create(self) -> "TopicPaths":
        for directory in (self.root, self.warc_dir, self.text_dir):
            directory.mkdir(parents=True, exist_ok=True)
        return self


def topic_paths(archive_dir: str | Path, topic_name: str) -> TopicPaths:
    """The paths of ``topic_name`` under ``archive_dir``; refuses names that are not slugs."""
    return TopicPaths(Path(archive_dir) / validate_slug(topic_name))


def topic_name_of(spider: object) -> str:
    """The topic a spider crawls: its ``topic_name`` attribute, else the spider's own name."""
    return getattr(spider, "topic_name", None) or getattr(spider, "name")


def paths_for(settings: BaseSettings, spider: object) -> TopicPaths:
    """The topic paths of a running spider under the ARCHIVE_DIR setting."""
    return topic_paths(settings.get("ARCHIVE_DIR") or "./archive", topic_name_of(spider))
