"""The coverage report of a topic: ``report.json``, ``report.md`` and ``report.html`` in its archive directory.

Everything comes from the archive itself (``manifest.jsonl``, ``state.sqlite``, the topic file kept beside them),
so ``scrapy report DIR`` rebuilds the report at any time without crawling; a crawl's stats add what only the run
knows (errors of this run). The timeline is an SVG drawn by matplotlib and embedded in the HTML, so the page is
one self-contained file that reads without internet.

Names, titles and URLs come from the web, so both renderings treat them as untrusted text: Unicode bidirectional
controls are removed (``crawler.text.strip_bidi``), HTML is escaped, markdown characters that would make a link,
an image, HTML or emphasis are backslash-escaped, and only an http(s) URL becomes a link (percent-encoded, so it
cannot end the link early); any other (``javascript:``, ``data:``) is shown as plain text.
"""

from __future__ import annotations

import html
import io
import json
import logging
import re
import sqlite3
from collections import Counter, defaultdict
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from scrapy import signals
from scrapy.exceptions import NotConfigured

from crawler.contracts import NOT_KEPT, Outcome
from crawler.paths import TopicPaths, paths_for
from crawler.store import SqliteStore
from crawler.text import strip_bidi
from crawler.topic import TopicError, load_topic, slugify
from pipelines.manifest import read_manifest
from crawler.fsutil import write_atomic

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

logger = logging.getLogger(__name__)

OUTCOMES = NOT_KEPT
"""Every reason an article gets no text file (crawler.contracts.Outcome): a figure and a column each, so what a
component records always shows (an outcome without a heading below under its own name)."""
HEADINGS = {"kept": "kept", "near_duplicates": "near dup.", "paywalled": "paywalled", "off_topic": "off topic",
            "out_of_window": "out of window", "off_language": "other language", "no_text": "no text",
            "not_html": "not HTML", "duplicate": "duplicates", "errors": "errors"}
PHRASES = {"out_of_window": "out of the window", "off_language": "in another language",
           "no_text": "without readable text"}  # in the summary line, where the heading does not read well
MAX_TIMELINE_DAYS = 400  # a longer window is drawn over the days that have articles


def figure(outcome: Outcome) -> str:
    """The report's key of an outcome's figure: the outcome's name (``errors`` for ``error``)."""
    return "errors" if outcome == Outcome.ERROR else str(outcome)


def _columns() -> dict[str, str]:
    """The figures of an outlet's row, in order, with their headings: what was kept, then every outcome."""
    figures = ["kept", "near_duplicates", "paywalled", *map(figure, OUTCOMES)]
    return {name: HEADINGS.get(name, name.replace("_", " ")) for name in figures}


def _summary_tail(totals: dict[str, int]) -> str:
    """What follows "N articles kept" in the summary line: every outcome's total (plain text)."""
    reasons = ", ".join(f"{totals[name]} {PHRASES.get(name, heading)}" for name, heading in _columns().items()
                        if name not in ("kept", "near_duplicates", "paywalled"))
    return f"({totals['near_duplicates']} near duplicates, {totals['paywalled']} paywalled); {reasons}."


def _state_outcomes(paths: TopicPaths) -> dict[str, Counter]:
    """Outcomes of article URLs per outlet slug, from the state database (read-only)."""
    counts: dict[str, Counter] = defaultdict(Counter)
    if not paths.state.exists():
        return counts
    try:
        store = SqliteStore(paths.state, read_only=True)
        try:
            for outlet, per_outcome in store.outcome_counts().items():
                for outcome, number in per_outcome.items():
                    # a page over DOWNLOAD_MAXSIZE is an error the report counts, though the crawl does not retry it
                    counts[outlet or "unknown"][Outcome.ERROR if outcome == Outcome.TOO_LARGE else outcome] += number
        finally:
            store.close()
    except sqlite3.Error as exc:
        logger.warning("report: cannot read %s (%s); outcomes come from the stats only", paths.state, exc)
    return counts


def _day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value[:10]) if value else None
    except ValueError:
        return None


