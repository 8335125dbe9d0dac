"""Feeds (RSS 2.0, Atom, RDF, broken ones) and feed autodiscovery."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.discovery.candidates import Candidate, DiscoveryError
from crawler.discovery.feeds import autodiscover_feeds, parse_feed

RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/">
<channel>
  <title>The Moscow Times - News</title>
  <link>https://www.themoscowtimes.com/</link>
  <description>Independent news from Russia</description>
  <item>
    <title>Lavrov Says Taliban Control Two-Thirds of Afghan Border</title>
    <link>https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543?utm_source=rss&amp;utm_medium=rss</link>
    <description><![CDATA[<p>Russian Foreign Minister <b>Sergei Lavrov</b> said on Friday&nbsp;that&hellip;</p><p>More.</p>]]></description>
    <pubDate>Fri, 16 Jul 2021 11:05:00 +0000</pubDate>
    <guid isPermaLink="false">74543</guid>
  </item>
  <item>
    <title>Kabul Embassy &amp; Staff Stay</title>
    <guid isPermaLink="true">https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550</guid>
    <pubDate>Sun, 18 Jul 2021 08:00:00 GMT</pubDate>
  </item>
  <item>
    <title>Relative link item</title>
    <link>/2021/07/17/relative-link-item-here</link>
  </item>
  <item><title>No link at all</title><description>nothing</description></item>
  <item><title>Mail link</title><link>mailto:desk@themoscowtimes.com</link></item>
</channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="en">
  <title>Meduza in English</title>
  <id>https://meduza.io/en</id>
  <updated>2021-07-17T10:00:00Z</updated>
  <link rel="self" href="https://meduza.io/rss/en/all"/>
  <entry>
    <title type="html">Lavrov &lt;em&gt;warns&lt;/em&gt; of spillover</title>
    <id>tag:meduza.io,2021:news/lavrov</id>
    <link rel="alternate" type="text/html" href="https://meduza.io/en/news/2021/07/16/lavrov-warns-of-spillover"/>
    <published>2021-07-16T21:30:00+03:00</published>
    <updated>2021-07-17T09:00:00+03:00</updated>
    <summary type="html">&lt;p&gt;The minister spoke in &lt;a href="/en/tashkent"&gt;Tashkent&lt;/a&gt;.&lt;/p&gt;</summary>
  </entry>
  <entry>
    <title>Only updated</title>
    <id>https://meduza.io/en/feature/2021/07/15/only-updated-entry</id>
    <updated>2021-07-15T08:00:00Z</updated>
  </entry>
</feed>
"""

RDF = b"""<?xml version="1.0" encoding="utf-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/"
         xmlns:dc="http://purl.org/dc/elements/1.1/">
  <channel rdf:about="https://www.kommersant.ru/RSS/news.xml">
    <title>Kommersant</title><link>https://www.kommersant.ru/</link><description>news</description>
    <items><rdf:Seq><rdf:li rdf:resource="https://www.kommersant.ru/doc/4904533"/></rdf:Seq></items>
  </channel>
  <item rdf:about="https://www.kommersant.ru/doc/4904533">
    <title>Lavrov on Afghanistan</title>
    <link>https://www.kommersant.ru/doc/4904533</link>
    <description>Sergei Lavrov commented on the situation.</description>
    <dc:date>2021-07-16T12:00:00+03:00</dc:date>
  </item>
</rdf:RDF>
"""

BROKEN_RSS = b"""<?xml version="1.0"?>
<rss version="2.0"><channel><title>Broken & unescaped</title>
  <item><title>First & only</title><link>https://example.com/2021/07/16/first-story-here</link>
  <pubDate>Fri, 16 Jul 2021 10:00:00 GMT</pubDate></item>
  <item><title>Second<link>https://example.com/2021/07/17/second-story-here</link></item>
"""

HTML_PAGE = b"""<!DOCTYPE html><html><head><title>Page not found</title></head>
<body><h1>404</h1><p>Sorry, <a href="/">go home</a>.</p></body></html>"""


def test_rss2_entries():
    entries = parse_feed(RSS, "https://www.themoscowtimes.com/rss/news")
    assert entries == [
        Candidate(
            "https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543", "feed",
            title="Lavrov Says Taliban Control Two-Thirds of Afghan Border",
            summary="Russian Foreign Minister Sergei Lavrov said on Friday that\u2026 More.",
            published=date(2021, 7, 16)),
        Candidate("https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550", "feed",
                  title="Kabul Embassy & Staff Stay", published=date(2021, 7, 18)),
        Candidate("https://www.themoscowtimes.com/2021/07/17/relative-link-item-here", "feed",
                  title="Relative link item", published=date(2021, 7, 17)),
    ]


