"""The section "Not kept, and why": every article URL the crawl found and did not keep, by outlet and reason,
with what decided it (the relevance score, the date and where it came from, the language, the original of a
duplicate, the error's cause), and the errors by cause per outlet.

It reads the store's outcome records (``TopicStore.outcome_records``), whose ``detail`` the deciding component
wrote; articles that listings dated outside the window are never fetched nor recorded one by one, so the run's
count of them is given per outlet.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from crawler.contracts import ERROR_CAUSES, NOT_KEPT, Outcome
from crawler.report.section import Context, Section
from crawler.report.text import esc, html_link, md, md_link, plain, text_href

MAX_LISTED = 1000  # per outlet and reason in report.html and report.md (report.json lists every one)
SKIPPED = "skipped_out_of_window_last_run"  # the run's count of listed articles dated outside
LABELS = {"off_topic": "off topic", "out_of_window": "out of the window", "off_language": "in another language",
          "no_text": "no readable text", "not_html": "not HTML", "duplicate": "duplicate",
          "robots_forbidden": "forbidden by robots.txt", "over_budget": "over the outlet's budget",
          "errors": "error"}
DATE_SOURCES = {"page": "the page's own date", "sitemap": "its sitemap's date", "feed": "its feed's date",
                "section": "its listing page's date", "search": "the search page's date"}
_KEEP = ("title", "score", "terms", "published", "lastmod", "date_source", "language", "duplicate_of", "how", "cause",
         "message", "content_type")


def _key(outcome: str) -> str:
    if outcome == Outcome.LISTED_OUT_OF_WINDOW:
        return Outcome.OUT_OF_WINDOW
    return "errors" if outcome in (Outcome.ERROR, Outcome.TOO_LARGE) else outcome


ORDER = [_key(o) for o in NOT_KEPT]


def gather(ctx: Context) -> dict[str, Any]:
    """{"outlets": {slug: {"name", "reasons": {reason: [url entries]}, "errors_by_cause", "listed_out_of_window"}}}"""
    by_file = {e.get("file"): e for e in ctx.entries}
    outlets: dict[str, dict[str, Any]] = {}

    def outlet(slug: str) -> dict[str, Any]:
        return outlets.setdefault(slug, {"name": ctx.names.get(slug, slug), "reasons": {}, "errors_by_cause": {},
                                         SKIPPED: 0})

    for record in ctx.records:
        if record.outcome in (Outcome.KEPT, Outcome.ARCHIVED):
            continue
        key = _key(record.outcome)
        entry: dict[str, Any] = {"url": record.url, "status": record.status, "fetched_at": record.fetched_at,
                                 "attempts": record.attempts}
        entry.update({k: record.detail[k] for k in _KEEP if record.detail.get(k) not in (None, "", {}, [])})
        if record.outcome == Outcome.LISTED_OUT_OF_WINDOW:
            entry["fetched"] = False
        if key == "errors":
            entry.setdefault("cause", "too_large" if record.outcome == Outcome.TOO_LARGE else "other")
        original = by_file.get(entry.get("duplicate_of"))
        if original:
            entry.update(duplicate_of_outlet=original.get("outlet"), duplicate_of_title=original.get("title"))
        row = outlet(record.outlet or "unknown")
        row["reasons"].setdefault(key, []).append(entry)
        if key == "errors":
            row["errors_by_cause"][entry["cause"]] = row["errors_by_cause"].get(entry["cause"], 0) + 1
    for slug in ctx.names:
        skipped = ctx.stats.get(f"coverage/{slug}/skipped_out_of_window", 0)
        if skipped:
            outlet(slug)[SKIPPED] = skipped
    for row in outlets.values():
        row["reasons"] = {key: row["reasons"][key] for key in ORDER if key in row["reasons"]}
        row["errors_by_cause"] = {c: row["errors_by_cause"][c] for c in sorted(
            row["errors_by_cause"], key=lambda c: list(ERROR_CAUSES).index(c) if c in ERROR_CAUSES else 99)}
    return {"outlets": {slug: outlets[slug] for slug in sorted(outlets, key=lambda s: plain(outlets[s]["name"]))}}


def why(key: str, entry: dict[str, Any]) -> str:
    """What decided it, as one line of plain text (the duplicate's original is linked separately)."""
    if key == "off_topic":
        score = entry.get("score")
        found = "; ".join(f"{term} in {', '.join(fields)}" for term, fields in (entry.get("terms") or {}).items())
        return "query not matched: " + \
            (f"relevance {score:.2f}" if isinstance(score, (int, float)) else "relevance unknown") + \
            (f" (found {found})" if found else " (no query term found)")
    if key == "out_of_window":
        source = DATE_SOURCES.get(entry.get("date_source") or "", entry.get("date_source") or "source unknown")
        dated = f"dated {entry['published']}" if entry.get("published") else \
            f"last modified {entry.get('lastmod') or 'unknown'}"
        return f"{dated} ({source}){'; not fetched' if entry.get('fetched') is False else ''}"
    if key == "off_language":
        return f"language {entry.get('language') or 'unknown'}"
    if key == "duplicate":
        return f"same {entry.get('how') or 'article'} as"
    if key == "errors":
        cause = ERROR_CAUSES.get(entry.get("cause") or "other", entry.get("cause") or "other error")
        attempts = f" ({entry['attempts']} attempts)" if (entry.get("attempts") or 1) > 1 else ""
        message = entry.get("message")
        return f"{cause}{f': {message}' if message and entry.get('cause') != 'not_found' else ''}{attempts}"
    if key == "not_html":
        return entry.get("content_type") or "no content type"
    if key == "robots_forbidden":
        return "disallowed by robots.txt"
    if key == "over_budget":
        return "not fetched in this run: pending for the next"
    return "nothing readable on the page" if key == "no_text" else ""


def _summary(row: dict[str, Any]) -> tuple[int, str]:
    counts = Counter({key: len(entries) for key, entries in row["reasons"].items()})
    parts = [f"{n} {LABELS.get(key, key)}" for key, n in counts.items()]
    return sum(counts.values()), ", ".join(parts)


def _skipped_note(row: dict[str, Any]) -> str:
    """A line for the listed articles dated outside that the store does not name (past a sitemap's first
    ``SKIPPED_NAMED``), when the last run skipped more than are listed."""
    named = sum(1 for e in row["reasons"].get("out_of_window", []) if e.get("fetched") is False)
    if row[SKIPPED] <= named:
        return ""
    return (f"The last run skipped {row[SKIPPED]} listed article(s) dated outside the window without fetching them; "
            f"{named} are named above.")


def _causes(data: dict[str, Any]) -> list[str]:
    present = {c for row in data["outlets"].values() for c in row["errors_by_cause"]}
    return [c for c in ERROR_CAUSES if c in present] + sorted(present - set(ERROR_CAUSES))


def render_html(data: dict[str, Any], report: dict[str, Any]) -> str:
    if not data["outlets"]:
        return "<p class=\"muted\">Every article found was kept.</p>"
    parts = ["<p>Every article URL found and not kept, by outlet and reason (open an outlet to see them).</p>"]
    causes = _causes(data)
    if causes:
        head = "".join(f"<th>{esc(ERROR_CAUSES.get(c, c))}</th>" for c in causes)
        rows = "".join(
            f"<tr><td data-label=\"outlet\">{esc(row['name'])}</td>" + "".join(
                f"<td class=\"n\" data-label=\"{esc(ERROR_CAUSES.get(c, c))}\">{row['errors_by_cause'].get(c, 0)}</td>"
                for c in causes) + "</tr>"
            for row in data["outlets"].values() if row["errors_by_cause"])
        parts.append(f"<h3>Errors by cause</h3><table id=\"errors\" class=\"cards\"><thead><tr><th>outlet</th>{head}"
                     f"</tr></thead><tbody>{rows}</tbody></table>")
    for slug, row in data["outlets"].items():
        total, summary = _summary(row)
        body = []
        for key, entries in row["reasons"].items():
            items = []
            for entry in entries[:MAX_LISTED]:
                line = f"{html_link(entry['url'], entry.get('title') or entry['url'])} " \
                       f"<span class=\"muted\">{esc(why(key, entry))}</span>"
                if key == "duplicate" and entry.get("duplicate_of"):
                    label = f"{entry.get('duplicate_of_outlet') or ''}: {entry.get('duplicate_of_title') or ''}"
                    line += f" <a href=\"{esc(text_href(entry['duplicate_of']))}\">" \
                            f"{esc(label if entry.get('duplicate_of_title') else entry['duplicate_of'])}</a>"
                items.append(f"<li>{line}</li>")
            more = f"<li class=\"muted\">and {len(entries) - MAX_LISTED} more (report.json lists every one)</li>" \
                if len(entries) > MAX_LISTED else ""
            body.append(f"<h4>{esc(LABELS.get(key, key))} ({len(entries)})</h4><ul class=\"why\">{''.join(items)}"
                        f"{more}</ul>")
        if _skipped_note(row):
            body.append(f"<p class=\"muted\">{esc(_skipped_note(row))}</p>")
        parts.append(f"<details id=\"not-kept-{esc(slug)}\"><summary>{esc(row['name'])} "
                     f"<span class=\"muted\">{total} not kept: {esc(summary)}</span></summary>{''.join(body)}</details>")
    return "".join(parts)


def render_markdown(data: dict[str, Any], report: dict[str, Any]) -> str:
    if not data["outlets"]:
        return "Every article found was kept.\n"
    lines = []
    causes = _causes(data)
    if causes:
        lines += ["### Errors by cause", "", "| outlet | " + " | ".join(md(ERROR_CAUSES.get(c, c)) for c in causes)
                  + " |", "|" + "---|" * (len(causes) + 1)]
        lines += [f"| {md(row['name'])} | " + " | ".join(str(row["errors_by_cause"].get(c, 0)) for c in causes) + " |"
                  for row in data["outlets"].values() if row["errors_by_cause"]]
        lines.append("")
    for row in data["outlets"].values():
        total, summary = _summary(row)
        lines += [f"### {md(row['name'])}: {total} not kept", "", md(summary), ""]
        for key, entries in row["reasons"].items():
            lines.append(f"- **{md(LABELS.get(key, key))}** ({len(entries)})")
            for entry in entries[:MAX_LISTED]:
                line = f"  - {md_link(entry['url'], entry.get('title') or entry['url'])}: {md(why(key, entry))}"
                if key == "duplicate" and entry.get("duplicate_of"):
                    label = f"{entry.get('duplicate_of_outlet') or ''}: {entry.get('duplicate_of_title') or ''}"
                    line += f" [{md(label if entry.get('duplicate_of_title') else entry['duplicate_of'])}]" \
                            f"({text_href(entry['duplicate_of'])})"
                lines.append(line)
            if len(entries) > MAX_LISTED:
                lines.append(f"  - and {len(entries) - MAX_LISTED} more (report.json lists every one)")
        if _skipped_note(row):
            lines += ["", md(_skipped_note(row))]
        lines.append("")
    return "\n".join(lines)


SECTION = Section("not_kept", "Not kept, and why", gather, render_html, render_markdown)
