"""CDX answers of both dialects, read as the archives send them; Common Crawl's collections chosen by their crawl
periods; the query URLs in each dialect's syntax."""

from __future__ import annotations

import json
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest

from crawler.discovery.candidates import DiscoveryError
from crawler.discovery.cdx import (Collection, Dialect, capture_datetime, cdx_query_url, choose_collections, collapse,
                                   parse_cdx, parse_collinfo, parse_num_pages, parse_wayback_url, wayback_raw_url)

# The Internet Archive's answer to output=json: a header row, then rows; a revisit has status "-".
IA_ANSWER = json.dumps([
    ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"],
    ["com,themoscowtimes)/2021/07/16/lavrov-a74534", "20210716093512",
     "https://www.themoscowtimes.com/2021/07/16/lavrov-a74534", "text/html", "200", "2F5N3LBO6GYKZ7CJ", "14219"],
    ["com,themoscowtimes)/2021/07/16/lavrov-a74534", "20210716120000",
     "http://www.themoscowtimes.com/2021/07/16/lavrov-a74534", "warc/revisit", "-", "2F5N3LBO6GYKZ7CJ", "1012"],
    ["com,themoscowtimes)/news/old", "20210717000000", "https://www.themoscowtimes.com/news/old", "text/html",
     "301", "3I42H3S6NNFQ2MSV", "512"],
]).encode()
# Common Crawl's index (pywb's dialect): one JSON object per line.
CC_ANSWER = b"\n".join(json.dumps(line).encode() for line in [
    {"urlkey": "com,themoscowtimes)/2021/07/16/lavrov-a74534", "timestamp": "20210724150533",
     "url": "https://www.themoscowtimes.com/2021/07/16/lavrov-a74534", "mime": "text/html",
     "mime-detected": "text/html", "status": "200", "digest": "ABCDEFGHIJKLMNOP", "length": "17215",
     "offset": "873162451", "filename": "crawl-data/CC-MAIN-2021-31/segments/1627046150266.65/warc/"
                                        "CC-MAIN-20210724125655-20210724155655-00071.warc.gz",
     "languages": "eng", "encoding": "UTF-8"},
    {"urlkey": "com,themoscowtimes)/news/old", "timestamp": "20210725000000",
     "url": "https://www.themoscowtimes.com/news/old", "mime": "unk", "status": "301",
     "redirect": "https://www.themoscowtimes.com/2021/07/16/lavrov-a74534", "digest": "QRSTUVWXYZ234567",
     "length": "640", "offset": "12", "filename": "crawl-data/x.warc.gz"},
]) + b"\n"


def test_the_internet_archive_dialect():
    page = parse_cdx(IA_ANSWER)
    assert page.malformed == 0
    first, revisit, redirect = page.captures
    assert (first.url, first.timestamp, first.status, first.mime, first.length) == (
        "https://www.themoscowtimes.com/2021/07/16/lavrov-a74534", "20210716093512", "200", "text/html", 14219)
    assert first.is_page and not revisit.is_page  # a revisit is no page of its own
    assert redirect.is_redirect and redirect.is_page
    assert parse_cdx(b"[]").captures == []


def test_the_pywb_and_common_crawl_dialect():
    page = parse_cdx(CC_ANSWER)
    capture, redirect = page.captures
    assert (capture.offset, capture.length) == (873162451, 17215)
    assert capture.filename.endswith("-00071.warc.gz")
    assert redirect.redirect == "https://www.themoscowtimes.com/2021/07/16/lavrov-a74534"
    assert parse_cdx(b"").captures == []
    assert parse_cdx(b"No Captures found for: example.org/*").captures == []  # Common Crawl's 404 body


def test_malformed_lines_are_counted_and_skipped():
    broken = CC_ANSWER + b'{"urlkey": "com,x)/", "timest\n' + b"<html>oops</html>\n"
    page = parse_cdx(broken)
    assert len(page.captures) == 2 and page.malformed == 2
    rows = json.loads(IA_ANSWER) + [["too", "short"], ["k", "notatime", "http://a/", "text/html", "200", "d", "1"]]
    page = parse_cdx(json.dumps(rows).encode())
    assert len(page.captures) == 3 and page.malformed == 2
    with pytest.raises(DiscoveryError):
        parse_cdx(b"<html><body>Service unavailable</body></html>")
    with pytest.raises(DiscoveryError):
        parse_cdx(b'[{"not": "rows"}]')


def test_collapse_keeps_the_earliest_capture_per_url_key_and_a_page_over_a_redirect():
    captures = [c for c in parse_cdx(IA_ANSWER).captures + parse_cdx(CC_ANSWER).captures if c.is_page]
    kept = collapse(captures)
    assert sorted((c.url.split("/")[-1], c.timestamp) for c in kept) == [
        ("lavrov-a74534", "20210716093512"), ("old", "20210717000000")]


def test_page_counts_of_both_dialects():
    assert parse_num_pages(b"7\n") == 7
    assert parse_num_pages(b'{"pages": 3, "pageSize": 5, "blocks": 14}\n') == 3
    assert parse_num_pages(CC_ANSWER) == 1  # a server that does not page answers the captures
    assert parse_num_pages(b"") == 1