def test_atom_entries():
    entries = parse_feed(ATOM, "https://meduza.io/rss/en/all")
    assert [(e.url, e.title, e.summary, e.published, e.via) for e in entries] == [
        ("https://meduza.io/en/news/2021/07/16/lavrov-warns-of-spillover", "Lavrov warns of spillover",
         "The minister spoke in Tashkent .", date(2021, 7, 16), "feed"),
        ("https://meduza.io/en/feature/2021/07/15/only-updated-entry", "Only updated", None, date(2021, 7, 15),
         "feed"),
    ]


def test_rdf_entries():
    entries = parse_feed(RDF, "https://www.kommersant.ru/RSS/news.xml")
    assert entries == [Candidate("https://www.kommersant.ru/doc/4904533", "feed", "Lavrov on Afghanistan",
                                 "Sergei Lavrov commented on the situation.", date(2021, 7, 16))]


def test_partially_broken_feed_still_yields_entries():
    entries = parse_feed(BROKEN_RSS, "https://example.com/feed")
    assert entries[0].url == "https://example.com/2021/07/16/first-story-here"
    assert entries[0].published == date(2021, 7, 16)


def test_valid_empty_feed_is_empty_not_an_error():
    body = b'<?xml version="1.0"?><rss version="2.0"><channel><title>x</title></channel></rss>'
    assert parse_feed(body, "https://example.com/feed") == []


@pytest.mark.parametrize("body", [
    HTML_PAGE, b"", b"\x00\x01garbage", b"{\"json\": true}", b"Service Unavailable",
    b'<?xml version="1.0"?><rss version="2.0"><channel><title>truncated',
])
def test_non_feed_bodies_are_discovery_errors(body):
    with pytest.raises(DiscoveryError) as raised:
        parse_feed(body, "https://example.com/feed.xml")
    assert "https://example.com/feed.xml" in str(raised.value)


def test_body_that_looks_like_a_path_or_url_is_never_opened():
    for body in (b"/etc/passwd", b"https://example.com/other-feed.xml", b"file:///etc/passwd"):
        try:
            result = parse_feed(body, "https://example.com/feed")
        except DiscoveryError as exc:
            assert "root:" not in str(exc)
        else:
            assert "root:" not in repr(result)


def test_xxe_feed_does_not_read_files():
    body = b"""<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
    <rss version="2.0"><channel><title>t</title><item><title>&xxe;</title>
    <link>https://example.com/2021/07/16/xxe-story-here</link><description>&xxe;</description></item></channel></rss>"""
    try:
        result = parse_feed(body, "https://example.com/feed")
    except DiscoveryError as exc:
        assert "root:" not in str(exc)
    else:
        assert "root:" not in repr(result)


# -- autodiscovery --

HOME = """<!DOCTYPE html>
<html><head>
  <meta charset="utf-8">
  <link rel="stylesheet" href="/main.css">
  <link rel="alternate" type="application/rss+xml" title="News" href="/rss/news">
  <link rel="Alternate" type="application/atom+xml; charset=utf-8" href="https://meduza.io/rss/en/all?utm_source=x">
  <link rel="alternate" type="application/rdf+xml" href="rdf.xml">
  <link rel="alternate" type="application/rss+xml" href="/rss/news#again">
  <link rel="alternate" hreflang="ru" href="https://meduza.io/ru">
  <link rel="alternate" type="application/rss+xml" href="javascript:void(0)">
  <link rel="alternate" type="application/json" href="/feed.json">
  <link rel="alternate stylesheet" type="text/css" href="/alt.css">
</head><body><p>Home</p></body></html>"""


def test_autodiscover_feeds():
    assert autodiscover_feeds(HOME.encode(), "https://meduza.io/en/") == [
        "https://meduza.io/rss/news",
        "https://meduza.io/rss/en/all",
        "https://meduza.io/en/rdf.xml",
    ]
    assert autodiscover_feeds(HOME, "https://meduza.io/en/") == ["https://meduza.io/rss/news",
                                                                 "https://meduza.io/rss/en/all",
                                                                 "https://meduza.io/en/rdf.xml"]


def test_autodiscover_respects_base_href_and_tolerates_junk():
    html = (b'<html><head><base href="https://cdn.example.com/x/">'
            b'<link rel=alternate type=application/rss+xml href=feed.xml>')
    assert autodiscover_feeds(html, "https://example.com/") == ["https://cdn.example.com/x/feed.xml"]
    assert autodiscover_feeds(b"", "https://example.com/") == []
    assert autodiscover_feeds(b"<<<>>>\x00", "https://example.com/") == []
