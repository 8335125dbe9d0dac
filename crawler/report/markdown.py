"""report.md: the report as markdown (CommonMark with tables), for a terminal, a repository or a mail."""

from __future__ import annotations

from typing import Any

from crawler.report.columns import columns, summary_tail
from crawler.report.sections import SECTIONS
from crawler.report.text import href, md, md_code, plain, text_href


def _timeline(report: dict[str, Any]) -> list[str]:
    """The timeline as one line per bin with articles (the chart is report.html's)."""
    unit = report.get("timeline_bin") or "day"
    per_bin: dict[str, int] = {}
    for counts in report["timeline"].values():
        for start, n in counts.items():
            per_bin[start] = per_bin.get(start, 0) + n
    if not any(per_bin.values()):
        return ["No dated articles kept yet: nothing to draw.", ""]
    return [f"Articles per {unit} (by publication date): "
            + ", ".join(f"{md(start)}: {n}" for start, n in sorted(per_bin.items()) if n), ""]


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Coverage report: {md(report['topic'])}", ""]
    if report["query"]:
        lines += [f"Query: {md_code(report['query'])}  ",
                  f"Window: {md(report['since'] or '…')} to {md(report['until'] or '…')}", ""]
    totals, cols = report["totals"], columns()
    headings = ["outlet", *cols.values(), "found through"]
    lines += [f"**{totals['kept']} articles kept** {summary_tail(totals)}", "",
              f"Report made {md(str(report.get('generated_at') or '?').replace('T', ' '))}.", "",
              "## Timeline", "", *_timeline(report), "## Outlets", "",
              "| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for row in report["outlets"].values():
        via = md(", ".join(f"{k} {v}" for k, v in sorted(row["via"].items())))
        lines.append(f"| {md(row['name'])} | " + " | ".join(str(row[key]) for key in cols) + f" | {via} |")
    lines.append("")
    for section in SECTIONS:
        fragment = section.markdown(report.get(section.key), report)
        if fragment:
            lines += [f"## {md(section.title)}", "", fragment]
    lines += ["## Articles", "", "| date | outlet | title | words | duplicate of |", "|---|---|---|---|---|"]
    for article in report["articles"]:
        target = href(article["url"])
        original = f"([original]({target}))" if target else f"(original: {md(article['url'])})"
        marks = ("**paywalled** " if article.get("paywalled") else "") + \
            ("**near duplicate** " if article.get("duplicate_of") else "")
        title = f"{marks}[{md(article['title'])}]({text_href(article['file'])}) {original}"
        duplicate = ""
        if article.get("duplicate_of"):
            label = f"{plain(article.get('duplicate_of_outlet'))}: {plain(article.get('duplicate_of_title'))}" \
                if article.get("duplicate_of_title") else article["duplicate_of"]
            duplicate = f"[{md(label)}]({text_href(article['duplicate_of'])})"
        lines.append(f"| {md(article['published'])} | {md(article['outlet'])} | {title} | "
                     f"{md(article['words'] or '')} | {duplicate} |")
    return "\n".join(lines) + "\n"
