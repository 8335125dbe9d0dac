"""A story of July 2021 as the web archives hold it, for the archive-source tests: four outlets' captures in a
Wayback-like collection (served by pywb) and in Common Crawl-like collections (a range server and an index),
a topic file, and the articles a crawl must keep. The live outlets no longer list the story; one is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from tests.support.sites import robots_txt, rss_feed
from tests.support.webarchives import Page, article, write_warc

ALPHA, BETA, GONE, GAMMA = "http://www.alpha.test", "http://www.beta.test", "http://www.gone.test", "http://www.gamma.test"
SHARED = f"{ALPHA}/2021/07/16/lavrov-taliban-border-talks.html"  # in both archives
REDIRECTED = f"{BETA}/news/old-lavrov-link-11111"
REDIRECT_TARGET = "https://www.beta.test/news/lavrov-kabul-embassy-staff-22222"
FORBIDDEN = f"{GONE}/private/2021/07/18/lavrov-private-briefing.html"  # disallowed by the archived robots.txt


@dataclass
class Story:
    wayback_warc: Path
    cc_dir: Path
    collections: dict  # id -> (from, to, index lines)
    expected: set[str]  # canonical article URLs a crawl keeps
    outside: set[str]  # captured, on topic, outside the window


def wayback_pages() -> list[Page]:
    return [
        Page(SHARED, "20210717093000", article("Lavrov on Taliban border talks", True, "2021-07-16"), gzip=True),
        Page(f"{ALPHA}/2021/06/02/lavrov-earlier-visit.html", "20210712080000",
             article("Lavrov earlier visit", True, "2021-06-02")),
        Page(f"{ALPHA}/2021/07/15/council-budget-vote.html", "20210716080000",
             article("Council budget vote", False, "2021-07-15")),
        Page("https://www.beta.test/news/lavrov-warns-of-afghan-chaos-57861234", "20210720110000",
             article("Lavrov warns of Afghan chaos", True, "2021-07-14")),
        Page(f"{BETA}/news/lavrov-late-look-back-33333", "20210812110000",
             article("Lavrov looks back", True, "2021-08-10")),
        # an archived feed dates the late story outside the window: its capture is never fetched
        Page(f"{BETA}/feed", "20210815000000", rss_feed("Beta", [
            {"url": f"{BETA}/news/lavrov-late-look-back-33333", "title": "Lavrov looks back", "published": "2021-08-10"},
        ]).encode(), headers=(("Content-Type", "application/rss+xml"),)),
        Page(REDIRECTED, "20210718120000", b"", status=301,
             headers=(("Location", REDIRECT_TARGET), ("Content-Type", "text/html"))),
        # the target was captured only later (after the widened window): found by following the redirect
        Page(REDIRECT_TARGET, "20210901120005", article("Lavrov on Kabul embassy staff", True, "2021-07-18")),
        Page(f"{GONE}/robots.txt", "20210701000000", robots_txt(disallow=["/private/"]).encode(),
             headers=(("Content-Type", "text/plain"),)),
        Page(f"{GONE}/world/2021/07/18/lavrov-says-talks-must-go-on.html", "20210719070000",
             article("Lavrov says talks must go on", True, "2021-07-18")),
        Page(FORBIDDEN, "20210719070500", article("Lavrov private briefing", True, "2021-07-18")),
    ]


def build_story(directory: Path) -> Story:
    directory.mkdir(parents=True, exist_ok=True)
    wayback = directory / "wayback-2021.warc.gz"
    write_warc(wayback, wayback_pages())
    cc_dir = directory / "cc"
    (cc_dir / "crawl-data").mkdir(parents=True)
    july = write_warc(cc_dir / "crawl-data" / "CC-MAIN-2021-31-00000.warc.gz", [
        Page(f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html", "20210728101010",
             article("Lavrov meets Taliban delegation", True, "2021-07-19")),
        Page(SHARED, "20210725101010", article("Lavrov on Taliban border talks", True, "2021-07-16")),
        Page(f"{GAMMA}/2021/07/01/lavrov-before-window.html", "20210729101010",
             article("Lavrov before the window", True, "2021-07-01")),
    ])
    for line in july:
        line["filename"] = "crawl-data/" + line["filename"]
    older = write_warc(cc_dir / "crawl-data" / "CC-MAIN-2020-50-00000.warc.gz", [
        Page(f"{GAMMA}/2020/11/30/lavrov-old-news.html", "20201130101010", article("Lavrov old news", True, "2020-11-30"))])
    for line in older:
        line["filename"] = "crawl-data/" + line["filename"]
    collections = {
        "CC-MAIN-2021-43": ("2021-10-15T00:00:00", "2021-10-28T00:00:00", []),
        "CC-MAIN-2021-31": ("2021-07-23T00:00:00", "2021-08-05T00:00:00", july),
        "CC-MAIN-2020-50": ("2020-11-23T00:00:00", "2020-12-06T00:00:00", older),
    }
    expected = {SHARED, "https://www.beta.test/news/lavrov-warns-of-afghan-chaos-57861234", REDIRECT_TARGET,
                f"{GONE}/world/2021/07/18/lavrov-says-talks-must-go-on.html",
                f"{GAMMA}/2021/07/19/lavrov-meets-taliban-delegation.html"}
    outside = {f"{BETA}/news/lavrov-late-look-back-33333", f"{ALPHA}/2021/06/02/lavrov-earlier-visit.html",
               f"{GAMMA}/2021/07/01/lavrov-before-window.html"}
    return Story(wayback, cc_dir, collections, expected, outside)


def topic_file(path: Path, archives_only: bool, archives: str = '["wayback", "commoncrawl"]') -> Path:
    lines = ['name = "past-story"', "query = 'Lavrov AND (Taliban OR Afghan* OR Kabul)'", "since = 2021-07-10",
             "until = 2021-07-20", f"archives = {archives}", f"archives_only = {str(archives_only).lower()}"]
    for name, url in (("Alpha", ALPHA), ("Beta", BETA), ("Gone", GONE), ("Gamma", GAMMA)):
        lines += ["[[outlet]]", f'name = "{name}"', f'url = "{url}/"']
    path.write_text("\n".join(lines) + "\n")
    return path