def build_report(root: Path, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report's figures for the topic archive at ``root``."""
    paths = TopicPaths(Path(root))
    if stats is None:  # rebuilt without a crawl: the last crawl's figures, kept in the previous report
        stats = _previous_run_stats(paths.root / "report.json")
    entries = list(read_manifest(paths.manifest))
    topic = None
    if (paths.root / "topic.toml").exists():
        try:
            topic = load_topic(paths.root / "topic.toml")
        except TopicError as exc:
            logger.warning("report: %s", exc)
    names = {o.slug: o.name for o in topic.outlets} if topic else {}
    for entry in entries:
        names.setdefault(entry.get("outlet_slug") or slugify(entry.get("outlet") or ""), entry.get("outlet") or "")
    outcomes = _state_outcomes(paths)
    for slug in outcomes:
        names.setdefault(slug, slug)

    outlets = {}
    for slug, name in names.items():
        mine = [e for e in entries if (e.get("outlet_slug") or slugify(e.get("outlet") or "")) == slug]
        row = {"name": name, "kept": len(mine), "paywalled": sum(1 for e in mine if e.get("paywalled")),
               "near_duplicates": sum(1 for e in mine if e.get("duplicate_of")),
               "via": dict(Counter(e.get("via") or "unknown" for e in mine)),
               "sources": dict(Counter(e.get("source") or "live" for e in mine))}  # live, warc-scan, ...
        for outcome in OUTCOMES:
            name = figure(outcome)
            from_state = outcomes.get(slug, Counter()).get(outcome, 0)
            from_stats = stats.get(f"coverage/{slug}/{name}", 0)
            if outcome == Outcome.OUT_OF_WINDOW:  # also those skipped unfetched, dated outside by their sitemap or feed
                from_stats += stats.get(f"coverage/{slug}/skipped_out_of_window", 0)
                from_state += stats.get(f"coverage/{slug}/skipped_out_of_window", 0)
            row[name] = max(from_state, from_stats)
        outlets[slug] = row

    days = sorted(d for d in (_day(e.get("published")) for e in entries) if d)
    since = topic.since if topic and topic.since else (days[0] if days else None)
    until = topic.until if topic and topic.until else (days[-1] if days else None)
    timeline: dict[str, dict[str, int]] = {}
    if since and until and since <= until:
        span = (until - since).days + 1
        window = [since + timedelta(n) for n in range(span)] if span <= MAX_TIMELINE_DAYS else sorted(set(days))
        for slug in names:
            per_day = Counter(_day(e.get("published")) for e in entries
                              if (e.get("outlet_slug") or slugify(e.get("outlet") or "")) == slug)
            timeline[slug] = {d.isoformat(): per_day.get(d, 0) for d in window}

    articles = [{
        "published": e.get("published"), "outlet": e.get("outlet"), "title": e.get("title"), "file": e.get("file"),
        "url": e.get("url"), "words": e.get("words"), "duplicate_of": e.get("duplicate_of"),
        "similarity": e.get("similarity"), "paywalled": bool(e.get("paywalled")), "via": e.get("via"),
    } for e in sorted(entries, key=lambda e: (e.get("published") or "", e.get("outlet") or "", e.get("file") or ""))]
    totals = {key: sum(row[key] for row in outlets.values())
              for key in ("kept", "paywalled", "near_duplicates", *map(figure, OUTCOMES))}
    return {
        "topic": topic.name if topic else paths.root.name,
        "query": topic.query.text if topic else None,
        "since": since.isoformat() if since else None,
        "until": until.isoformat() if until else None,
        "totals": totals, "outlets": outlets, "timeline": timeline, "articles": articles,
        "warc_bytes": stats.get("warc/bytes_payload"),
        "last_run_stats": {k: v for k, v in stats.items() if k.startswith(("coverage/", "warc/", "extract/"))
                           and isinstance(v, (int, float))},
    }


def _previous_run_stats(report_json: Path) -> dict[str, Any]:
    try:
        return json.loads(report_json.read_text(encoding="utf-8")).get("last_run_stats") or {}
    except (OSError, ValueError):
        return {}


def timeline_svg(report: dict[str, Any]) -> str:
    """Stacked bars of articles per day and outlet, as an SVG document (matplotlib, no network, no fonts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timeline = report["timeline"]
    days = sorted({d for per_day in timeline.values() for d in per_day})
    figure, axes = plt.subplots(figsize=(max(6.0, 0.35 * len(days) + 2), 3.2), dpi=96)
    bottom = [0] * len(days)
    for slug, per_day in timeline.items():
        heights = [per_day.get(d, 0) for d in days]
        if any(heights):
            axes.bar(days, heights, bottom=bottom, label=_plain_label(report["outlets"][slug]["name"]))
            bottom = [b + h for b, h in zip(bottom, heights)]
    axes.set_ylabel("articles")
    axes.set_title(_plain_label(f"Articles per day: {report['topic']}"))
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.tick_params(axis="x", labelrotation=60, labelsize=7)
    if any(bottom):
        axes.legend(fontsize=7, loc="upper left", frameon=False)
    figure.tight_layout()
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    svg = buffer.getvalue()
    return svg[svg.index("<svg"):]


def _plain_label(value) -> str:
    """Text for a chart label: matplotlib reads ``$...$`` as mathematics (an outlet named "A $\\x$" would stop the
    report), so dollar signs are escaped."""
    return _text(value).replace("$", r"\$")


def _text(value: Any) -> str:
    """A value as one line of display text: no bidirectional controls, no line breaks."""
    return " ".join(strip_bidi("" if value is None else str(value)).split())


_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"  # kept as they are; anything else (spaces, quotes, <>, (), |, \\) is encoded


def _href(url: Any) -> str | None:
    """``url`` percent-encoded for a link target if it is an http(s) URL, else None (shown as text, not linked).
    The scheme is checked on the encoded form, which is exactly what a browser gets."""
    target = quote(strip_bidi(str(url or "")).strip(), safe=_URL_SAFE)
    return target if re.match(r"https?://[^/]", target, re.IGNORECASE) else None


_MD_SPECIAL = re.compile(r"([\\`*_~\[\]<>|])")


def _md_cell(value: Any) -> str:
    """Text for a markdown table cell: nothing in it can form a link, an image, HTML, code or emphasis (an
    escaped ``[`` starts no link or image, an escaped ``<`` no tag or autolink)."""
    return _MD_SPECIAL.sub(r"\\\1", _text(value))


def _md_code(value: Any) -> str:
    """``value`` as a markdown code span, fenced by more backticks than it holds in a row."""
    text = _text(value)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def render_markdown(report: dict[str, Any]) -> str:
    lines = [f"# Coverage report: {_md_cell(report['topic'])}", ""]
    if report["query"]:
        lines += [f"Query: {_md_code(report['query'])}  ",
                  f"Window: {_md_cell(report['since'] or '…')} to {_md_cell(report['until'] or '…')}", ""]
    totals, columns = report["totals"], _columns()
    headings = ["outlet", *columns.values(), "found through"]
    lines += [f"**{totals['kept']} articles kept** {_summary_tail(totals)}", "", "## Outlets", "",
              "| " + " | ".join(headings) + " |", "|" + "---|" * len(headings)]
    for row in report["outlets"].values():
        via = _md_cell(", ".join(f"{k} {v}" for k, v in sorted(row["via"].items())))
        lines.append(f"| {_md_cell(row['name'])} | " + " | ".join(str(row[key]) for key in columns) + f" | {via} |")
    lines += ["", "## Articles", "", "| date | outlet | title | words | duplicate of |", "|---|---|---|---|---|"]
    for article in report["articles"]:
        href = _href(article["url"])
        original = f"([original]({href}))" if href else f"(original: {_md_cell(article['url'])})"
        title = f"[{_md_cell(article['title'])}](text/{quote(_text(article['file']))}) {original}"
        lines.append(f"| {_md_cell(article['published'])} | {_md_cell(article['outlet'])} | {title} | "
                     f"{_md_cell(article['words'] or '')} | {_md_cell(article['duplicate_of'])} |")
    return "\n".join(lines) + "\n"


STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4}td.n{text-align:right}figure{margin:1em 0;overflow-x:auto}
.muted{color:#777}"""


def _original_html(url: Any) -> str:
    """The link to an article's original page; a URL that is not http(s) is shown as text."""
    href = _href(url)
    if href:
        return f"<a class=\"muted\" href=\"{html.escape(href, quote=True)}\">original</a>"
    return f"<span class=\"muted\">original: {html.escape(_text(url))}</span>" if url else ""


def render_html(report: dict[str, Any]) -> str:
    def e(value: Any) -> str:
        return html.escape(_text(value))

    totals, columns = report["totals"], _columns()
    headings = "".join(f"<th>{e(heading)}</th>" for heading in ["outlet", *columns.values(), "found through"])
    outlet_rows = "".join(
        f"<tr><td>{e(row['name'])}</td>" + "".join(f'<td class="n">{row[k]}</td>' for k in columns)
        + f"<td>{e(', '.join(f'{k} {v}' for k, v in sorted(row['via'].items())))}</td></tr>"
        for row in report["outlets"].values())
    article_rows = "".join(
        f"<tr><td>{e(a['published'])}</td><td>{e(a['outlet'])}</td>"
        f"<td><a href=\"text/{html.escape(quote(_text(a['file'])), quote=True)}\">{e(a['title'] or a['file'])}</a> "
        f"{_original_html(a['url'])}</td>"
        f"<td class=\"n\">{e(a['words'] or '')}</td><td>{e(a['duplicate_of'])}</td></tr>"
        for a in report["articles"])
    chart = timeline_svg(report) if report["timeline"] else "<p class=\"muted\">No dated articles.</p>"
    query = f"<p>Query <code>{e(report['query'])}</code>, {e(report['since'] or '…')} to {e(report['until'] or '…')}</p>" \
        if report["query"] else ""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Coverage report: {e(report['topic'])}</title>
<style>{STYLE}</style></head><body>
<h1>Coverage report: {e(report['topic'])}</h1>{query}
<p><strong>{totals['kept']} articles kept</strong> {e(_summary_tail(totals))}</p>
<h2>Timeline</h2><figure id="timeline">{chart}</figure>
<h2>Outlets</h2>
<table id="outlets"><thead><tr>{headings}</tr></thead><tbody>{outlet_rows}</tbody></table>
<h2>Articles</h2>
<table id="articles"><thead><tr><th>date</th><th>outlet</th><th>title</th><th>words</th><th>duplicate of</th></tr>
</thead><tbody>{article_rows}</tbody></table>
</body></html>
"""


def _write(path: Path, text: str) -> None:
    write_atomic(path.parent, path.name, text)  # a temporary name of its own: workers may finish together


def write_report(root: Path, stats: dict[str, Any] | None = None) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``root``; returns their paths."""
    root = Path(root)
    report = build_report(root, stats)
    written = {"json": root / "report.json", "md": root / "report.md", "html": root / "report.html"}
    _write(written["json"], json.dumps(report, ensure_ascii=False, indent=1) + "\n")
    _write(written["md"], render_markdown(report))
    _write(written["html"], render_html(report))
    return written


class ReportExtension:
    """Writes the topic's report when a crawl ends and puts its headline figures in the stats
    (setting ``REPORT_ENABLED``, default True)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> "ReportExtension":
        if not crawler.settings.getbool("REPORT_ENABLED"):
            raise NotConfigured
        extension = cls(crawler)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider, reason: str) -> None:
        if getattr(spider, "topic", None) is None:
            return
        run = getattr(self.crawler, "topic_run", None)
        if run is not None and not run.writes_report:
            logger.info("report left to the worker that found the shared crawl over")
            return
        root = paths_for(self.crawler.settings, spider).root
        stats = self.crawler.stats
        try:
            written = write_report(root, stats.get_stats())
        except Exception:  # the archive is complete without it; `scrapy report DIR` can write it later
            logger.exception("could not write the report of %s", root)
            return
        report = json.loads(written["json"].read_text(encoding="utf-8"))
        for key, value in report["totals"].items():
            stats.set_value(f"report/{key}", value)
        stats.set_value("report/outlets", len(report["outlets"]))
        logger.info("report written: %s", written["html"])
