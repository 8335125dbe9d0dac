"""The coverage report, the WACZ package and re-extraction, on the bundled example replayed (and re-recorded)."""

from __future__ import annotations

import html
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from crawler.contracts import NOT_KEPT, Kind, Outcome
from crawler.report import figure, write_report
from crawler.store import SqliteStore
from tests.support.browser import overflows, png_size, run_chromium
from tests.support.crawl import REPO, crawl, run_scrapy
from tests.support.example import EXAMPLE
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed


@pytest.fixture(scope="module")
def topic_dir(tmp_path_factory) -> Path:
    archive = tmp_path_factory.mktemp("report") / "archive"
    crawl("coverage", archive, spider_args={"topic": str(EXAMPLE / "topic.toml")},
          settings={"REPLAY_FROM": str(EXAMPLE / "example.warc.gz"), "WARC_ENABLED": "True", "EXTRACT_WORKERS": "0"})
    return archive / "lavrov-afghanistan"


def test_report_figures(topic_dir):
    report = json.loads((topic_dir / "report.json").read_text())
    assert report["totals"] == {"kept": 6, "paywalled": 1, "near_duplicates": 1, "off_topic": 2, "out_of_window": 1,
                                "off_language": 1, "no_text": 0, "not_html": 0, "duplicate": 0, "robots_forbidden": 0,
                                "over_budget": 0, "errors": 0}
    outlets = report["outlets"]
    assert outlets["the-moscow-times"]["via"] == {"sitemap": 2}
    assert outlets["central-asia-wire"]["via"] == {"feed": 1} and outlets["zerohedge"]["via"] == {"feed": 1}
    assert outlets["far-east-herald"]["via"] == {"section": 2} and outlets["far-east-herald"]["paywalled"] == 1
    assert outlets["rundschau-24"]["off_language"] == 1
    assert len(report["articles"]) == 6 and sum(report["timeline"]["the-moscow-times"].values()) == 2
    assert list(report["timeline"]["zerohedge"]) == [f"2021-07-{d:02d}" for d in range(10, 21)]


def test_report_markdown(topic_dir):
    text = (topic_dir / "report.md").read_text()
    assert ("| outlet | kept | near dup. | paywalled | off topic | out of window | other language | no text | not HTML "
            "| duplicates | robots.txt | over budget | errors | found through |") in text
    assert "| The Moscow Times | 2 | 1 | 0 | 1 | 1 | 0 | 0 | 0 | 0 | 0 | 0 | 0 | sitemap 2 |" in text
    assert text.count("](text/") == 6 + 1  # six titles, and the near duplicate's original


def test_report_html_renders_in_chromium(topic_dir, tmp_path):
    page = (topic_dir / "report.html").read_text()
    assert "<script" not in page and "<link" not in page  # one self-contained file, nothing fetched
    result = run_chromium(topic_dir / "report.html", tmp_path / "profile", "--dump-dom")
    dom = result.stdout
    assert '<figure id="timeline"><svg' in dom
    assert dom.count("<tr>") >= 1 + 5 + 1 + 6  # headers, five outlets, six articles
    console = [line for line in result.stderr.splitlines() if "CONSOLE" in line or "Uncaught" in line]
    assert console == []


@pytest.mark.parametrize("width", [1280, 390])
def test_report_fits_desktop_and_phone_width_without_sideways_scrolling(topic_dir, tmp_path, width):
    """At 1280 and 390 px nothing overflows horizontally (a probe in a copy of the page says so), and a screenshot
    of that width is taken, kept in the test's directory."""
    page = tmp_path / "report.html"
    shutil.copy(topic_dir / "report.html", page)
    assert not overflows(page, width, tmp_path / "profile")
    shot = tmp_path / f"report-{width}.png"
    run_chromium(page, tmp_path / "profile", f"--window-size={width},844", f"--screenshot={shot}")
    assert shot.stat().st_size > 5000 and png_size(shot) == (width, 844)


def test_a_page_of_long_unbroken_names_still_fits_a_phone(tmp_path):
    """Titles, outlet names and URLs without a break (and many columns) wrap instead of widening the page."""
    root = tmp_path / "topic"
    root.mkdir()
    long = "Lavrov" + "x" * 200
    (root / "manifest.jsonl").write_text("".join(json.dumps({
        "file": f"{n:03d}_{n:016x}.txt", "url": f"https://a.test/{long}/{n}", "outlet": f"Outlet{long}{n}",
        "outlet_slug": f"o{n}", "title": long, "published": f"2021-07-{10 + n:02d}", "words": 10,
        "duplicate_of": "000_0000000000000000.txt" if n else None}) + "\n" for n in range(8)))
    store = SqliteStore(root / "state.sqlite")
    store.record_outcome(f"https://a.test/{long}", kind=Kind.ARTICLE, outlet="o1", outcome=Outcome.ERROR,
                         detail={"cause": "timeout", "message": long, "title": long})
    store.close()
    page = write_report(root)["html"]
    assert not overflows(page, 390, tmp_path / "profile")
    assert overflows_without_css(page, tmp_path)


