"""The section "Runs": each crawl of the topic — when it started, how long it took, the articles it added, how
it ended — newest first, and the report's own date.

A crawl's stats are gone once it ends, so each report carries the history forward: report.json's ``runs`` are
the previous report's plus the crawl that is ending (a report rebuilt without crawling adds none). A distributed
crawl's report is written by one worker, the one that found the shared crawl over: its run is the one listed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from crawler.report.section import Context, Section
from crawler.report.text import esc, md


def _iso(value: Any) -> str | None:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=timezone.utc)).isoformat(timespec="seconds")
    return str(value) if value else None


def this_run(stats: dict[str, Any], now: str) -> dict[str, Any] | None:
    """The ending crawl's line of the history, from its stats (None: the stats know no start)."""
    started = _iso(stats.get("start_time"))
    if not started:
        return None
    finished = _iso(stats.get("finish_time")) or now
    seconds = stats.get("elapsed_time_seconds")
    if not isinstance(seconds, (int, float)):
        try:
            seconds = (datetime.fromisoformat(finished) - datetime.fromisoformat(started)).total_seconds()
        except ValueError:
            seconds = None
    return {"started": started, "finished": finished,
            "seconds": round(seconds, 1) if isinstance(seconds, (int, float)) else None,
            "new_articles": sum(v for k, v in stats.items() if k.startswith("coverage/") and k.endswith("/kept")
                                and isinstance(v, int)),
            "errors": sum(v for k, v in stats.items() if k.startswith("coverage/") and k.endswith("/errors")
                          and isinstance(v, int)),
            "finish_reason": stats.get("finish_reason")}


def gather(ctx: Context) -> list[dict[str, Any]]:
    runs = [run for run in ctx.previous.get("runs") or [] if isinstance(run, dict) and run.get("started")]
    current = this_run(ctx.stats, ctx.generated_at) if ctx.live else None
    if current is not None:
        runs = [run for run in runs if run.get("started") != current["started"]] + [current]
    return sorted(runs, key=lambda run: str(run["started"]), reverse=True)


def duration(seconds: Any) -> str:
    if not isinstance(seconds, (int, float)):
        return "?"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {seconds:02d} s" if minutes else f"{seconds} s"


def _when(value: Any) -> str:
    return str(value or "?").replace("T", " ").replace("+00:00", " UTC")


def render_html(runs: list[dict[str, Any]], report: dict[str, Any]) -> str:
    made = f"<p class=\"muted\">Report made {esc(_when(report.get('generated_at')))}.</p>"
    if not runs:
        return made + "<p class=\"muted\">No crawl recorded yet (the history starts with the next crawl).</p>"
    rows = "".join(f"<tr><td data-label=\"started\">{esc(_when(run['started']))}</td>"
                   f"<td data-label=\"took\">{esc(duration(run.get('seconds')))}</td>"
                   f"<td class=\"n\" data-label=\"new articles\">{esc(run.get('new_articles', 0))}</td>"
                   f"<td class=\"n\" data-label=\"errors\">{esc(run.get('errors', 0))}</td>"
                   f"<td data-label=\"ended\">{esc(run.get('finish_reason') or '')}</td></tr>" for run in runs)
    return (made + "<table id=\"runs\" class=\"cards\"><thead><tr><th>started</th><th>took</th><th>new articles</th>"
            f"<th>errors</th><th>ended</th></tr></thead><tbody>{rows}</tbody></table>")


def render_markdown(runs: list[dict[str, Any]], report: dict[str, Any]) -> str:
    lines = [f"Report made {md(_when(report.get('generated_at')))}.", ""]
    if not runs:
        return "\n".join(lines + ["No crawl recorded yet.", ""])
    lines += ["| started | took | new articles | errors | ended |", "|---|---|---|---|---|"]
    lines += [f"| {md(_when(run['started']))} | {md(duration(run.get('seconds')))} | {md(run.get('new_articles', 0))} "
              f"| {md(run.get('errors', 0))} | {md(run.get('finish_reason') or '')} |" for run in runs]
    return "\n".join(lines + [""])


SECTION = Section("runs", "Runs", gather, render_html, render_markdown)
