"""Where a topic's files live: ARCHIVE_DIR/<topic>/{warc/, index.cdxj, text/, manifest.jsonl, state.sqlite}.

Every component asks this module for its paths, so the layout is stated once and a topic name can never
point outside ARCHIVE_DIR (names are validated as slugs before any path is built).

Nor can a symlink inside the topic directory: before a crawl creates or writes anything, :meth:`TopicPaths.create`
refuses a topic directory, ``warc/`` or ``text/`` that is a symlink, and a symlink at a file the crawl opens in
place (the lock files, the manifest, the state database, an entry of ``warc/``), unless ARCHIVE_ALLOW_SYMLINKS is
set. Files written whole go through a temporary file of a name of its own (``O_CREAT|O_EXCL``) renamed over the
target, which replaces a symlink rather than following it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crawler.topic import validate_slug

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings


# Files of the topic directory opened in place (appended to, locked, or written by SQLite), not replaced whole.
IN_PLACE_FILES = ("crawl.lock", "index.cdxj.lock", "manifest.jsonl", "state.sqlite", "state.sqlite-wal",
                  "state.sqlite-shm", "state.sqlite-journal")


class UnsafeArchive(ValueError):
    """A topic directory the crawl would write through a symlink in (refused before anything is written)."""


class ArchiveUnwritable(ValueError):
    """ARCHIVE_DIR (or the topic directory in it) cannot be created or written (read-only mount, permissions, a
    file where a directory should be): refused as the crawl starts, in one line."""


@dataclass(frozen=True)
class TopicPaths:
    """The files of one topic's archive; ``allow_symlinks`` (ARCHIVE_ALLOW_SYMLINKS) lets :meth:`create` accept
    symlinks in it."""

    root: Path
    allow_symlinks: bool = False

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

    def check(self) -> "TopicPaths":
        """Raise :class:`UnsafeArchive` if writing this topic would go through a symlink (see the module docstring).

        A check of the directory as it is at start: the crawl's own writes never follow a symlink they meet
        (temporary files are created exclusively, the lock file is opened with ``O_NOFOLLOW``), and this keeps
        the files other code opens in place from being symlinks planted before the crawl."""
        if self.allow_symlinks:
            return self
        suspects = [self.root, self.warc_dir, self.text_dir, *(self.root / name for name in IN_PLACE_FILES)]
        if self.warc_dir.is_dir() and not self.warc_dir.is_symlink():
            with os.scandir(self.warc_dir) as entries:
                suspects += [Path(entry.path) for entry in entries if entry.is_symlink()]
        for path in suspects:
            if path.is_symlink():
                raise UnsafeArchive(f"{path} is a symlink (to {os.readlink(path)}); a crawl does not write through "
                                    "symlinks in a topic directory (ARCHIVE_ALLOW_SYMLINKS=True allows it)")
        return self

    def create(self) -> "TopicPaths":
        """Check the topic directory (:meth:`check`), then create it with ``warc/`` and ``text/``."""
        self.check()
        for directory in (self.root, self.warc_dir, self.text_dir):
            try:
                directory.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise ArchiveUnwritable(f"cannot create {directory} ({exc.strerror or exc}): check ARCHIVE_DIR (-s "
                                        "ARCHIVE_DIR=...) names a writable directory") from None
        return self


def topic_paths(archive_dir: str | Path, topic_name: str, *, allow_symlinks: bool = False) -> TopicPaths:
    """The paths of ``topic_name`` under ``archive_dir``; refuses names that are not slugs."""
    return TopicPaths(Path(archive_dir) / validate_slug(topic_name), allow_symlinks=allow_symlinks)


def topic_name_of(spider: object) -> str:
    """The topic a spider crawls: its ``topic_name`` attribute, else the spider's own name."""
    return getattr(spider, "topic_name", None) or getattr(spider, "name")


def paths_for(settings: BaseSettings, spider: object) -> TopicPaths:
    """The topic paths of a running spider under the ARCHIVE_DIR setting (and ARCHIVE_ALLOW_SYMLINKS)."""
    return topic_paths(settings.get("ARCHIVE_DIR"), topic_name_of(spider),
                       allow_symlinks=settings.getbool("ARCHIVE_ALLOW_SYMLINKS"))