def overflows_without_css(page: Path, tmp_path: Path) -> bool:
    """The same page without its stylesheet does overflow: the check above can fail."""
    bare = tmp_path / "bare.html"
    text = page.read_text()
    bare.write_text(text[:text.index("<style>")] + text[text.index("</style>") + len("</style>"):])
    return overflows(bare, 390, tmp_path / "profile")


def test_report_says_why_each_url_was_not_kept(topic_dir):
    """Each URL not kept appears under its outlet and reason with what decided it; kept articles are marked."""
    report = json.loads((topic_dir / "report.json").read_text())
    outlets = report["not_kept"]["outlets"]
    [off_topic] = outlets["the-moscow-times"]["reasons"]["off_topic"]
    assert off_topic["score"] == 0.0 and off_topic["title"] == "Central Bank Expected to Hike Rates as Inflation Soars"
    [outside] = outlets["the-moscow-times"]["reasons"]["out_of_window"]
    assert (outside["published"], outside["date_source"], outside["fetched"]) == ("2021-07-02", "sitemap", False)
    assert outlets["rundschau-24"]["reasons"]["off_language"][0]["language"] == "de"
    assert outlets["far-east-herald"]["reasons"]["off_topic"][0]["score"] == 0.67
    page = html.unescape((topic_dir / "report.html").read_text())
    assert '<details id="not-kept-the-moscow-times">' in page
    assert "dated 2021-07-02 (its sitemap's date); not fetched" in page
    assert "query not matched: relevance 0.00 (no query term found)" in page
    assert page.count('<span class="tag paywalled">') == 1 and page.count('<span class="tag near">') == 1
    assert '<a href="text/000_1405142cd07b44f5.txt">Central Asia Wire: Russia says US failed in Afghanistan</a>' in page
    [run] = report["runs"]
    assert run["new_articles"] == 6 and run["finish_reason"] == "finished" and run["seconds"] > 0
    assert report["generated_at"] and "Report made " in page


def test_report_command_rebuilds_the_same_report(topic_dir):
    before = json.loads((topic_dir / "report.json").read_text())
    for name in ("report.json", "report.md", "report.html"):
        (topic_dir / name).unlink() if name != "report.json" else None
    result = run_scrapy(["report", str(topic_dir)])
    assert "report.html" in result.stdout
    after = json.loads((topic_dir / "report.json").read_text())
    assert after["totals"] == before["totals"] and after["articles"] == before["articles"]
    assert after["not_kept"] == before["not_kept"] and after["runs"] == before["runs"]  # a rebuild adds no run
    assert (topic_dir / "report.md").exists() and (topic_dir / "report.html").exists()


def test_empty_archive_gives_an_empty_report(tmp_path):
    written = write_report(tmp_path)
    assert json.loads(written["json"].read_text())["totals"]["kept"] == 0
    assert "No dated articles" in written["html"].read_text()


def test_every_outcome_but_kept_has_a_figure_in_the_report(tmp_path):
    """The report's figures come from crawler.contracts.Outcome: an outcome the crawl records is never left out."""
    store = SqliteStore(tmp_path / "state.sqlite")
    for n, outcome in enumerate(Outcome):
        store.record_outcome(f"https://a.test/{n}", kind=Kind.ARTICLE, outlet="alpha", outcome=outcome)
    store.close()
    report = json.loads(write_report(tmp_path)["json"].read_text())
    assert set(report["totals"]) == {"kept", "paywalled", "near_duplicates"} | {figure(o) for o in NOT_KEPT}
    row = report["outlets"]["alpha"]
    assert all(row[figure(o)] == 1 for o in NOT_KEPT if o not in (Outcome.ERROR, Outcome.OUT_OF_WINDOW))
    assert row["errors"] == 2  # an error, and a page over DOWNLOAD_MAXSIZE
    assert row["out_of_window"] == 2  # fetched and dated outside, and dated outside by a listing


