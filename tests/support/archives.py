"""Topic directories built by hand, as crashes and users leave them, for the reconciliation tests."""

from __future__ import annotations

import json
import os
from pathlib import Path

from crawler.paths import TopicPaths
from crawler.store import SqliteStore
from pipelines.textfiles import file_name, render_text, text_sha256


def archive_with_leftovers(root: Path) -> tuple[TopicPaths, SqliteStore, list[str], Path]:
    """A topic directory as a crash and a user leave it: two listed files, an unlisted one of ours, a temporary
    one of ours, and things the crawl never wrote."""
    paths = TopicPaths(root).create()
    names = [file_name(n, f"http://a.test/{n}") for n in range(3)]
    lines = []
    for n, name in enumerate(names[:2]):
        content = render_text(f"Story {n}", ["Some words of the story."], "2021-07-16")
        (paths.text_dir / name).write_text(content)
        lines.append(json.dumps({"file": name, "url": f"http://a.test/{n}", "canonical_url": f"http://a.test/{n}",
                                 "final_url": f"http://a.test/{n}", "outlet_slug": "a",
                                 "text_sha256": text_sha256(content), "duplicate_of": None}))
    paths.manifest.write_text("\n".join(lines) + "\n")
    (paths.text_dir / names[2]).write_text("cut off before its manifest line\n")
    (paths.text_dir / f".{names[2]}.ab_cd123.tmp").write_text("half")
    (paths.text_dir / "notes.txt").write_text("mine")
    (paths.text_dir / ".DS_Store").write_bytes(b"\0")
    (paths.text_dir / "drafts").mkdir()
    outside = root.parent / "precious.txt"
    outside.write_text("keep")
    os.symlink(outside, paths.text_dir / "999_0123456789abcdef.txt")
    state = SqliteStore(paths.state)
    state.add_file("http://a.test/2", names[2], "x", "a")  # the claim of the write cut off
    return paths, state, names, outside
