"""Rebuild a topic's ``state.sqlite`` from the archive itself: ``manifest.jsonl`` and the WARC index.

The state is a cache of facts the archive already holds, so losing it must not mean refetching everything:
kept articles come back from the manifest (with their near-duplicate signatures recomputed from the text
files), every other archived URL from the CDXJ index (its records read for the revisit references). Then
``text/`` is reconciled with the manifest as a crawl does at start (``pipelines.textfiles.reconcile``): a text
file no manifest line names, or a temporary one, was cut off by a crash and goes; the counter continues right
after the manifest's last number; files the crawl did not write are left alone.
"""

from __future__ import annotations

import logging
from pathlib import Path

from crawler.archive import cdxj
from crawler.archive.index import rebuild_index
from crawler.archive.reader import record_at
from crawler.contracts import Kind, Outcome
from crawler.paths import TopicPaths
from crawler.store import PayloadRef, SqliteStore
from pipelines.manifest import read_manifest, sequence_of

logger = logging.getLogger(__name__)


def _body_of(text_file: Path) -> str:
    """The body paragraphs of a text file (without its date/title header line)."""
    content = text_file.read_text(encoding="utf-8")
    return content.split("\n\n", 1)[1] if "\n\n" in content else content


def _record_header(warc: Path, offset: int) -> tuple[str, str, str] | None:
    """(type, record id, date) of the record at ``offset``."""
    try:
        with open(warc, "rb") as fh:
            record = record_at(fh, offset, parse_http=False)
            headers = record.rec_headers
            return record.rec_type, headers.get_header("WARC-Record-ID"), headers.get_header("WARC-Date")
    except (OSError, StopIteration, ValueError) as exc:
        logger.warning("%s offset %d: unreadable (%s)", warc, offset, exc)
        return None


def rebuild_state(paths: TopicPaths, num_perm: int, shingle: int) -> dict[str, int]:
    """Create ``paths.state`` afresh from the manifest and the WARC files; returns what was restored."""
    from pipelines.dedup import signature, signature_blob
    from pipelines.textfiles import reconcile

    if paths.state.exists():
        for suffix in ("", "-wal", "-shm"):
            Path(str(paths.state) + suffix).unlink(missing_ok=True)
    state = SqliteStore(paths.state)
    counts = {"kept": 0, "archived": 0, "payloads": 0}
    try:
        last = -1
        for entry in read_manifest(paths.manifest):
            name = entry.get("file", "")
            if not entry.get("url") or not (entry.get("canonical_url") or entry.get("final_url")):
                logger.warning("%s: the line of %s names no URL; left out of the state", paths.manifest, name)
                continue
            outlet = entry.get("outlet_slug") or entry.get("outlet") or ""
            state.add_file(entry.get("canonical_url") or entry.get("final_url"), name,
                           entry.get("text_sha256", ""), outlet)
            state.record_outcome(entry["url"], kind=Kind.ARTICLE, outlet=outlet, outcome=Outcome.KEPT,
                                 final_url=entry.get("final_url"), warc_file=entry.get("warc_file"),
                                 record_id=entry.get("warc_record_id"), fetched_at=entry.get("fetched_at"))
            text_file = paths.text_dir / name
            if entry.get("duplicate_of") is None and text_file.exists():
                state.add_signature(name, outlet, signature_blob(signature(_body_of(text_file), num_perm, shingle)))
            last = max(last, sequence_of(name) if sequence_of(name) is not None else -1)
            counts["kept"] += 1
        state.ensure_counter_at_least("text_files", last + 1)  # pipelines.textfiles.SEQUENCE
        healed = reconcile(paths, state, num_perm, shingle)
        counts["orphans_removed"] = healed["orphans_removed"] + healed["temporaries_removed"]
        if not paths.index.exists():
            rebuild_index(paths.index, paths.warc_dir)
        with open(paths.index, encoding="utf-8") as fh:
            for line in fh:
                entry = cdxj.parse_line(line)
                if entry is None:
                    continue
                fields = entry.fields
                url, status = fields.get("url"), int(fields.get("status") or 0)
                if state.outcome_of(url) is None:
                    outcome = Outcome.ERROR if status >= 400 else Outcome.ARCHIVED
                    state.record_outcome(url, kind=Kind.ARCHIVED, outlet="", outcome=outcome, status=status,
                                         warc_file=fields.get("filename"))
                    counts["archived"] += 1
                header = _record_header(paths.warc_dir / fields.get("filename", ""), int(fields.get("offset", 0)))
                digest = cdxj.payload_digest(fields)
                if header and header[0] == "response" and digest:
                    state.add_payload(PayloadRef(url, digest, header[1], header[2], fields["filename"]))
                    counts["payloads"] += 1
    finally:
        state.close()
    return counts