def test_a_page_without_text_appears_in_the_report(tmp_path):
    """A fetched page nothing readable comes out of is counted (``no_text``), in every rendering."""
    host = "http://www.delta.test"
    (tmp_path / "topic.toml").write_text(f'name = "blank"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Delta"\n'
                                         f'url = "{host}/"\nfeeds = ["{host}/feed.xml"]\n')
    blank = f"{host}/news/lavrov-speaks"
    with SiteServer() as site:
        site.route(f"{host}/robots.txt", robots_txt())
        site.route(f"{host}/", "<html><body><p>Delta</p></body></html>")
        site.route(f"{host}/feed.xml", rss_feed("Delta", [{"url": blank, "title": "Lavrov speaks",
                                                           "published": "2021-07-16"}]))
        site.route(blank, "<html><head><title>Lavrov speaks</title></head><body><script>load()</script></body></html>")
        stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
                         settings={"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0"},
                         env={"http_proxy": site.proxy_url})
    assert stats["coverage/delta/no_text"] == 1
    topic_dir = tmp_path / "archive" / "blank"
    report = json.loads((topic_dir / "report.json").read_text())
    assert report["totals"]["no_text"] == 1 and report["outlets"]["delta"]["no_text"] == 1
    assert "1 without readable text" in (topic_dir / "report.md").read_text()
    assert "| Delta | 0 | 0 | 0 | 0 | 0 | 0 | 1 | 0 | 0 | 0 | 0 | 0 |  |" in (topic_dir / "report.md").read_text()
    assert "<th>no text</th>" in (topic_dir / "report.html").read_text()


