"""report.html: one self-contained page (no script, no stylesheet or font fetched) that reads on a phone.

At phone width nothing scrolls sideways: the chart scales with the page, long words and URLs wrap, and each
table row becomes a card whose cells carry their column's name (``data-label``), so a table of sixteen columns
stays readable at 390 pixels.
"""

from __future__ import annotations

from typing import Any

from crawler.report.columns import columns, summary_tail
from crawler.report.sections import SECTIONS
from crawler.report.text import esc, html_link, text_href
from crawler.report.timeline import legend_html, timeline_svg

STYLE = """*{box-sizing:border-box}
body{font:15px/1.45 system-ui,sans-serif;margin:1.5em auto;max-width:72em;padding:0 1em;color:#222;
overflow-wrap:anywhere}
h1{font-size:1.6em;line-height:1.2}code{white-space:normal}
table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border-bottom:1px solid #ddd;padding:.3em .5em;
text-align:left;vertical-align:top}th{background:#f4f4f4;overflow-wrap:normal}td.n{text-align:right}
figure{margin:1em 0}figure svg{display:block;width:100%;height:auto}
.legend{list-style:none;padding:0;margin:.5em 0;display:flex;flex-wrap:wrap;gap:.2em 1.2em}
.swatch{display:inline-block;width:.9em;height:.9em;margin-right:.35em;vertical-align:-.1em;border-radius:2px}
.muted{color:#666}.empty{padding:1em;background:#f6f6f6;border-radius:.3em}
.tag{display:inline-block;font-size:.75em;padding:0 .4em;border-radius:.3em;background:#eee;white-space:nowrap}
.tag.paywalled{background:#fde2b8}.tag.near{background:#d7e7fb}
details{border:1px solid #ddd;border-radius:.3em;margin:.4em 0;padding:.3em .6em}summary{cursor:pointer}
ul.why{padding-left:1.2em}ul.why li{margin:.2em 0}h4{margin:.6em 0 .2em}
@media (max-width:48em){
table.cards,table.cards tbody,table.cards tr,table.cards td{display:block;width:100%}
table.cards thead{display:none}table.cards tr{border-bottom:2px solid #ccc;padding:.3em 0}
table.cards td{border:0;padding:.1em .3em;text-align:left}
table.cards td[data-label]::before{content:attr(data-label) ": ";color:#666}
}"""


def _outlets_table(report: dict[str, Any]) -> str:
    cols = columns()
    headings = "".join(f"<th>{esc(heading)}</th>" for heading in ["outlet", *cols.values(), "found through"])
    rows = "".join(
        f"<tr><td data-label=\"outlet\"><strong>{esc(row['name'])}</strong></td>"
        + "".join(f'<td class="n" data-label="{esc(cols[k])}">{row[k]}</td>' for k in cols)
        + f"<td data-label=\"found through\">{esc(', '.join(f'{k} {v}' for k, v in sorted(row['via'].items())))}</td>"
        "</tr>"
        for row in report["outlets"].values())
    return f"<table id=\"outlets\" class=\"cards\"><thead><tr>{headings}</tr></thead><tbody>{rows}</tbody></table>"


def _duplicate_of(article: dict[str, Any]) -> str:
    """The original of a near-duplicate: its outlet and title, linked to its text file."""
    if not article.get("duplicate_of"):
        return ""
    label = f"{article.get('duplicate_of_outlet') or ''}: {article.get('duplicate_of_title') or ''}" \
        if article.get("duplicate_of_title") else article["duplicate_of"]
    similarity = f" <span class=\"muted\">({article['similarity']:.0%} similar)</span>" \
        if isinstance(article.get("similarity"), (int, float)) else ""
    return f"<a href=\"{esc(text_href(article['duplicate_of']))}\">{esc(label)}</a>{similarity}"


def _articles_table(report: dict[str, Any]) -> str:
    rows = []
    for a in report["articles"]:
        tags = ("<span class=\"tag paywalled\">paywalled</span> " if a.get("paywalled") else "") + \
            ("<span class=\"tag near\">near duplicate</span> " if a.get("duplicate_of") else "")
        rows.append(
            f"<tr><td data-label=\"date\">{esc(a['published'])}</td><td data-label=\"outlet\">{esc(a['outlet'])}</td>"
            f"<td data-label=\"title\">{tags}<a href=\"{esc(text_href(a['file']))}\">{esc(a['title'] or a['file'])}"
            f"</a> {html_link(a['url'], 'original', 'muted') if a['url'] else ''}</td>"
            f"<td class=\"n\" data-label=\"words\">{esc(a['words'] or '')}</td>"
            f"<td data-label=\"duplicate of\">{_duplicate_of(a)}</td></tr>")
    return ("<table id=\"articles\" class=\"cards\"><thead><tr><th>date</th><th>outlet</th><th>title</th>"
            f"<th>words</th><th>duplicate of</th></tr></thead><tbody>{''.join(rows)}</tbody></table>")


def _timeline(report: dict[str, Any]) -> str:
    chart = timeline_svg(report)
    undated = f"<p class=\"muted\">{report['undated']} kept article(s) without a date are not drawn.</p>" \
        if report.get("undated") else ""
    if not chart:
        return ("<figure id=\"timeline\"><p class=\"empty\">No dated articles kept yet: nothing to draw. The "
                "timeline shows kept articles by publication date once a crawl keeps some.</p></figure>" + undated)
    return (f"<figure id=\"timeline\">{chart}<figcaption>{legend_html(report)}</figcaption></figure>{undated}")


def render_html(report: dict[str, Any]) -> str:
    totals = report["totals"]
    query = f"<p>Query <code>{esc(report['query'])}</code>, {esc(report['since'] or '…')} to " \
            f"{esc(report['until'] or '…')}</p>" if report["query"] else ""
    fragments = [(s, s.html(report.get(s.key), report)) for s in SECTIONS]
    sections = "".join(f"<section id=\"{esc(s.key)}\"><h2>{esc(s.title)}</h2>{fragment}</section>"
                       for s, fragment in fragments if fragment)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Coverage report: {esc(report['topic'])}</title>
<style>{STYLE}</style></head><body>
<h1>Coverage report: {esc(report['topic'])}</h1>{query}
<p><strong>{totals['kept']} articles kept</strong> {esc(summary_tail(totals))}</p>
<p class="muted">Report made {esc(str(report.get('generated_at') or '?').replace('T', ' '))}.</p>
<h2>Timeline</h2>{_timeline(report)}
<h2>Outlets</h2>
{_outlets_table(report)}
{sections}
<h2>Articles</h2>
{_articles_table(report)}
</body></html>
"""
