"""Listing pages and site search: article links, link filtering, next pages, search URLs."""

from __future__ import annotations

from datetime import date

import pytest

from crawler.discovery.candidates import Candidate, DiscoveryError
from crawler.discovery.search import parse_search, positive_words, search_url
from crawler.discovery.sections import SectionPage, parse_section

HOSTS = {"www.themoscowtimes.com"}
PAGE = "https://www.themoscowtimes.com/news"

SECTION = """<!DOCTYPE html>
<html lang="en"><head>
  <meta charset="utf-8">
  <title>News - The Moscow Times</title>
  <link rel="canonical" href="https://www.themoscowtimes.com/news">
  <link rel="next" href="/news?page=2">
</head><body>
<header>
  <a href="/">Home</a> <a href="/news">News</a> <a href="/login">Log in</a>
  <a href="/account/sign-in-here-now">Sign in</a> <a href="/subscribe/digital-all-access">Subscribe</a>
  <a href="mailto:desk@themoscowtimes.com">Contact</a> <a href="javascript:void(0)">Menu</a>
  <a href="tel:+74951234567">Call</a>
</header>
<main>
  <article>
    <a href="/2021/07/16/lavrov-says-taliban-control-border-a74543?utm_source=homepage"><img src="/i/1.jpg" alt="Sergei Lavrov"></a>
    <h2><a href="/2021/07/16/lavrov-says-taliban-control-border-a74543">
        Lavrov Says Taliban
        Control   Two-Thirds of Afghan Border</a></h2>
    <a class="tag" href="/tag/afghanistan-war-news">Afghanistan</a>
    <a class="author" href="/authors/jane-doe-smith">Jane Doe</a>
    <a href="https://twitter.com/intent/tweet?url=https://www.themoscowtimes.com/2021/07/16/x">Share</a>
    <a href="/share/2021/07/16/lavrov-says-taliban-control-border-a74543">Share</a>
  </article>
  <article>
    <h2><a href="https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550#comments">Kabul Embassy Stays Open</a></h2>
    <a href="//www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550?fbclid=abc">Read more</a>
  </article>
  <article>
    <h2><a href="https://themoscowtimes.com/2021/07/15/moscow-hosts-afghan-delegation">Moscow Hosts Afghan Delegation</a></h2>
    <a href="/2021/07/15/moscow-hosts-afghan-delegation/amp/">AMP</a>
  </article>
  <a href="../opinion/2021/07/14/what-russia-wants-in-kabul">What Russia wants in Kabul</a>
  <a href="https://www.reuters.com/world/asia-pacific/russia-lavrov-taliban-2021-07-16/">Reuters story</a>
  <a href="/images/2021/07/16/lavrov-photo-main.jpg">Photo</a>
  <a href="/rss/news">RSS</a>
  <a href="/news">News again</a>
  <a href="/news?utm_source=self">This page</a>
  <a href="/news/page/2">2</a>
  <a href="/news/lavrov-afghan-talks-live-updates" title="Live: Lavrov talks"></a>
  <a href="/a12345"><span></span></a>
  <a href="/""" + "x" * 9000 + """-long-slug-story">Too long</a>
</main>
</body></html>
"""


def _urls(page: SectionPage) -> list[str]:
    return [c.url for c in page.candidates]


def test_section_keeps_article_links_only():
    page = parse_section(SECTION.encode(), PAGE, HOSTS)
    assert _urls(page) == [
        "https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543",
        "https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550",
        "https://themoscowtimes.com/2021/07/15/moscow-hosts-afghan-delegation",
        "https://www.themoscowtimes.com/2021/07/15/moscow-hosts-afghan-delegation/amp/",
        "https://www.themoscowtimes.com/opinion/2021/07/14/what-russia-wants-in-kabul",
        "https://www.themoscowtimes.com/news/lavrov-afghan-talks-live-updates",
        "https://www.themoscowtimes.com/a12345",
    ]
    assert all(c.via == "section" for c in page.candidates)


def test_section_titles_dates_and_first_title_wins():
    by_url = {c.url: c for c in parse_section(SECTION, PAGE, HOSTS).candidates}
    first = by_url["https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543"]
    assert first == Candidate(first.url, "section", title="Sergei Lavrov", published=date(2021, 7, 16))
    kabul = by_url["https://www.themoscowtimes.com/news/kabul-embassy-stays-open-a74550"]
    assert (kabul.title, kabul.published) == ("Kabul Embassy Stays Open", None)
    assert by_url["https://www.themoscowtimes.com/news/lavrov-afghan-talks-live-updates"].title == "Live: Lavrov talks"
    assert by_url["https://www.themoscowtimes.com/a12345"].title is None


