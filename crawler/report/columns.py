"""The outlets table's columns and the summary line, shared by report.html and report.md."""

from __future__ import annotations

from crawler.report.gather import OUTCOMES, figure

HEADINGS = {"kept": "kept", "near_duplicates": "near dup.", "paywalled": "paywalled", "off_topic": "off topic",
            "out_of_window": "out of window", "off_language": "other language", "no_text": "no text",
            "not_html": "not HTML", "duplicate": "duplicates", "robots_forbidden": "robots.txt",
            "over_budget": "over budget", "errors": "errors"}
PHRASES = {"out_of_window": "out of the window", "off_language": "in another language",
           "no_text": "without readable text", "robots_forbidden": "forbidden by robots.txt",
           "over_budget": "over the outlet's budget"}  # in the summary line, where the heading does not read well


def columns() -> dict[str, str]:
    """The figures of an outlet's row, in order, with their headings: what was kept, then every outcome."""
    figures = ["kept", "near_duplicates", "paywalled", *map(figure, OUTCOMES)]
    return {name: HEADINGS.get(name, name.replace("_", " ")) for name in figures}


def summary_tail(totals: dict[str, int]) -> str:
    """What follows "N articles kept" in the summary line: every outcome's total (plain text)."""
    reasons = ", ".join(f"{totals[name]} {PHRASES.get(name, heading)}" for name, heading in columns().items()
                        if name not in ("kept", "near_duplicates", "paywalled"))
    return f"({totals['near_duplicates']} near duplicates, {totals['paywalled']} paywalled); {reasons}."

