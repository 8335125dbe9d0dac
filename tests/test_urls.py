"""URL normal form, canonical article URLs, scope, private hosts and URL-shape heuristics."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings, strategies as st

from crawler.topic import Outlet
from crawler.urls import (
    TRACKING_PARAMS, canonical_url, date_from_url, host_of, in_scope, is_private_host, looks_like_article,
    month_from_url, normalize_url, same_host, www_twin,
)


# -- normalize_url --

@pytest.mark.parametrize("raw, expected", [
    ("HTTP://WWW.Example.COM/News/Story", "http://www.example.com/News/Story"),
    ("  https://example.com/a\n", "https://example.com/a"),
    ("https://example.com/a#comments", "https://example.com/a"),
    ("http://example.com:80/a", "http://example.com/a"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("http://example.com:8080/a", "http://example.com:8080/a"),
    ("https://example.com", "https://example.com/"),
    ("https://example.com/a/b/../c/./d", "https://example.com/a/c/d"),
    ("https://example.com/a?b=2&a=1", "https://example.com/a?a=1&b=2"),
    ("https://example.com./a", "https://example.com/a"),
    ("https://example.com/caf\u00e9", "https://example.com/caf%C3%A9"),
    ("https://example.com/a?", "https://example.com/a"),
])
def test_normalize_basic_forms(raw, expected):
    assert normalize_url(raw) == expected


def test_normalize_strips_tracking_params_and_keeps_the_rest_sorted():
    url = ("https://www.example.com/world/story?utm_source=twitter&utm_medium=social&id=7&fbclid=IwAR0x"
           "&gclid=abc&mc_cid=1&mc_eid=2&ocid=msn&cmpid=rss&ref=hp&ref_src=twsrc&at_medium=RSS"
           "&at_campaign=KARANGA&_ga=2.1&yclid=9&igshid=x&spm=a.b&UTM_Campaign=z&page=2")
    assert normalize_url(url) == "https://www.example.com/world/story?id=7&page=2"


def test_tracking_param_list_covers_the_documented_names():
    for name in ("fbclid", "gclid", "mc_cid", "mc_eid", "ocid", "cmpid", "ref", "ref_src", "ref_url", "_ga",
                 "yclid", "igshid", "spm"):
        assert name in TRACKING_PARAMS
        assert normalize_url(f"https://example.com/a?{name}=1") == "https://example.com/a"


def test_tracking_duplicates_collapse_to_one_url():
    variants = [
        "https://example.com/2021/07/16/lavrov-taliban-talks/",
        "https://example.com/2021/07/16/lavrov-taliban-talks/?utm_source=rss&utm_medium=feed",
        "https://EXAMPLE.com:443/2021/07/16/lavrov-taliban-talks/?fbclid=abc#top",
        "https://example.com/2021/07/16/x/../lavrov-taliban-talks/?at_medium=RSS&at_campaign=KARANGA",
    ]
    assert len({normalize_url(v) for v in variants}) == 1


def test_relative_links_resolve_against_base_with_dot_segments():
    base = "https://www.example.com/world/europe/index.html"
    assert normalize_url("../asia/story-one-two", base) == "https://www.example.com/world/asia/story-one-two"
    assert normalize_url("../../../../x", base) == "https://www.example.com/x"
    assert normalize_url("/abs/path", base) == "https://www.example.com/abs/path"
    assert normalize_url("//cdn.example.com/a", base) == "https://cdn.example.com/a"
    assert normalize_url("?page=2", base) == "https://www.example.com/world/europe/index.html?page=2"


def test_idn_host_becomes_punycode():
    assert normalize_url("https://пример.рф/новости") == \
        "https://xn--e1afmkfd.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"
    assert normalize_url("http://Bücher.DE/") == "http://xn--bcher-kva.de/"
    assert host_of("https://пример.рф/") == "xn--e1afmkfd.xn--p1ai"


@pytest.mark.parametrize("raw", [
    "mailto:desk@example.com", "javascript:void(0)", "JavaScript:alert(1)", "data:text/html,<b>x</b>",
    "tel:+15551234", "file:///etc/passwd", "ftp://example.com/file", "about:blank", "",
    "   ", "/relative/without/base", "//example.com/no-scheme", "http://", "http:///path", "http://[::1/",
    "http://example.com:99999/", "http://exa mple.com/", "http://exa<mple.com/",
])
def test_normalize_rejects_non_http_and_unparsable(raw):
    assert normalize_url(raw) is None


def test_non_http_links_stay_rejected_with_a_base():
    base = "https://example.com/"
    assert normalize_url("mailto:a@example.com", base) is None
    assert normalize_url("javascript:void(0)", base) is None


def test_overlong_urls_are_rejected():
    long_url = "https://example.com/" + "a" * 9000
    assert len(long_url) > 8192
    assert normalize_url(long_url) is None
    assert normalize_url("https://example.com/" + "a" * 8000) is not None
    assert normalize_url("/" + "b" * 9000, "https://example.com/") is None


def test_non_string_input_gives_none():
    assert normalize_url(None) is None  # type: ignore[arg-type]


@settings(max_examples=600, deadline=None)
@given(st.text())
def test_normalize_never_raises_and_is_idempotent(text):
    first = normalize_url(text)
    if first is not None:
        assert normalize_url(first) == first


_url_parts = st.tuples(
    st.sampled_from(["http", "https", "HTTP", "ftp", "mailto"]),
    st.sampled_from(["example.com", "WWW.Example.com", "пример.рф", "amp.example.com", "127.0.0.1:80",
                     "[::1]:443", "example.com:8080", "", "a..b"]),
    st.text(alphabet="/.ampritAMP-_%?&=#0123456789abcé ", max_size=40),
)


@settings(max_examples=600, deadline=None)
@given(_url_parts, st.one_of(st.none(), st.just("https://www.example.com/a/b/c")))
def test_normalize_and_canonical_are_idempotent_on_url_like_text(parts, base):
    scheme, host, rest = parts
    raw = f"{scheme}://{host}/{rest}"
    first = normalize_url(raw, base)
    if first is not None:
        assert normalize_url(first) == first
    key = canonical_url(raw)
    assert canonical_url(key) == key


@settings(max_examples=400, deadline=None)
@given(st.text(), st.text(max_size=30))
def test_url_helpers_never_raise_on_arbitrary_text(text, host):
    canonical_url(text)
    host_of(text)
    in_scope(text, {host, "example.com"})
    is_private_host(text)
    looks_like_article(text)
    date_from_url(text)
    month_from_url(text)
    normalize_url(text, base=host)


# -- canonical_url --

@pytest.mark.parametrize("variant", [
    "https://www.example.com/2021/07/16/lavrov-talks/",
    "https://www.example.com/2021/07/16/lavrov-talks/amp/",
    "https://www.example.com/amp/2021/07/16/lavrov-talks/",
    "https://www.example.com/2021/07/16/lavrov-talks/?amp",
    "https://www.example.com/2021/07/16/lavrov-talks/?amp=1",
    "https://www.example.com/2021/07/16/lavrov-talks/?outputType=amp",
    "https://www.example.com/2021/07/16/lavrov-talks/print/",
    "https://www.example.com/print/2021/07/16/lavrov-talks/",
    "https://www.example.com/2021/07/16/lavrov-talks/?print=1",
    "https://www.example.com/2021/07/16/lavrov-talks/?view=print",
    "https://www.example.com/2021/07/16/lavrov-talks/?utm_source=x&amp=1#x",
    "https://www.example.com/2021/07/16/x/../lavrov-talks/amp/?fbclid=y",
])
def test_amp_and_print_variants_share_one_canonical_url(variant):
    assert canonical_url(variant) == "https://www.example.com/2021/07/16/lavrov-talks/"


def test_amp_variants_without_trailing_slash_and_with_suffix():
    assert canonical_url("https://example.com/news/story-a/amp") == "https://example.com/news/story-a"
    assert canonical_url("https://example.com/news/story-a.amp.html") == "https://example.com/news/story-a.html"
    assert canonical_url("https://example.com/news/story-a.amp") == "https://example.com/news/story-a"
    assert canonical_url("https://amp.example.com/news/story-a") == "https://example.com/news/story-a"
    assert canonical_url("https://amp.dev/about") == "https://amp.dev/about"


def test_canonical_keeps_meaningful_query_and_other_hosts():
    assert canonical_url("https://example.com/story?id=12&amp=1") == "https://example.com/story?id=12"
    assert canonical_url("https://example.com/story?view=full") == "https://example.com/story?view=full"
    assert canonical_url("https://example.com/story?outputType=html") == "https://example.com/story?outputType=html"
    assert canonical_url("https://example.com/champions-league") == "https://example.com/champions-league"
    assert canonical_url("https://example.com/printing-press-history") == "https://example.com/printing-press-history"


def test_canonical_of_unnormalizable_input_is_the_stripped_input():
    assert canonical_url("  not a url ") == "not a url"


# -- host_of / in_scope / is_private_host --

def test_host_of():
    assert host_of("https://WWW.Example.com:443/x") == "www.example.com"
    assert host_of("http://example.com:8080/x") == "example.com:8080"
    assert host_of("http://[::1]:81/") == "[::1]:81"
    assert host_of("/relative") == ""


def test_in_scope_with_www_twins_and_ports():
    assert in_scope("https://example.com/a", {"www.example.com"})
    assert in_scope("https://www.example.com/a", {"example.com"})
    assert in_scope("https://WWW.EXAMPLE.COM/a", ["Example.com"])
    assert not in_scope("https://news.example.com/a", {"example.com"})
    assert not in_scope("https://example.com.evil.net/a", {"example.com"})
    assert not in_scope("https://www.example.com@evil.net/a", {"www.example.com"})
    assert in_scope("http://127.0.0.1:8080/a", {"127.0.0.1:8080"})
    assert not in_scope("http://127.0.0.1:9090/a", {"127.0.0.1:8080"})
    assert in_scope("https://пример.рф/a", {"xn--e1afmkfd.xn--p1ai"})
    assert in_scope("https://xn--e1afmkfd.xn--p1ai/a", {"пример.рф"})
    assert not in_scope("mailto:x@example.com", {"example.com"})
    assert not in_scope("ftp://example.com/file", {"example.com"})
    assert in_scope("https://example.com/a", {"https://www.example.com/"})
    assert not in_scope("https://example.com/a", set())


@pytest.mark.parametrize("host, twin", [
    ("example.com", "www.example.com"), ("www.example.com", "example.com"),
    ("news.example.com", "www.news.example.com"),
    ("example.com:8080", "www.example.com:8080"), ("www.example.com:8080", "example.com:8080"),
    ("localhost", None), ("www.localhost", None), ("localhost:8080", None),
    ("127.0.0.1", None), ("127.0.0.1:8080", None), ("www.127.0.0.1", None), ("127.1", None),
    ("[::1]", None), ("[::1]:8080", None), ("[::ffff:1.2.3.4]", None),
])
def test_www_twin(host, twin):
    assert www_twin(host) == twin


def test_one_twin_rule_for_outlet_hosts_scope_and_robots_redirects():
    """The outlet's hosts, the scope check and the robots.txt redirect check agree on which hosts are twins: a
    single-label host or an IP literal has none (each once had its own rule, and they disagreed on these)."""
    outlet = Outlet(name="Local", url="http://www.localhost:8080/")
    assert outlet.hosts == frozenset({"www.localhost:8080"})
    assert not in_scope("http://localhost:8080/a", outlet.hosts)
    assert not in_scope("http://www.127.0.0.1:8080/a", {"127.0.0.1:8080"})
    assert not same_host("http://www.localhost/robots.txt", "http://localhost/robots.txt")
    assert not same_host("http://www.10.0.0.1/robots.txt", "http://10.0.0.1/robots.txt")
    assert Outlet(name="Site", url="https://example.com:8443/").hosts == frozenset(
        {"example.com:8443", "www.example.com:8443"})
    assert in_scope("https://www.example.com:8443/a", {"example.com:8443"})
    assert same_host("https://www.example.com/robots.txt", "http://example.com/robots.txt")


@pytest.mark.parametrize("url, private", [
    ("http://127.0.0.1/", True), ("http://127.1/", True), ("http://2130706433/", True),
    ("http://0x7f000001/", True), ("http://10.0.0.5/", True), ("http://192.168.1.1:8080/", True),
    ("http://172.16.0.1/", True), ("http://169.254.169.254/latest/meta-data", True), ("http://0.0.0.0/", True),
    ("http://[::1]/", True), ("http://[fe80::1]/", True), ("http://[fc00::1]/", True),
    ("http://[::ffff:127.0.0.1]/", True), ("http://localhost/", True), ("http://LOCALHOST:8000/", True),
    ("http://api.localhost/", True), ("http://240.0.0.1/", True),
    ("http://8.8.8.8/", False), ("https://www.example.com/", False), ("http://[2606:4700::1111]/", False),
    ("https://10.example.com/", False),
])
def test_is_private_host(url, private):
    assert is_private_host(url) is private


# -- looks_like_article --

@pytest.mark.parametrize("url", [
    "https://www.example.com/2021/07/16/lavrov-afghanistan/",
    "https://www.example.com/2021/07/16/story",
    "https://www.example.com/news/lavrov-says-taliban-control",
    "https://www.example.com/lavrov-says-taliban-control-most-of-border",
    "https://www.example.com/a12345",
    "https://www.example.com/world/story-123456.html",
    "https://www.example.com/news/1234567",
    "https://www.bbc.com/news/world-asia-57861234",
    "https://ria.ru/20210716/afganistan-1741745741.html",
    "https://www.rbc.ru/politics/16/07/2021/60f1a4c19a7947a51e5e5d2a",
    "https://www.aljazeera.com/news/2021/7/16/lavrov-warns",
    "https://www.example.com/article/0c9bd4b7-58c6-4a1a-9a1e-3c2f1f3b8e10",
    "https://www.theguardian.com/world/2021/jul/16/lavrov-taliban",
    "https://www.npr.org/sections/world/2021/07/16/1016987654/lavrov",
])
def test_looks_like_article_accepts_article_shapes(url):
    assert looks_like_article(url)


@pytest.mark.parametrize("url", [
    "https://www.example.com/",
    "https://www.example.com/world",
    "https://www.example.com/about",
    "https://www.example.com/world/europe",
    "https://www.example.com/tag/afghanistan",
    "https://www.example.com/tags/lavrov-afghanistan-talks",
    "https://www.example.com/topic/afghanistan-war-news",
    "https://www.example.com/author/john-smith-jones",
    "https://www.example.com/authors/jane-doe",
    "https://www.example.com/category/world-news-today",
    "https://www.example.com/section/world",
    "https://www.example.com/login?next=/2021/07/16/a",
    "https://www.example.com/account/sign-in-here",
    "https://www.example.com/subscribe/digital-all-access",
    "https://www.example.com/register",
    "https://www.example.com/share/2021/07/16/some-story-here",
    "https://www.example.com/2021/07/16/some-story-here/feed/",
    "https://www.example.com/news/some-story-here/comments",
    "https://www.example.com/rss",
    "https://www.example.com/search/lavrov-afghanistan-talks",
    "https://www.example.com/news/page/2",
    "https://www.example.com/page/3/",
    "https://www.example.com/images/2021/07/16/lavrov-photo-main.jpg",
    "https://www.example.com/static/app-bundle-main.js",
    "https://www.example.com/docs/annual-report-2021-final.pdf",
    "https://www.example.com/sitemap-2021-07.xml",
    "https://www.example.com/2021/07/",
    "mailto:desk@example.com",
])
def test_looks_like_article_rejects_non_articles(url):
    assert not looks_like_article(url)


# -- dates in URLs --

@pytest.mark.parametrize("url, expected", [
    ("https://example.com/2021/07/16/story", date(2021, 7, 16)),
    ("https://example.com/news/2021/7/6/story", date(2021, 7, 6)),
    ("https://example.com/2021-07-16/story", date(2021, 7, 16)),
    ("https://www.reuters.com/world/lavrov-says-talks-2021-07-16/", date(2021, 7, 16)),
    ("https://ria.ru/20210716/afganistan-1741745741.html", date(2021, 7, 16)),
    ("https://www.rbc.ru/politics/16/07/2021/60f1a4c19a7947a51e5e5d2a", date(2021, 7, 16)),
    ("https://example.com/2021/07/16", date(2021, 7, 16)),
    ("https://www.theguardian.com/world/2021/jul/16/lavrov-taliban", date(2021, 7, 16)),
    ("https://example.com/2021/September/03/story", date(2021, 9, 3)),
])
def test_date_from_url(url, expected):
    assert date_from_url(url) == expected


@pytest.mark.parametrize("url", [
    "https://example.com/2021/07/",
    "https://example.com/2021/07/story-slug",
    "https://example.com/1990/07/16/too-early",
    "https://example.com/2021/13/16/bad-month",
    "https://example.com/2021/02/30/bad-day",
    "https://example.com/news/12345678",
    "https://example.com/politics/05/07/2021/ambiguous-day-month",
    "https://example.com/story?date=2021-07-16",
    "https://example.com/2021/\u00b2/16/superscript-is-no-digit",
    "https://example.com/",
])
def test_date_from_url_none(url):
    assert date_from_url(url) is None


@pytest.mark.parametrize("url, expected", [
    ("https://example.com/sitemap-2021-07.xml", (2021, 7)),
    ("https://example.com/2021/07/sitemap.xml", (2021, 7)),
    ("https://example.com/sitemap_202107.xml", (2021, 7)),
    ("https://example.com/sitemaps/news-2021-7.xml.gz", (2021, 7)),
    ("https://example.com/sitemap-20210716.xml", (2021, 7)),
    ("https://example.com/sitemap.xml?yyyy=2021&mm=07", (2021, 7)),
    ("https://example.com/sitemap.xml", None),
    ("https://example.com/post-sitemap2.xml", None),
    ("https://example.com/sitemap-2021.xml", None),
    ("https://example.com/sitemap-2021-13.xml", None),
])
def test_month_from_url(url, expected):
    assert month_from_url(url) == expected


def test_addresses_that_are_not_global_are_private():
    from crawler.urls import is_private_address

    for address in ("100.100.100.200", "100.64.0.1", "2002:7f00:1::", "2002:a9fe:a9fe::", "fec0::1",
                    "::ffff:169.254.169.254", "192.0.2.1", "224.0.0.1", "0.0.0.0"):
        assert is_private_address(address), address
    for address in ("8.8.8.8", "93.184.216.34", "2606:4700::1111"):
        assert not is_private_address(address), address