def test_query_urls_speak_each_dialect():
    ia = parse_qs(urlsplit(cdx_query_url("https://web.archive.org/cdx/search/cdx", "themoscowtimes.com", Dialect.IA,
                                         date(2021, 7, 10), date(2021, 8, 31), page=2)).query)
    assert ia["matchType"] == ["domain"] and ia["from"] == ["20210710"] and ia["to"] == ["20210831235959"]
    assert ia["collapse"] == ["urlkey"] and ia["page"] == ["2"] and ia["output"] == ["json"]
    assert ia["filter"] == ["statuscode:(200|301|302|303|307|308)"]  # a full-match regex there
    cc = parse_qs(urlsplit(cdx_query_url("http://i/CC-MAIN-2021-31-index", "themoscowtimes.com", Dialect.PYWB,
                                         None, None, num_pages=True)).query)
    assert cc["filter"] == ["~status:(200|301|302|303|307|308)$"] and cc["showNumPages"] == ["true"]
    assert "collapse" not in cc and "from" not in cc


def test_common_crawl_collections_overlapping_the_window_or_following_it():
    body = json.dumps([
        {"id": "CC-MAIN-2021-43", "cdx-api": "http://i/CC-MAIN-2021-43-index", "from": "2021-10-15T00:00:00",
         "to": "2021-10-28T00:00:00"},
        {"id": "CC-MAIN-2021-39", "cdx-api": "http://i/CC-MAIN-2021-39-index", "from": "2021-09-16T00:00:00",
         "to": "2021-09-29T00:00:00"},
        {"id": "CC-MAIN-2021-31", "cdx-api": "http://i/CC-MAIN-2021-31-index", "from": "2021-07-23T00:00:00",
         "to": "2021-08-05T00:00:00"},
        {"id": "CC-MAIN-2021-25", "cdx-api": "http://i/CC-MAIN-2021-25-index", "from": "2021-06-12T00:00:00",
         "to": "2021-06-25T00:00:00"},
        {"id": "CC-MAIN-2020-50", "cdx-api": "http://i/CC-MAIN-2020-50-index", "from": "2020-11-23T00:00:00",
         "to": "2020-12-06T00:00:00"},
        {"id": "no-api"},
    ]).encode()
    collections = parse_collinfo(body)
    assert len(collections) == 5
    chosen = choose_collections(collections, date(2021, 7, 10), date(2021, 7, 20), after_days=42)
    assert [c.id for c in chosen] == ["CC-MAIN-2021-31"]  # the window has no crawl; the next one holds it
    wider = choose_collections(collections, date(2021, 6, 20), date(2021, 7, 20), after_days=70)
    assert [c.id for c in wider] == ["CC-MAIN-2021-39", "CC-MAIN-2021-31", "CC-MAIN-2021-25"]
    assert [c.id for c in choose_collections(collections, None, None, 42)] == ["CC-MAIN-2021-43"]
    with pytest.raises(DiscoveryError):
        parse_collinfo(b"<html>")


def test_many_collections_are_never_all_queried():
    collections = [Collection(f"C{n}", f"http://i/C{n}", date(2000 + n // 12, n % 12 + 1, 1),
                              date(2000 + n // 12, n % 12 + 1, 14)) for n in range(240)]
    assert len(choose_collections(collections, date(2000, 1, 1), None, 42)) == 12


def test_wayback_urls_and_timestamps():
    url = wayback_raw_url("https://web.archive.org/web/", "20210716093512", "https://example.org/a?b=1")
    assert url == "https://web.archive.org/web/20210716093512id_/https://example.org/a?b=1"
    assert parse_wayback_url(url) == ("20210716093512", "https://example.org/a?b=1")
    assert parse_wayback_url("http://127.0.0.1:8080/news/20210718120005/https://www.beta.test/x") == (
        "20210718120005", "https://www.beta.test/x")
    assert parse_wayback_url("https://example.org/a") is None
    assert capture_datetime("2021").isoformat() == "2021-01-01T00:00:00+00:00"
    assert capture_datetime("20210716093512").isoformat() == "2021-07-16T09:35:12+00:00"


def test_archived_feeds_and_sitemaps_are_listings_not_pages():
    def capture(url, mime="application/rss+xml", status="200"):
        return parse_cdx(json.dumps([["timestamp", "original", "mimetype", "statuscode"],
                                     ["20210715000000", url, mime, status]]).encode()).captures[0]
    assert capture("https://a.test/feed").is_listing and not capture("https://a.test/feed").is_page
    assert capture("https://a.test/rss/news.xml", "text/xml").is_listing
    assert capture("https://a.test/sitemap-news.xml", "application/xml").is_listing
    assert capture("https://a.test/sitemaps/2021-07-sitemap.xml.gz", "application/x-gzip").is_listing
    assert not capture("https://a.test/2021/07/16/feeding-the-hungry", "text/html").is_listing
    assert not capture("https://a.test/feed", status="404").is_listing
