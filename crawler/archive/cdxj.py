"""One CDXJ line read one way: ``<SURT key> <timestamp> <JSON fields>``, as ``cdxj-indexer`` writes them.

The index is read by the replay (record offsets), ``scrapy rebuild-state`` (archived URLs), the index merge
(which file a line belongs to) and ``scrapy wacz`` (capture times); a torn line (an interrupted writer) or a
foreign one is skipped the same way by all of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NamedTuple


class CdxjLine(NamedTuple):
    """A parsed line: its SURT key, its 14-digit timestamp, its JSON fields (``url``, ``filename``, ``offset``...)."""

    key: str
    timestamp: str
    fields: dict[str, Any]


def parse_line(line: str) -> CdxjLine | None:
    """The line's parts; None for a blank, torn or foreign line (fewer than three parts, no JSON object)."""
    parts = line.split(" ", 2)
    if len(parts) < 3:
        return None
    try:
        fields = json.loads(parts[2])
    except ValueError:
        return None
    return CdxjLine(parts[0], parts[1], fields) if isinstance(fields, dict) else None


def payload_digest(fields: dict[str, Any]) -> str | None:
    """A line's payload digest as ``sha1:BASE32`` (cdxj-indexer writes it with its algorithm, other indexers
    without); None when the line has none."""
    digest = fields.get("digest") or None
    if digest and ":" not in digest:
        digest = "sha1:" + digest
    return digest


def find_cdxj(source: Path) -> Path | None:
    """The ``index.cdxj`` beside the WARC file(s), or one level up (a topic directory's layout)."""
    base = source if source.is_dir() else source.parent
    for candidate in (base / "index.cdxj", base.parent / "index.cdxj"):
        if candidate.is_file():
            return candidate
    return None
