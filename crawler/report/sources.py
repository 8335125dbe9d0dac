"""The section "Sources": per outlet, how many kept articles came from each source (live, a web archive, a
scanned WARC collection), each archive's events (retries, rate limits, malformed index lines, ...) and the
captures that failed, with why. Empty when every article is a live copy and no archive was asked; the figures
themselves come from :mod:`crawler.sources`."""

from __future__ import annotations

from typing import Any

from crawler.report.section import Context, Section
from crawler.report.text import esc
from crawler.sources import SHOWN_FAILURES, sources_markdown, sources_report


def gather(ctx: Context) -> dict[str, Any]:
    return sources_report(ctx.entries, ctx.stats)


def markdown(data: Any, report: dict[str, Any]) -> str:
    text = sources_markdown({"sources": data or {}})
    return text.replace("\n## Sources\n\n", "", 1).lstrip("\n")  # the report writes the heading


def html(data: Any, report: dict[str, Any]) -> str:
    if not sources_markdown({"sources": data or {}}):
        return ""
    outlets = data.get("outlets", {})
    used = sorted({s for counts in outlets.values() for s in counts} | set(data.get("archives", {})))
    names = {slug: row.get("name", slug) for slug, row in report.get("outlets", {}).items()}
    head = "".join(f"<th>{esc(s)}</th>" for s in used)
    rows = "".join(f"<tr><td>{esc(names.get(slug, slug))}</td>"
                   + "".join(f"<td>{counts.get(s, 0)}</td>" for s in used) + "</tr>" for slug, counts in outlets.items())
    events = "".join(f"<li>{esc(source)}: " + esc(", ".join(f"{k} {v}" for k, v in sorted(ev.items()))) + "</li>"
                     for source, ev in sorted(data.get("archives", {}).items()))
    failed = data.get("failed") or []
    failures = "".join(f"<li>{esc(f.get('source'))} {esc(f.get('outlet') or '-')} <code>{esc(f.get('url'))}</code>: "
                       f"{esc(f.get('why'))}</li>" for f in failed[:SHOWN_FAILURES])
    return (f"<table><thead><tr><th>outlet</th>{head}</tr></thead><tbody>{rows}</tbody></table>"
            + (f"<ul>{events}</ul>" if events else "")
            + (f"<p>Failed captures ({len(failed)}):</p><ul>{failures}</ul>" if failed else ""))


SECTION = Section("sources", "Sources", gather, html, markdown)