def test_wacz_package_is_valid(topic_dir, tmp_path):
    output = tmp_path / "topic.wacz"
    run_scrapy(["wacz", str(topic_dir), "-o", str(output)])
    wacz = shutil.which("wacz", path=str(Path(sys.executable).parent)) or "wacz"
    check = subprocess.run([wacz, "validate", "-f", str(output)], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    with zipfile.ZipFile(output) as package:
        names = package.namelist()
        pages = [json.loads(line) for line in package.read("pages/pages.jsonl").decode().splitlines()[1:]]
    assert "datapackage.json" in names and any(n.startswith("archive/") for n in names)
    assert len(pages) == 6 and all(p["url"].startswith("http://www.") for p in pages)


def test_wacz_without_warc_files_fails_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_scrapy(["wacz", str(tmp_path / "empty"), "-o", str(tmp_path / "x.wacz")], check=False)
    assert result.returncode != 0 and "no WARC files" in result.stderr


def test_reextract_summarizes_changes(topic_dir, tmp_path):
    target = tmp_path / "again"
    same = run_scrapy(["reextract", str(topic_dir), "-o", str(target)], env={"http_proxy": "http://127.0.0.1:9"})
    assert "0 changed, 7 unchanged" in same.stdout  # six articles and the later version of one
    assert sorted(p.name for p in target.iterdir()) == sorted(p.name for p in (topic_dir / "text").iterdir())
    edited = sorted((topic_dir / "text").iterdir())[0]
    original = edited.read_text()
    edited.write_text(original + "\nA paragraph the old extractor kept.\n")
    try:
        changed = run_scrapy(["reextract", str(topic_dir), "-o", str(tmp_path / "again2")])
        assert "1 changed" in changed.stdout and "-6" in changed.stdout
    finally:
        edited.write_text(original)


# -- names, titles and URLs from the web are shown, never obeyed ---------------------------------------------------

HOSTILE_TITLE = ("Lavrov \u202eslaes\u202c [click](javascript:alert(1)) <img src=x onerror=alert(1)> "
                 "![pixel](http://evil.test/p.png) <script>alert(2)</script> *bold* `code` \u2066isolated\u2069")
NOT_HTTP = ["javascript:alert(document.cookie)", "JaVaScRiPt:alert(1)", " javascript:alert(1)",
            "java\tscript:alert(1)", "data:text/html,<script>alert(1)</script>", "vbscript:msgbox(1)", "//evil.test/x"]


def hostile_archive(root: Path) -> list[dict]:
    """A topic directory whose manifest holds what a hostile page or outlet can put there."""
    entries = [{"file": f"{n:03d}_{n:016x}.txt", "url": url, "outlet": "Evil\u202e Outlet | [x](javascript:1)",
                "outlet_slug": "evil", "title": HOSTILE_TITLE, "published": "2021-07-16", "words": 10}
               for n, url in enumerate(NOT_HTTP)]
    entries.append({"file": "100_00000000000000ff.txt", "url": "https://ok.test/a b(c)|d\u202e<e>\"f\"",
                    "outlet": "Fine Outlet", "outlet_slug": "fine", "title": "Fine", "published": "2021-07-17",
                    "words": 5})
    root.mkdir(parents=True, exist_ok=True)
    (root / "manifest.jsonl").write_text("".join(json.dumps(e) + "\n" for e in entries), encoding="utf-8")
    return entries


def links_and_tags(page: str) -> tuple[list[str], set[str]]:
    """The href and src targets of an HTML page, and its tag names, as a browser's parser reads them."""
    import lxml.html

    doc = lxml.html.document_fromstring(page)
    targets = [value for element in doc.iter() if isinstance(element.tag, str)
               for name, value in element.attrib.items() if name in ("href", "src")]
    return targets, {element.tag for element in doc.iter() if isinstance(element.tag, str)}


def test_report_links_only_http_urls_and_strips_bidi_controls(tmp_path):
    """Only http(s) URLs become links, in report.html and in report.md rendered as CommonMark (raw HTML on); the
    others appear as text; no bidi control reaches either file; titles render as the text they are."""
    from markdown_it import MarkdownIt

    from crawler.text import BIDI_CONTROLS

    hostile_archive(tmp_path / "topic")
    written = write_report(tmp_path / "topic")
    page, markdown = written["html"].read_text(), written["md"].read_text()
    rendered = MarkdownIt("commonmark").enable("table").render(markdown)
    for output in (page, rendered):
        targets, tags = links_and_tags(output)
        assert not {"script", "img"} & tags
        assert all(t.startswith(("text/", "https://ok.test/")) for t in targets), targets
        assert targets.count("https://ok.test/a%20b%28c%29%7Cd%3Ce%3E%22f%22") == 1
        assert sum(t.startswith("text/") for t in targets) == len(NOT_HTTP) + 1
        assert "original: javascript:alert(document.cookie)" in html.unescape(output)
        assert "Lavrov slaes [click](javascript:alert(1)) <img src=x onerror=alert(1)>" in html.unescape(output)
    for text in (page, markdown):
        assert not set(BIDI_CONTROLS) & set(text)
    assert "| Evil Outlet \\| \\[x\\](javascript:1) |" in markdown  # one cell, nothing linked


def test_strip_bidi_removes_every_bidi_control_and_nothing_else():
    from crawler.text import strip_bidi

    controls = "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c"
    assert strip_bidi(f"a{controls}b") == "ab"
    kept = "Лавров \u0644\u0627\u0641\u0631\u0648\u0641 \u05dc\u05d1\u05e8\u05d5\u05d1 \u200d\u00a0é"
    assert strip_bidi(kept) == kept


def test_a_crawled_title_with_bidi_overrides_and_markup_reaches_the_report_as_text(tmp_path):
    """End to end: a page whose title carries U+202E and markdown link syntax, from an outlet whose name does too."""
    host = "http://www.bidi.test"
    article = f"{host}/news/lavrov-1"
    title = "Lavrov \u202etfel\u202c says [more](javascript:alert(1))"
    (tmp_path / "topic.toml").write_text(f"""
name = "bidi"
query = 'Lavrov'

[[outlet]]
name = "Bidi \u202eTimes\u202c"
url = "{host}/"
feeds = ["{host}/feed.xml"]
""", encoding="utf-8")
    with SiteServer() as site:
        site.route(f"{host}/robots.txt", robots_txt())
        site.route(f"{host}/", "<html><body><p>Bidi Times</p></body></html>")
        site.route(f"{host}/feed.xml", Reply(body=rss_feed("Bidi Times", [
            {"url": article, "title": "Lavrov", "published": "2021-07-16"}]),
            headers=[("Content-Type", "application/rss+xml")]))
        site.route(article, article_page(title, [
            "Lavrov spoke about the talks in Tashkent at length today.",
            "He said the region needed a settlement that all neighbours could accept.",
            "The minister took questions from reporters for an hour afterwards."], published="2021-07-16"))
        crawl("coverage", tmp_path / "archive", spider_args={"topic": str(tmp_path / "topic.toml")},
              settings={"DOWNLOAD_DELAY": "0", "RETRY_TIMES": "0", "EXTRACT_WORKERS": "0"},
              env={"http_proxy": site.proxy_url})
    root = tmp_path / "archive" / "bidi"
    assert "\u202e" in (root / "manifest.jsonl").read_text(encoding="utf-8")  # the archive keeps what was served
    markdown = (root / "report.md").read_text(encoding="utf-8")
    page = (root / "report.html").read_text(encoding="utf-8")
    assert "\u202e" not in markdown and "\u202e" not in page
    assert "| Bidi Times |" in markdown and "Lavrov tfel says \\[more\\](javascript:alert(1))" in markdown
    assert f"([original]({article}))" in markdown
    targets, _ = links_and_tags(page)
    assert [t for t in targets if not t.startswith("text/")] == [article]
