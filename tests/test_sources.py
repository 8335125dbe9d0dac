"""The report's sources: kept articles per outlet and source, archive events, failed captures with why."""

from __future__ import annotations

from crawler.sources import sources_markdown, sources_report


def test_articles_per_outlet_and_source_and_the_failed_captures():
    entries = [{"outlet_slug": "alpha", "source": "wayback"}, {"outlet_slug": "alpha", "source": "live"},
               {"outlet_slug": "alpha"}, {"outlet_slug": "gamma", "source": "commoncrawl"}]
    failed = [{"source": "commoncrawl", "outlet": "gamma", "url": "http://g.test/a", "why": "416: range not satisfiable"}]
    stats = {"archives/wayback/rate_limited": 2, "archives/failed_captures": failed, "coverage/alpha/kept": 3}
    report = sources_report(entries, stats)
    assert report["outlets"] == {"alpha": {"wayback": 1, "live": 2}, "gamma": {"commoncrawl": 1}}
    assert report["archives"] == {"wayback": {"rate_limited": 2}} and report["failed"] == failed
    text = sources_markdown({"sources": report})
    assert "| alpha | 0 | 2 | 1 |" in text and "wayback: rate_limited 2" in text
    assert "`http://g.test/a`: 416: range not satisfiable" in text


def test_a_live_only_archive_has_no_sources_section():
    report = sources_report([{"outlet_slug": "alpha", "source": "live"}], {})
    assert sources_markdown({"sources": report}) == ""
