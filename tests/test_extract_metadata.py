"""Metadata from the one parsed tree: the same title, author and site name trafilatura's own reader gives, and
what the page says about its body."""

from __future__ import annotations

import lxml.html
import pytest

from pipelines.extract.metadata import article_body_words, ld_json_scripts, page_metadata
from tests.support.sites import article_page

URL = "https://www.example-news.com/2021/07/16/lavrov-afghanistan"
BODY = ["Russian Foreign Minister Sergei Lavrov said on Friday that the United States had failed in Afghanistan.",
        "Lavrov blamed the hasty withdrawal of American and NATO troops for the deterioration of security."]


@pytest.mark.parametrize("options", [dict(author="Jane Roe", site_name="Example News"),
                                     dict(author=None, site_name="example"), dict(paywalled=True)])
def test_page_metadata_is_trafilaturas(options):
    import trafilatura

    html = article_page("Lavrov Says U.S. Failed in Afghanistan", BODY, published="2021-07-16", canonical=URL,
                        **options)
    tree = lxml.html.document_fromstring(html)
    expected = trafilatura.extract_metadata(lxml.html.document_fromstring(html), default_url=URL)
    found = page_metadata(tree, URL, ld_json_scripts(tree))
    assert (found.title, found.author, found.sitename) == (expected.title, expected.author, expected.sitename)


def test_description_and_article_body():
    body = " ".join(BODY * 10)
    head = ('<meta property="og:description" content="Lavrov blames Washington.">'
            '<script type="application/ld+json">{"@graph": [{"@type": "WebPage"}, '
            f'{{"@type": "NewsArticle", "articleBody": "{body}"}}]}}</script>'
            '<script type="application/ld+json">{not json, "articleBody": </script>')
    tree = lxml.html.document_fromstring(f"<html><head><title>t</title>{head}</head><body><p>x</p></body></html>")
    found = page_metadata(tree, URL, ld_json_scripts(tree))
    assert found.description == "Lavrov blames Washington."
    assert found.body_words == len(body.split())
    assert article_body_words([]) == 0