def test_untitled_first_link_takes_a_later_title():
    html = """<a href="/2021/07/16/lavrov-story-here"></a><a href="/2021/07/16/lavrov-story-here">Lavrov
    story</a><a href="/2021/07/16/lavrov-story-here">Other text</a>"""
    page = parse_section(html, PAGE, HOSTS)
    assert [(c.url, c.title) for c in page.candidates] == [
        ("https://www.themoscowtimes.com/2021/07/16/lavrov-story-here", "Lavrov story")]


def test_rel_next_wins():
    assert parse_section(SECTION, PAGE, HOSTS).next_page == "https://www.themoscowtimes.com/news?page=2"


def test_older_posts_link():
    html = """<html><body>
      <a class="read-next" href="/2021/07/17/next-article-teaser-here">Next</a>
      <a href="/2021/07/16/a-story-about-lavrov">A story about Lavrov</a>
      <div class="nav-links"><a href="https://www.themoscowtimes.com/news/page/3/">Older posts</a></div>
    </body></html>"""
    page = parse_section(html, "https://www.themoscowtimes.com/news/page/2/", HOSTS)
    assert page.next_page == "https://www.themoscowtimes.com/news/page/3/"
    assert _urls(page) == ["https://www.themoscowtimes.com/2021/07/17/next-article-teaser-here",
                           "https://www.themoscowtimes.com/2021/07/16/a-story-about-lavrov"]


@pytest.mark.parametrize("anchor", [
    '<a href="/archive?p=2">Next page &raquo;</a>',
    '<a href="/archive?p=2">»</a>',
    '<a href="/archive?p=2" aria-label="Next page"><svg></svg></a>',
    '<a href="/archive?p=2" class="pagination__next"><i></i></a>',
    '<a href="/archive?p=2">More stories</a>',
    '<a href="/archive?p=2">  Older\n Entries </a>',
    '<a href="/archive?p=2">Далее</a>',
])
def test_next_link_recognized_by_text_label_or_class(anchor):
    html = f'<html><body><a href="/archive?p=0">« Previous</a>{anchor}</body></html>'
    page = parse_section(html, "https://www.themoscowtimes.com/archive?p=1", HOSTS)
    assert page.next_page == "https://www.themoscowtimes.com/archive?p=2"


def test_page_query_is_incremented_when_nothing_declares_a_next_page():
    html = '<a href="/2021/07/16/a-story-about-lavrov">A story about Lavrov</a>'
    page = parse_section(html, "https://www.themoscowtimes.com/search?q=lavrov&page=4", HOSTS)
    assert page.next_page == "https://www.themoscowtimes.com/search?page=5&q=lavrov"
    assert parse_section(html, "https://www.themoscowtimes.com/news/page/7", HOSTS).next_page == \
        "https://www.themoscowtimes.com/news/page/8"
    assert parse_section(html, PAGE, HOSTS).next_page is None


def test_next_page_out_of_scope_is_ignored():
    html = '<link rel="next" href="https://ads.example.net/next"><a href="https://ads.example.net/p2">Next</a>'
    assert parse_section(html, PAGE, HOSTS).next_page is None


def test_base_href_and_dot_segments():
    html = """<html><head><base href="https://www.themoscowtimes.com/archive/2021/"></head><body>
      <a href="../../news/2021/07/16/lavrov-speaks-in-tashkent">Lavrov speaks</a>
      <a href="07/16/lavrov-in-kabul-visit-story">Kabul</a></body></html>"""
    assert _urls(parse_section(html, PAGE, HOSTS)) == [
        "https://www.themoscowtimes.com/news/2021/07/16/lavrov-speaks-in-tashkent",
        "https://www.themoscowtimes.com/archive/2021/07/16/lavrov-in-kabul-visit-story",
    ]


def test_idn_outlet_host():
    html = '<a href="https://пример.рф/2021/07/16/lavrov-v-kabule">Лавров в Кабуле</a>'.encode()
    page = parse_section(html, "https://пример.рф/news", {"пример.рф"})
    assert [(c.url, c.title) for c in page.candidates] == [
        ("https://xn--e1afmkfd.xn--p1ai/2021/07/16/lavrov-v-kabule", "Лавров в Кабуле")]


