"""The coverage report of a topic: ``report.json``, ``report.md`` and ``report.html`` in its archive directory.

One module per part: ``gather`` (the data, from the archive and the store), ``section`` and ``sections`` (the
report as a list of sections, each a module: ``reasons`` for what was not kept and why, ``history`` for the
runs), ``timeline`` (bins and the SVG chart), ``html`` and ``markdown`` (the renderings), ``text`` (untrusted
text made safe), ``extension`` (writing it, at the end of a crawl or by ``presswarc report DIR``).
"""

from crawler.report.columns import HEADINGS, PHRASES, columns
from crawler.report.extension import ReportExtension, write_report
from crawler.report.gather import OUTCOMES, build_report, figure
from crawler.report.html import render_html
from crawler.report.markdown import render_markdown
from crawler.report.section import Context, Section
from crawler.report.sections import SECTIONS
from crawler.report.timeline import timeline_svg

__all__ = ["HEADINGS", "OUTCOMES", "PHRASES", "SECTIONS", "Context", "ReportExtension", "Section", "build_report",
           "columns", "figure", "render_html", "render_markdown", "timeline_svg", "write_report"]
