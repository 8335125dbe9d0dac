"""The report's "Not kept, and why": every URL not kept, by outlet and reason, with what decided it; errors by
cause, from real failing servers on 127.0.0.1 (a 404, a 503, a port nobody listens on, a server that never
answers, https spoken to a plain-HTTP port, a name under .invalid), robots.txt refusals and a used-up budget."""

from __future__ import annotations

import html
import json
import socket
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from crawler.report import write_report
from crawler.store import SqliteStore
from tests.support.crawl import crawl
from tests.support.network import free_port
from tests.support.sites import Reply, SiteServer, article_page, robots_txt, rss_feed

LIVE = {"DOWNLOAD_DELAY": "0", "AUTOTHROTTLE_ENABLED": "False", "EXTRACT_WORKERS": "0", "RETRY_TIMES": "0",
        "GUARD_ALLOW_PRIVATE_HOSTS": "True", "DOWNLOAD_TIMEOUT": "2"}
BODY = ["Lavrov spoke about the talks in Tashkent at length today, the ministry said.",
        "He said the region needed a settlement that all neighbours could accept in time.",
        "The minister took questions from reporters for an hour afterwards in the hall."]


@contextmanager
def silent_server() -> Iterator[int]:
    """A port that accepts connections (the kernel completes them from the backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield sock.getsockname()[1]


def topic(path: Path, origin: str, extra: str = "") -> Path:
    path.write_text(f'name = "why"\nquery = "Lavrov"\n{extra}\n[[outlet]]\nname = "Alpha"\nurl = "{origin}/"\n'
                    f'feeds = ["{origin}/feed.xml"]\ndomains = ["127.0.0.1", "lavrov.invalid"]\n', encoding="utf-8")
    return path


def test_errors_are_reported_by_cause_per_outlet(tmp_path):
    with SiteServer() as site, silent_server() as silent:
        origin = site.origin
        failing = {
            "not_found": f"{origin}/news/lavrov-gone",
            "http_5xx": f"{origin}/news/lavrov-broken",
            "timeout": f"http://127.0.0.1:{silent}/news/lavrov-silent",
            "connection_refused": f"http://127.0.0.1:{free_port()}/news/lavrov-refused",
            "tls": f"https://127.0.0.1:{site.port}/news/lavrov-tls",
            "dns": "http://lavrov.invalid/news/lavrov-nowhere",
        }
        forbidden = f"{origin}/private/lavrov-secret"
        site.route(f"{origin}/robots.txt", robots_txt(disallow=["/private/"]))
        site.route(f"{origin}/", "<html><body><p>Alpha</p></body></html>")
        site.route(f"{origin}/feed.xml", rss_feed("Alpha", [
            {"url": url, "title": f"Lavrov {cause}", "published": "2021-07-16"}
            for cause, url in [*failing.items(), ("robots", forbidden)]]))
        site.route(failing["http_5xx"], Reply(body="<html><body>down</body></html>", status=503))
        stats, _ = crawl("coverage", tmp_path / "archive", spider_args={"topic": str(topic(tmp_path / "t.toml", origin))},
                         settings=LIVE, timeout=240)
    root = tmp_path / "archive" / "why"
    report = json.loads((root / "report.json").read_text())
    alpha = report["not_kept"]["outlets"]["alpha"]
    causes = {entry["url"].rsplit("/", 1)[-1]: entry["cause"] for entry in alpha["reasons"]["errors"]}
    assert causes == {url.rsplit("/", 1)[-1]: cause for cause, url in failing.items()}, alpha["reasons"]["errors"]
    assert alpha["errors_by_cause"] == {cause: 1 for cause in failing}
    assert [e["url"] for e in alpha["reasons"]["robots_forbidden"]] == [forbidden]
    assert report["outlets"]["alpha"]["errors"] == 6 and report["outlets"]["alpha"]["robots_forbidden"] == 1
    assert stats["coverage/alpha/robots_forbidden"] == 1
    page, markdown = (root / "report.html").read_text(), (root / "report.md").read_text()
    for label in ("DNS: the name does not resolve", "timeout", "connection refused", "TLS handshake failed",
                  "404 / 410 not found", "5xx server error", "forbidden by robots.txt"):
        assert label in page and label in markdown
    assert '<table id="errors"' in page and '<details id="not-kept-alpha">' in page
    store = SqliteStore(root / "state.sqlite", read_only=True)
    try:
        detail = {r.url.rsplit("/", 1)[-1]: r.detail for r in store.outcome_records()}
    finally:
        store.close()
    assert detail["lavrov-broken"]["message"] == "HTTP 503" and detail["lavrov-tls"]["title"] == "Lavrov tls"


def test_articles_over_the_budget_are_listed_and_stay_pending(tmp_path):
    """A budget of one page: the other articles are reported as over the budget, and the next run still has them."""
    with SiteServer() as site:
        origin = site.origin
        articles = [f"{origin}/news/lavrov-{n}" for n in range(3)]
        site.route(f"{origin}/robots.txt", robots_txt())
        site.route(f"{origin}/", "<html><body><p>Alpha</p></body></html>")
        site.route(f"{origin}/feed.xml", rss_feed("Alpha", [{"url": url, "title": f"Lavrov {n}",
                                                             "published": "2021-07-16"}
                                                            for n, url in enumerate(articles)]))
        for n, url in enumerate(articles):
            site.route(url, article_page(f"Lavrov in Tashkent, part {n}", BODY, published="2021-07-16"))
        crawl("coverage", tmp_path / "archive", settings=LIVE,
              spider_args={"topic": str(topic(tmp_path / "t.toml", origin, "max_pages_per_outlet = 1\n"))})
    root = tmp_path / "archive" / "why"
    report = json.loads((root / "report.json").read_text())
    over = report["not_kept"]["outlets"]["alpha"]["reasons"]["over_budget"]
    assert report["totals"]["kept"] == 1 and report["totals"]["over_budget"] == 2 and len(over) == 2
    store = SqliteStore(root / "state.sqlite", read_only=True)
    try:
        assert sorted(e.url for e in store.pending() if e.kind == "article") == sorted(e["url"] for e in over)
    finally:
        store.close()
    assert "over the outlet's budget (2)" in html.unescape((root / "report.html").read_text())


def test_duplicates_name_their_original_by_outlet_and_title_linked(tmp_path):
    """A URL not kept as a duplicate links the text file it duplicates, shown as that article's outlet and title."""
    root = tmp_path / "topic"
    root.mkdir()
    (root / "manifest.jsonl").write_text(json.dumps({
        "file": "000_00000000000000aa.txt", "url": "https://a.test/original", "outlet": "Alpha Times",
        "outlet_slug": "alpha", "title": "Lavrov in Tashkent", "published": "2021-07-16", "words": 300}) + "\n")
    store = SqliteStore(root / "state.sqlite")
    store.record_outcome("https://a.test/copy", kind="article", outlet="alpha", outcome="duplicate",
                         detail={"duplicate_of": "000_00000000000000aa.txt", "how": "text", "title": "Copy"})
    store.record_outcome("javascript:alert(1)", kind="article", outlet="alpha", outcome="off_topic",
                         detail={"title": "<script>alert(1)</script> [x](javascript:1)", "score": 0.0})
    store.close()
    written = write_report(root)
    page, markdown = written["html"].read_text(), written["md"].read_text()
    assert '<a href="text/000_00000000000000aa.txt">Alpha Times: Lavrov in Tashkent</a>' in page
    assert "[Alpha Times: Lavrov in Tashkent](text/000_00000000000000aa.txt)" in markdown
    assert "same text as" in page and "<script>alert" not in page and 'href="javascript' not in page
    assert "](javascript" not in markdown.replace("\\](javascript", "")
