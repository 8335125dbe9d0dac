"""The timeline fits any window: day bins up to about two months, weeks up to about a year, months beyond; a
legend naming each outlet in its bar colour; a message when nothing was kept."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from crawler.report import write_report
from crawler.report.timeline import PALETTE, bin_unit, bins


@pytest.mark.parametrize("days, unit", [(1, "day"), (11, "day"), (62, "day"), (63, "week"), (420, "week"),
                                        (421, "month"), (3 * 365, "month")])
def test_the_bin_widens_with_the_window(days, unit):
    since = date(2021, 1, 1)
    assert bin_unit(since, date.fromordinal(since.toordinal() + days - 1)) == unit


def test_bins_cover_the_window_from_its_first_bin():
    assert bins(date(2021, 7, 14), date(2021, 7, 27), "week") == [date(2021, 7, 12), date(2021, 7, 19),
                                                                    date(2021, 7, 26)]  # Mondays
    assert bins(date(2021, 11, 20), date(2022, 2, 1), "month") == [date(2021, 11, 1), date(2021, 12, 1),
                                                                     date(2022, 1, 1), date(2022, 2, 1)]


def archive(root: Path, since: str, until: str, dates: list[tuple[str, str | None]]) -> Path:
    root.mkdir(parents=True)
    (root / "topic.toml").write_text(f'name = "t"\nquery = "Lavrov"\nsince = {since}\nuntil = {until}\n'
                                     '[[outlet]]\nname = "Alpha"\nurl = "https://alpha.test/"\n'
                                     '[[outlet]]\nname = "Beta <b>"\nurl = "https://beta.test/"\n')
    (root / "manifest.jsonl").write_text("".join(json.dumps({
        "file": f"{n:03d}_{n:016x}.txt", "url": f"https://{slug}.test/{n}", "outlet_slug": slug if slug == "alpha" else "beta-b",
        "outlet": "Alpha" if slug == "alpha" else "Beta <b>", "title": "Lavrov", "published": day, "words": 9})
        + "\n" for n, (slug, day) in enumerate(dates)))
    return root


def test_a_two_year_window_is_drawn_by_month_with_a_legend(tmp_path):
    root = archive(tmp_path / "t", "2020-01-01", "2021-12-31",
                   [("alpha", "2020-01-05"), ("alpha", "2020-01-25"), ("beta", "2021-12-31"), ("beta", None)])
    written = write_report(root)
    report = json.loads(written["json"].read_text())
    assert report["timeline_bin"] == "month" and len(report["timeline"]["alpha"]) == 24
    assert report["timeline"]["alpha"]["2020-01-01"] == 2 and report["timeline"]["beta-b"]["2021-12-01"] == 1
    assert report["undated"] == 1
    page = written["html"].read_text()
    svg = page[page.index("<svg"):page.index("</svg>")]
    assert 'viewBox="0 0 ' in svg and " width=" not in svg.split(">", 1)[0]  # scales with the page
    assert svg.count("<rect") == 2 and f'fill="{PALETTE[0]}"' in svg and f'fill="{PALETTE[1]}"' in svg
    assert "Jan 2020" in svg and "articles per month" in svg
    legend = page[page.index('<ul class="legend">'):]
    assert f'background:{PALETTE[0]}"></span>Alpha' in legend and "Beta &lt;b&gt;" in legend
    assert "1 kept article(s) without a date" in page
    assert "Articles per month (by publication date): 2020-01-01: 2, 2021-12-01: 1" in written["md"].read_text()


def test_a_short_window_is_drawn_by_day(tmp_path):
    root = archive(tmp_path / "t", "2021-07-10", "2021-07-20", [("alpha", "2021-07-16")])
    report = json.loads(write_report(root)["json"].read_text())
    assert report["timeline_bin"] == "day" and list(report["timeline"]["alpha"])[0] == "2021-07-10"
    assert len(report["timeline"]["alpha"]) == 11 and report["timeline"]["alpha"]["2021-07-16"] == 1


def test_nothing_kept_says_so_instead_of_an_empty_chart(tmp_path):
    root = archive(tmp_path / "t", "2021-07-10", "2021-07-20", [])
    written = write_report(root)
    page = written["html"].read_text()
    assert "<svg" not in page and "No dated articles kept yet: nothing to draw." in page
    assert "No dated articles kept yet" in written["md"].read_text()
