"""The timeline: kept articles per publication day, week or month and outlet, as a stacked bar chart in SVG.

The bin fits the window, so any window reads: days up to :data:`MAX_DAY_BINS` days, weeks (starting on Monday) up
to :data:`MAX_WEEK_BINS` weeks, months beyond. The SVG is drawn here, not by a plotting library: it is small,
scales to the page's width (a ``viewBox``, no fixed size, so a phone shows it whole), has no fonts or scripts, and
its colours match the legend, which is HTML below it (wrapping at any width, readable at any zoom).
"""

from __future__ import annotations

import html
import math
from collections import Counter
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from crawler.report.text import esc, plain

if TYPE_CHECKING:
    from crawler.report.section import Context

MAX_DAY_BINS = 62  # about two months of days
MAX_WEEK_BINS = 60  # about a year of weeks; a longer window is drawn by month
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#882255", "#44aa99", "#999933",
           "#332288", "#aa4499", "#6e6e6e")  # colour-blind-safe (Okabe-Ito, then Tol), distinct on white
WIDTH, HEIGHT = 600, 250
LEFT, RIGHT, TOP, BOTTOM = 40, 10, 12, 50


def _day(value: Any) -> date | None:
    try:
        return date.fromisoformat(str(value)[:10]) if value else None
    except ValueError:
        return None


def bin_unit(since: date, until: date) -> str:
    """``day``, ``week`` or ``month``: the widest bin that still gives the window at most ~60 bars."""
    days = (until - since).days + 1
    if days <= MAX_DAY_BINS:
        return "day"
    return "week" if days <= MAX_WEEK_BINS * 7 else "month"


def bin_start(day: date, unit: str) -> date:
    """The first day of the bin holding ``day``."""
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def bins(since: date, until: date, unit: str) -> list[date]:
    """Every bin of the window, in order (empty ones too: a gap in coverage shows as a gap)."""
    found, day = [], bin_start(since, unit)
    while day <= until:
        found.append(day)
        if unit == "month":
            day = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        else:
            day += timedelta(days=7 if unit == "week" else 1)
    return found


def timeline_data(ctx: Context) -> tuple[date | None, date | None, str, dict[str, dict[str, int]], int]:
    """(since, until, bin unit, {outlet slug: {bin start: articles}}, kept articles without a date). The window is
    the topic's; a side left open is the first or last article's date."""
    days = sorted(d for d in (_day(e.get("published")) for e in ctx.entries) if d)
    topic = ctx.topic
    since = topic.since if topic and topic.since else (days[0] if days else None)
    until = topic.until if topic and topic.until else (days[-1] if days else None)
    undated = sum(1 for e in ctx.entries if not _day(e.get("published")))
    if not (since and until and since <= until):
        return since, until, "day", {}, undated
    unit = bin_unit(since, until)
    window = bins(since, until, unit)
    timeline = {}
    for slug in ctx.names:
        per_bin = Counter(bin_start(d, unit) for d in (_day(e.get("published")) for e in ctx.entries
                                                        if ctx.outlet_of(e) == slug) if d and since <= d <= until)
        timeline[slug] = {start.isoformat(): per_bin.get(start, 0) for start in window}
    return since, until, unit, timeline, undated


def colours(report: dict[str, Any]) -> dict[str, str]:
    """A colour per outlet with articles on the timeline, in outlet order (shared by the bars and the legend)."""
    drawn = [slug for slug, per_bin in report["timeline"].items() if any(per_bin.values())]
    return {slug: PALETTE[n % len(PALETTE)] for n, slug in enumerate(drawn)}


def _ticks(top: int) -> list[int]:
    """At most six round values from 0 to at least ``top``."""
    step = 1
    for scale in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000):
        step = scale
        if math.ceil(top / scale) <= 5:
            break
    return list(range(0, (math.ceil(top / step) or 1) * step + 1, step))


def _label(start: date, unit: str) -> str:
    return start.strftime("%b %Y") if unit == "month" else f"{start.day} {start.strftime('%b')}"


def timeline_svg(report: dict[str, Any]) -> str:
    """Stacked bars of kept articles per bin and outlet, as an inline SVG element (empty string: nothing to draw)."""
    timeline, unit = report["timeline"], report.get("timeline_bin") or "day"
    palette = colours(report)
    if not palette:
        return ""
    starts = sorted({start for per_bin in timeline.values() for start in per_bin})
    totals = [sum(timeline[slug].get(start, 0) for slug in palette) for start in starts]
    ticks = _ticks(max(totals))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(starts)
    scale = plot_h / ticks[-1]
    label = esc(f"Articles per {unit}: {report['topic']}")
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
             f'aria-label="{label}" font-family="system-ui,sans-serif" font-size="14">']
    for tick in ticks:
        y = TOP + plot_h - tick * scale
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e3e3e3"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{tick}</text>')
    outlets = report["outlets"]
    for n, start in enumerate(starts):
        x, bottom = LEFT + n * slot + slot * 0.1, TOP + plot_h
        for slug, colour in palette.items():
            count = timeline[slug].get(start, 0)
            if count:
                height = count * scale
                bottom -= height
                name = plain(outlets.get(slug, {}).get("name") or slug)
                parts.append(f'<rect x="{x:.1f}" y="{bottom:.1f}" width="{slot * 0.8:.1f}" height="{height:.1f}" '
                             f'fill="{colour}"><title>{html.escape(f"{name}, {unit} of {start}: {count}")}</title>'
                             f'</rect>')
    every = max(1, math.ceil(len(starts) / 6))  # at most six labels: each stays readable on a phone
    for n in range(0, len(starts), every):
        x = LEFT + (n + 0.5) * slot
        parts.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 18}" text-anchor="middle" fill="#333">'
                     f'{esc(_label(date.fromisoformat(starts[n]), unit))}</text>')
    parts.append(f'<text x="{LEFT}" y="{HEIGHT - 6}" fill="#555">articles per {unit}, by publication date</text>')
    parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="#888"/>')
    return "".join(parts) + "</svg>"


def legend_html(report: dict[str, Any]) -> str:
    """The legend: each outlet's colour, name and kept articles, wrapping at any width."""
    outlets = report["outlets"]
    items = "".join(f'<li><span class="swatch" style="background:{colour}"></span>{esc(outlets[slug]["name"])} '
                    f'<span class="muted">({sum(report["timeline"][slug].values())})</span></li>'
                    for slug, colour in colours(report).items())
    return f'<ul class="legend">{items}</ul>' if items else ""
