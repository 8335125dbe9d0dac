"""The report's view of an article's sources: per outlet, how many kept articles came from each source (live, a
web archive, a scanned WARC collection), and which captures of the web archives failed, with why.

Pure (manifest entries and crawl stats in, plain values out), so ``crawler.report`` adds it with one call and
renders it with another, whatever the rest of the report looks like.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from crawler.contracts import Source

__all__ = ["sources_report", "sources_markdown"]

SHOWN_FAILURES = 50


def sources_report(entries: Iterable[dict[str, Any]], stats: dict[str, Any]) -> dict[str, Any]:
    """``{"outlets": {slug: {source: kept}}, "archives": {source: {event: count}}, "failed": [...]}``; an entry
    written before sources were recorded is a live copy."""
    per_outlet: dict[str, Counter] = {}
    for entry in entries:
        slug = entry.get("outlet_slug") or entry.get("outlet") or "unknown"
        per_outlet.setdefault(slug, Counter())[entry.get("source") or Source.LIVE.value] += 1
    archives: dict[str, dict[str, int]] = {}
    for key, value in stats.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "archives" and isinstance(value, (int, float)):
            archives.setdefault(parts[1], {})[parts[2]] = value
    failed = stats.get("archives/failed_captures")
    return {"outlets": {slug: dict(counts) for slug, counts in sorted(per_outlet.items())},
            "archives": archives, "failed": list(failed) if isinstance(failed, list) else []}


def sources_markdown(report: dict[str, Any]) -> str:
    """The sources section of ``report.md`` ("" when every article is a live copy and no archive was asked)."""
    sources = report.get("sources") or {}
    used = sorted({s for counts in sources.get("outlets", {}).values() for s in counts} | set(sources.get("archives", {})))
    if used in ([], [Source.LIVE.value]) and not sources.get("failed"):
        return ""
    lines = ["", "## Sources", "", "| outlet | " + " | ".join(used) + " |", "|---|" + "---:|" * len(used)]
    for slug, counts in sources.get("outlets", {}).items():
        lines.append(f"| {slug} | " + " | ".join(str(counts.get(s, 0)) for s in used) + " |")
    for source, events in sorted(sources.get("archives", {}).items()):
        lines.append("")
        lines.append(f"{source}: " + ", ".join(f"{event} {count}" for event, count in sorted(events.items())))
    failed = sources.get("failed") or []
    if failed:
        lines += ["", f"Failed captures ({len(failed)}):", ""]
        lines += [f"- {f.get('source')} {f.get('outlet') or '-'} `{f.get('url')}`: {f.get('why')}"
                  for f in failed[:SHOWN_FAILURES]]
    return "\n".join(lines) + "\n"