def test_charset_declared_in_meta_is_honoured():
    html = ('<html><head><meta charset="windows-1251"></head><body>'
            '<a href="/2021/07/16/lavrov-story-here">Лавров</a>')
    page = parse_section(html.encode("cp1251"), PAGE, HOSTS)
    assert page.candidates[0].title == "Лавров"


def test_the_page_itself_is_not_a_candidate():
    url = "https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control-border-a74543/"
    html = (f'<a href="{url}?utm_source=x">Self</a><a href="{url}amp/">Self amp</a>'
            '<a href="/news/other-story-link-here">x</a>')
    assert _urls(parse_section(html, url, HOSTS)) == ["https://www.themoscowtimes.com/news/other-story-link-here"]


@pytest.mark.parametrize("body", [
    b"", "", b"   ", b"\x00\x00\x00", "<html><body><a href=", "<<<a href='/2021/07/16/a-b-c'>x</a",
    "<a href='/2021/07/16/lavrov-story-x'>ok<div></span></table>", "<?xml version='1.0' encoding='utf-8'?><html/>",
    b"\xff\xfe<\x00a\x00>\x00",
])
def test_malformed_html_never_raises(body):
    page = parse_section(body, PAGE, HOSTS)
    assert isinstance(page, SectionPage)


def test_empty_body_gives_an_empty_result():
    assert parse_section(b"", PAGE, HOSTS) == SectionPage(candidates=[], next_page=None)


# -- site search --

@pytest.mark.parametrize("query, words", [
    ("Lavrov AND Afghanistan", ["Lavrov", "Afghanistan"]),
    ('"Sergei Lavrov" AND (Afghanistan OR Taliban)', ["Sergei", "Lavrov", "Afghanistan", "Taliban"]),
    ("Lavrov AND Afghan* NOT Ukraine", ["Lavrov", "Afghan"]),
    ("Lavrov NOT (Ukraine OR (Syria AND Assad)) Kabul", ["Lavrov", "Kabul"]),
    ("Lavrov -Ukraine +Taliban", ["Lavrov", "Taliban"]),
    ("lavrov OR Lavrov", ["lavrov"]),
    ("Лавров AND Афганистан", ["Лавров", "Афганистан"]),
    ('"unclosed phrase AND more', ["unclosed", "phrase", "more"]),
    ("NOT", []),
])
def test_positive_words(query, words):
    assert positive_words(query) == words


def test_search_url_fills_placeholder():
    assert search_url("https://www.themoscowtimes.com/search?query={query}&sort=date",
                      '"Sergei Lavrov" AND (Afghanistan OR Taliban) NOT Ukraine') == \
        "https://www.themoscowtimes.com/search?query=Sergei+Lavrov+Afghanistan+Taliban&sort=date"
    assert search_url("https://ria.ru/search/?query={query}", "Лавров AND Кабул") == \
        "https://ria.ru/search/?query=%D0%9B%D0%B0%D0%B2%D1%80%D0%BE%D0%B2+%D0%9A%D0%B0%D0%B1%D1%83%D0%BB"
    assert search_url("https://example.com/s/{query}?q={query}", "a&b AND c/d") == \
        "https://example.com/s/a%26b+c%2Fd?q=a%26b+c%2Fd"


@pytest.mark.parametrize("template, query", [
    ("https://example.com/search?q=", "Lavrov"),
    ("https://example.com/search?q={q}", "Lavrov"),
    ("https://example.com/search?q={query}", "NOT Lavrov"),
    ("/search?q={query}", "Lavrov"),
    ("ftp://example.com/?q={query}", "Lavrov"),
])
def test_search_url_errors(template, query):
    with pytest.raises(DiscoveryError):
        search_url(template, query)


def test_parse_search_marks_candidates_as_search():
    html = """<ol class="results"><li><a href="/2021/07/16/lavrov-says-taliban-control">Lavrov says</a></li>
      <li><a href="/search?q=lavrov&page=2">2</a></li></ol>
      <a href="/search?q=lavrov&page=2" rel="next">Next</a>"""
    page = parse_search(html, "https://www.themoscowtimes.com/search?q=lavrov", HOSTS)
    assert page.candidates == [Candidate("https://www.themoscowtimes.com/2021/07/16/lavrov-says-taliban-control",
                                         "search", "Lavrov says", published=date(2021, 7, 16))]
    assert page.next_page == "https://www.themoscowtimes.com/search?page=2&q=lavrov"
