"""Sitemaps, sitemap indexes and robots.txt: parsing, window pruning and hostile XML."""

from __future__ import annotations

import gzip
from datetime import date

import pytest

from crawler.discovery.candidates import Candidate, ChildSitemap, DiscoveryError
from crawler.discovery.robots import sitemaps_from_robots
from crawler.discovery.sitemaps import MAX_SITEMAP_BYTES, child_may_hold_window, child_recency, parse_sitemap

NEWS_SITEMAP = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:news="http://www.google.com/schemas/sitemap-news/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>
      https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543
    </loc>
    <lastmod>2021-07-17T09:12:00+03:00</lastmod>
    <image:image>
      <image:loc>https://static.themoscowtimes.com/image/lavrov.jpg</image:loc>
      <image:title>Not the article title</image:title>
    </image:image>
    <news:news>
      <news:publication>
        <news:name>The Moscow Times</news:name>
        <news:language>en</news:language>
      </news:publication>
      <news:publication_date>2021-07-16T14:05:00+03:00</news:publication_date>
      <news:title>Lavrov Says Taliban Control Two-Thirds of Afghan Border</news:title>
    </news:news>
  </url>
  <url>
    <loc>https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550?utm_source=sitemap</loc>
    <news:news>
      <news:publication><news:name>The Moscow Times</news:name><news:language>en</news:language></news:publication>
      <news:publication_date>2021-07-18</news:publication_date>
      <news:title><![CDATA[Russia's Kabul Embassy &amp; Staff Stay]]></news:title>
    </news:news>
  </url>
  <url>
    <loc>https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550</loc>
  </url>
  <url><loc>mailto:editor@themoscowtimes.com</loc></url>
  <url><loc>   </loc></url>
</urlset>
"""

PREFIXED_SITEMAP = b"""<?xml version="1.0"?>
<sm:urlset xmlns:sm="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:n="http://www.google.com/schemas/sitemap-news/0.9">
  <sm:url>
    <sm:loc>https://tass.com/world/1315235</sm:loc>
    <sm:lastmod>2021-07-16</sm:lastmod>
    <n:news><n:publication_date>2021-07-15T23:50:00Z</n:publication_date><n:title>Lavrov in Tashkent</n:title></n:news>
  </sm:url>
</sm:urlset>
"""

LASTMOD_ONLY = b"""<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/world/lavrov-afghan-talks</loc><lastmod>2021-07-20</lastmod></url>
  <url><loc>https://example.com/2021/07/14/lavrov-in-dushanbe</loc><lastmod>2023-01-02</lastmod></url>
  <url><loc>https://example.com/world/undated-story-here</loc></url>
</urlset>
"""

SITEMAP_INDEX = b"""<?xml version="1.0" encoding="UTF-8"?>
<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <sitemap><loc>https://example.com/sitemap-2021-06.xml</loc><lastmod>2021-06-30T22:00:00+00:00</lastmod></sitemap>
  <sitemap><loc>https://example.com/sitemap-2021-07.xml</loc><lastmod>2021-07-31T22:00:00+00:00</lastmod></sitemap>
  <sitemap><loc> /sitemap-2021-08.xml </loc></sitemap>
  <sitemap><loc>https://example.com/sitemap-news.xml</loc><lastmod>2024-03-01</lastmod></sitemap>
  <sitemap><loc>https://example.com/sitemap-2021-07.xml</loc></sitemap>
</sitemapindex>
"""

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [
  <!ENTITY lol "lol">
  <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
  <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
  <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
  <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
  <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
  <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
  <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
  <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
  <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">
  <url><loc>https://example.com/&lol9;</loc><news:title xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">&lol9;</news:title></url>
</urlset>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">
  <url><loc>https://example.com/leak?data=&xxe;</loc>
    <news:news><news:publication_date>2021-07-16</news:publication_date><news:title>&xxe;</news:title></news:news>
  </url>
</urlset>
"""

XXE_PARAMETER = b"""<?xml version="1.0"?>
<!DOCTYPE urlset [ <!ENTITY % remote SYSTEM "file:///etc/passwd"> %remote; ]>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://example.com/a</loc></url></urlset>
"""

EXTERNAL_DTD = b"""<?xml version="1.0"?>
<!DOCTYPE urlset SYSTEM "file:///etc/passwd">
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>https://example.com/2021/07/16/a-b-c</loc></url></urlset>
"""


def _everything(result) -> str:
    return repr(result)


# -- urlsets --

def test_google_news_sitemap_entries():
    result = parse_sitemap(NEWS_SITEMAP, "https://www.themoscowtimes.com/sitemap_news.xml")
    assert result.children == []
    assert result.entries == [
        Candidate(
            url="https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543",
            via="sitemap", title="Lavrov Says Taliban Control Two-Thirds of Afghan Border",
            published=date(2021, 7, 16), lastmod=date(2021, 7, 17)),
        Candidate(
            url="https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550",
            via="sitemap", title="Russia's Kabul Embassy & Staff Stay", published=date(2021, 7, 18)),
    ]


def test_namespace_prefixes_do_not_matter():
    result = parse_sitemap(PREFIXED_SITEMAP, "https://tass.com/sitemap.xml")
    assert result.entries == [Candidate("https://tass.com/world/1315235", "sitemap", "Lavrov in Tashkent",
                                        published=date(2021, 7, 15), lastmod=date(2021, 7, 16))]


def test_published_falls_back_to_url_date_and_lastmod_is_kept_apart():
    entries = parse_sitemap(LASTMOD_ONLY, "https://example.com/sitemap.xml").entries
    assert [(e.url, e.published) for e in entries] == [
        ("https://example.com/world/lavrov-afghan-talks", None),
        ("https://example.com/2021/07/14/lavrov-in-dushanbe", date(2021, 7, 14)),
        ("https://example.com/world/undated-story-here", None),
    ]
    talks = entries[0]
    assert talks.lastmod == date(2021, 7, 20)
    # modified after the window's start: it may have been published inside it, so it is not skipped
    assert not talks.outside(date(2021, 7, 10), date(2021, 7, 15))
    # last modified before the window began: it cannot be an article published inside it
    assert talks.outside(date(2021, 7, 21), None)
    assert all(e.title is None and e.summary is None for e in entries)


def test_gzipped_sitemap_detected_by_magic_bytes_not_url():
    body = gzip.compress(NEWS_SITEMAP)
    result = parse_sitemap(body, "https://www.themoscowtimes.com/sitemap/news")
    assert len(result.entries) == 2
    assert parse_sitemap(NEWS_SITEMAP, "https://www.themoscowtimes.com/sitemap.xml.gz").entries == result.entries


def test_gzip_bomb_is_refused():
    bomb = gzip.compress(b"<urlset>" + b" " * (MAX_SITEMAP_BYTES + 10) + b"</urlset>")
    assert len(bomb) < MAX_SITEMAP_BYTES // 100
    with pytest.raises(DiscoveryError, match="beyond"):
        parse_sitemap(bomb, "https://example.com/sitemap.xml.gz")


def test_corrupt_gzip_is_a_discovery_error():
    with pytest.raises(DiscoveryError, match="https://example.com/s.gz"):
        parse_sitemap(b"\x1f\x8b\x08\x00garbage-not-deflate", "https://example.com/s.gz")


def test_uncompressed_oversize_is_refused():
    with pytest.raises(DiscoveryError, match="larger"):
        parse_sitemap(b" " * (MAX_SITEMAP_BYTES + 1), "https://example.com/sitemap.xml")


def test_plain_text_sitemap():
    body = (b"\xef\xbb\xbfhttps://example.com/2021/07/16/first-story-here\r\n\n"
            b"  https://example.com/news/second-story-here?utm_source=x  \n"
            b"not a url\nhttps://example.com/news/second-story-here\n")
    entries = parse_sitemap(body, "https://example.com/sitemap.txt").entries
    assert [(e.url, e.published) for e in entries] == [
        ("https://example.com/2021/07/16/first-story-here", date(2021, 7, 16)),
        ("https://example.com/news/second-story-here", None),
    ]


def test_rss_served_as_sitemap_is_read_as_entries():
    rss = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>
      <item><title>Lavrov visit</title><link>https://example.com/2021/07/16/lavrov-visit-story</link></item>
    </channel></rss>"""
    entries = parse_sitemap(rss, "https://example.com/sitemap-feed.xml").entries
    assert [(e.url, e.via, e.title) for e in entries] == [
        ("https://example.com/2021/07/16/lavrov-visit-story", "sitemap", "Lavrov visit")]


# -- sitemap indexes --

def test_sitemap_index_children_with_lastmod():
    result = parse_sitemap(SITEMAP_INDEX, "https://example.com/sitemap_index.xml")
    assert result.entries == []
    assert result.children == [
        ChildSitemap("https://example.com/sitemap-2021-06.xml", date(2021, 6, 30)),
        ChildSitemap("https://example.com/sitemap-2021-07.xml", date(2021, 7, 31)),
        ChildSitemap("https://example.com/sitemap-2021-08.xml", None),
        ChildSitemap("https://example.com/sitemap-news.xml", date(2024, 3, 1)),
    ]


def test_child_window_pruning_on_monthly_index():
    children = parse_sitemap(SITEMAP_INDEX, "https://example.com/sitemap_index.xml").children
    since, until = date(2021, 7, 10), date(2021, 7, 25)
    kept = [c.url for c in children if child_may_hold_window(c, since, until)]
    assert kept == ["https://example.com/sitemap-2021-07.xml", "https://example.com/sitemap-news.xml"]


@pytest.mark.parametrize("child, since, until, expected", [
    (ChildSitemap("https://e.com/sitemap.xml"), date(2021, 7, 1), date(2021, 7, 31), True),
    (ChildSitemap("https://e.com/sitemap.xml", date(2021, 6, 1)), date(2021, 7, 1), None, False),
    (ChildSitemap("https://e.com/sitemap.xml", date(2021, 7, 1)), date(2021, 7, 1), None, True),
    (ChildSitemap("https://e.com/sitemap.xml", date(2030, 1, 1)), date(2021, 7, 1), date(2021, 7, 31), True),
    (ChildSitemap("https://e.com/sitemap-2021-06.xml"), date(2021, 6, 30), date(2021, 7, 31), True),
    (ChildSitemap("https://e.com/sitemap-2021-06.xml"), date(2021, 7, 1), None, False),
    (ChildSitemap("https://e.com/sitemap-2021-08.xml"), None, date(2021, 7, 31), False),
    (ChildSitemap("https://e.com/sitemap-2021-08.xml"), None, date(2021, 8, 1), True),
    (ChildSitemap("https://e.com/2021/02/sitemap.xml"), date(2021, 2, 28), date(2021, 2, 28), True),
    (ChildSitemap("https://e.com/sitemap_202107.xml"), None, None, True),
])
def test_child_may_hold_window(child, since, until, expected):
    assert child_may_hold_window(child, since, until) is expected


# -- hostile and broken input --

@pytest.mark.timeout(10)
def test_billion_laughs_is_not_expanded():
    try:
        result = parse_sitemap(BILLION_LAUGHS, "https://example.com/sitemap.xml")
    except DiscoveryError as exc:
        assert "example.com/sitemap.xml" in str(exc)
        return
    assert "lollollol" not in _everything(result)


@pytest.mark.parametrize("body", [XXE, XXE_PARAMETER, EXTERNAL_DTD, gzip.compress(XXE)])
def test_xxe_never_reads_local_files(body):
    try:
        result = parse_sitemap(body, "https://example.com/sitemap.xml")
    except DiscoveryError as exc:
        assert "root:" not in str(exc)
        return
    assert "root:" not in _everything(result)


def test_entity_declarations_are_refused():
    with pytest.raises(DiscoveryError, match="entities"):
        parse_sitemap(XXE, "https://example.com/sitemap.xml")


@pytest.mark.parametrize("body, message", [
    (b"<urlset><url><loc>https://example.com/a</loc></url>", "malformed"),
    (b"<urlset><url><loc>https://example.com/a</url></urlset>", "malformed"),
    (b"<?xml version='1.0'?><html><body><p>Not found</p></body></html>", "not a sitemap"),
    (b"<!DOCTYPE html><html><head><meta charset=utf-8><title>404</title></head><body><br></body></html>",
     "malformed"),
    (b"", "empty"),
    (b"  \n\t ", "empty"),
    (b"\x00\x01\x02binary junk", "neither"),
])
def test_malformed_input_is_a_discovery_error_naming_the_url(body, message):
    with pytest.raises(DiscoveryError, match=message) as raised:
        parse_sitemap(body, "https://example.com/broken-sitemap.xml")
    assert "https://example.com/broken-sitemap.xml" in str(raised.value)


# -- robots.txt --

ROBOTS = b"""# robots.txt for www.themoscowtimes.com
User-agent: *
Disallow: /search
Disallow: /account/

User-agent: GPTBot
Disallow: /

Sitemap: https://www.themoscowtimes.com/sitemap_index.xml
sitemap: /sitemap_news.xml
SITEMAP:   https://WWW.themoscowtimes.com:443/sitemap_index.xml#dup
Sitemap: mailto:webmaster@themoscowtimes.com
Sitemap: https://static.themoscowtimes.com/sitemaps/2021/07/sitemap.xml?utm_source=robots
"""


def test_sitemaps_from_robots():
    assert sitemaps_from_robots(ROBOTS, "https://www.themoscowtimes.com/robots.txt") == [
        "https://www.themoscowtimes.com/sitemap_index.xml",
        "https://www.themoscowtimes.com/sitemap_news.xml",
        "https://static.themoscowtimes.com/sitemaps/2021/07/sitemap.xml",
    ]


def test_robots_without_sitemaps_or_garbage():
    assert sitemaps_from_robots(b"User-agent: *\nDisallow:\n", "https://example.com/robots.txt") == []
    assert sitemaps_from_robots(b"\xff\xfe\x00<html>", "https://example.com/robots.txt") == []
    assert sitemaps_from_robots(b"", "https://example.com/robots.txt") == []


# -- streaming with the window and a cap (bounded discovery) --

def _big_urlset(count: int) -> bytes:
    rows = "".join(f"<url><loc>https://example.com/2021/0{1 + n % 9}/15/story-{n}</loc></url>" for n in range(count))
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{rows}</urlset>'.encode()


def test_window_is_applied_while_streaming():
    result = parse_sitemap(_big_urlset(900), "https://example.com/s.xml", since=date(2021, 7, 1),
                           until=date(2021, 7, 31))
    assert len(result.entries) == 100 and result.skipped_urls == 800
    assert all(e.published == date(2021, 7, 15) for e in result.entries)


def test_the_first_entries_dated_outside_are_named_with_their_dates():
    """The report lists which articles a sitemap dated outside the window; past SKIPPED_NAMED they are counted."""
    from crawler.discovery.sitemaps import SKIPPED_NAMED

    result = parse_sitemap(_big_urlset(900), "https://example.com/s.xml", since=date(2021, 7, 1),
                           until=date(2021, 7, 31))
    assert len(result.skipped) == 800 <= SKIPPED_NAMED
    assert result.skipped[0].url == "https://example.com/2021/01/15/story-0"
    assert result.skipped[0].published == date(2021, 1, 15) and result.skipped[0].via == "sitemap"
    many = parse_sitemap(_big_urlset(SKIPPED_NAMED * 2), "https://example.com/s.xml", since=date(2021, 7, 1),
                         until=date(2021, 7, 31))
    assert len(many.skipped) == SKIPPED_NAMED < many.skipped_urls


def test_urls_past_the_cap_are_counted_not_returned():
    result = parse_sitemap(gzip.compress(_big_urlset(1000)), "https://example.com/s.xml.gz", max_urls=250)
    assert len(result.entries) == 250 and result.cut_urls == 750


def test_plain_text_sitemap_obeys_window_and_cap():
    body = "\n".join(f"https://example.com/2021/07/{10 + n % 20:02d}/s{n}" for n in range(100)).encode()
    result = parse_sitemap(body, "https://example.com/s.txt", since=date(2021, 7, 10), until=date(2021, 7, 19),
                           max_urls=20)
    assert len(result.entries) == 20 and result.cut_urls + result.skipped_urls == 80


def test_daily_child_sitemap_outside_the_window_is_skipped():
    inside = ChildSitemap("https://example.com/sitemap-2021-07-16.xml")
    after = ChildSitemap("https://example.com/sitemap-2021-08-05.xml")
    assert child_may_hold_window(inside, date(2021, 7, 10), date(2021, 7, 20))
    assert not child_may_hold_window(after, date(2021, 7, 10), date(2021, 7, 20))


def test_children_sort_newest_first_by_lastmod_or_name():
    children = [ChildSitemap("https://example.com/s-2020-01.xml"), ChildSitemap("https://example.com/other.xml"),
                ChildSitemap("https://example.com/x.xml", lastmod=date(2021, 7, 3))]
    ordered = sorted(children, key=child_recency, reverse=True)
    assert [c.url for c in ordered] == ["https://example.com/x.xml", "https://example.com/s-2020-01.xml",
                                        "https://example.com/other.xml"]
