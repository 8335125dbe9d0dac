"""Prompt removal, layer 1: elements the page's markup names as prompts, judged by whole names."""

from __future__ import annotations

from collections import Counter

import lxml.html
import pytest

from pipelines.domcues import names_a_prompt, name_parts, paywall_marked, prompt_elements, strip_prompt_elements
from pipelines.extract import extract_article

STORY = ["Russian Foreign Minister Sergei Lavrov said on Friday that the United States had failed in Afghanistan.",
         "Lavrov blamed the hasty withdrawal of American and NATO troops for the deterioration of security.",
         "Taliban insurgents have captured a swath of districts and border crossings in recent weeks."]


def tree(body: str) -> lxml.html.HtmlElement:
    return lxml.html.document_fromstring(f"<html><head><title>t</title></head><body>{body}</body></html>")


def article(*inserts: str) -> str:
    paragraphs = [f"<p>{p}</p>" for p in STORY]
    return "<article><h1>Lavrov</h1>" + paragraphs[0] + "".join(inserts) + "".join(paragraphs[1:]) + "</article>"


def remaining_text(html: str) -> str:
    document = tree(html)
    strip_prompt_elements(document)
    return " ".join(document.text_content().split())


# -- layer 1: DOM cues --

@pytest.mark.parametrize("box", [
    '<div class="contribution-form" data-block="support-us"><p>Support us</p><p>Donate $5 today</p></div>',
    '<aside class="inline-newsletter"><p>Get our newsletter</p><input type="email"></aside>',
    '<div id="cookie-consent" class="cookie-banner" role="dialog"><p>We use cookies.</p></div>',
    '<div class="share-buttons"><a>Share on Facebook</a></div>',
    '<section class="related-articles"><h3>Read more</h3><a>Another story</a></section>',
    '<div class="ad-slot" data-ad-unit="top"><p>Advertisement</p></div>',
    '<div class="PremiumBanner_container"><p>Get Premium</p></div>',
    '<form action="/subscribe"><p>Your e-mail address</p><button>Go</button></form>',
    '<dialog open><p>Before you go</p></dialog>',
])
def test_dom_cues_remove_the_box_and_keep_the_story(box):
    text = remaining_text(article(box))
    assert all(p in text for p in STORY)
    for word in ("Support us", "newsletter", "cookies", "Share on", "Read more", "Advertisement", "Premium",
                 "e-mail", "Before you go"):
        assert word not in text


def test_cue_words_inside_other_words_do_not_match():
    html = article('<div class="download-header shadowed loaded"><p>A caption that stays.</p></div>')
    assert "A caption that stays." in remaining_text(html)


def test_an_element_holding_the_article_is_never_removed():
    html = '<div class="paywall-wrapper">' + article() + "</div>"
    assert all(p in remaining_text(html) for p in STORY)


# -- paywall markers --

def test_paywall_markers():
    ld = '<script type="application/ld+json">{"@type": "NewsArticle", "isAccessibleForFree": false}</script>'
    assert paywall_marked(tree(ld + article()))
    wall = '<div class="paywall"><p>Subscribe to continue reading.</p></div>'
    assert paywall_marked(tree(article(wall)))
    assert not paywall_marked(tree(article()))
    assert not paywall_marked(tree(article('<div class="paywall-styles"></div>')))




# -- whole names --

@pytest.mark.parametrize("name", [
    "newsletter", "inline-newsletter", "newsletter-signup-short-form", "c-newsletter__form--wide", "share-buttons",
    "article-share", "share-facebook", "c-social-icons", "related-posts-wrapper", "rp4wp-related-posts", "ad-slot-2",
    "PromoSmall", "MostPopular", "PremiumBanner_container", "cookie-banner", "m-privacy-consent", "div-gpt-ad-top",
    "taboola-below-article", "modal-window", "recommended-stories-title", "ump-subscription-list",
])
def test_names_of_prompts(name):
    assert any(names_a_prompt(parts) for parts in name_parts(name))


@pytest.mark.parametrize("name", [
    "non-paywall", "paywall-free", "ad-free", "no-ads", "has-ads", "is-premium", "social-media-embed",
    "premium-content", "subscriber-content", "download-header", "shadowed", "loaded", "leading", "header-adjust",
    "article-body", "story-text", "broadcast", "sharepoint-note", "advertorial-disclaimer",
])
def test_names_that_only_contain_a_cue(name):
    assert not any(names_a_prompt(parts) for parts in name_parts(name))


def test_a_non_paywall_lead_is_kept():
    """``non-paywall`` (the free lead above a wall) is no paywall: the lead is the article's first paragraphs."""
    lead, rest = STORY[:1], STORY[1:] + [f"{p} Officials confirmed it on Saturday." for p in STORY[1:]]
    html = ("<html><head><title>Lavrov</title></head><body><article><h1>Lavrov</h1>"
            '<div class="non-paywall">' + "".join(f"<p>{p}</p>" for p in lead) + "</div>"
            '<div class="paywall"><p>Subscribe to continue reading.</p></div>'
            + "".join(f"<p>{p}</p>" for p in rest) + "</article></body></html>")
    found = extract_article(html.encode(), "https://news.example/2021/07/16/lavrov")
    assert found.paragraphs == lead + rest
    assert found.paywalled


def test_an_article_section_in_an_ad_container_is_kept():
    """Several long paragraphs, none a call to action, are article text even when their container carries an ad
    class (sites wrap the text between inline ads in one), and even below half of the page's text."""
    long = [p + " " + p + " " + p for p in STORY]  # over the prose length
    html = article() + '<div class="content-ad-wrapper">' + "".join(f"<p>{p}</p>" for p in long) + "</div>"
    html += "<div>" + "".join(f"<p>{p.upper()} {p.upper()}</p>" for p in STORY * 3) + "</div>"
    assert all(p in remaining_text(html) for p in long)
    promo = '<div class="ad-wrapper"><p>Advertisement</p><p>Sponsored: the best hotels in Dubai</p></div>'
    assert "Sponsored" not in remaining_text(article(promo))


def test_prompt_elements_are_outermost_and_in_order():
    document = tree(article('<div class="share-bar"><div class="share-facebook">f</div></div>',
                            '<div class="newsletter-box"><p>Get our newsletter</p></div>'))
    found = prompt_elements(document)
    assert [element.get("class") for element in found] == ["share-bar", "newsletter-box"]


@pytest.mark.parametrize("furniture", [
    '<div class="modal-overlay"><p>Before you go: get our newsletter.</p></div>',
    '<div class="like-buttons"><a>Like</a><a>Share</a></div>',
    '<div class="popup"><p>Turn on notifications</p><button>Allow</button></div>',
])
def test_dom_removal_never_lowers_recall_against_the_unmodified_page(furniture):
    """Of the article's words, ours keeps at least as many as trafilatura keeps from the untouched page."""
    import trafilatura

    body = [f"{p} It was the {n}th statement of the kind this month, officials said." for n, p in
            enumerate(STORY * 3, start=1)]
    html = ("<html><head><title>Lavrov</title></head><body>" + furniture + "<main><article><h1>Lavrov</h1>"
            + "".join(f"<p>{p}</p>" for p in body[:4]) + furniture
            + "".join(f"<p>{p}</p>" for p in body[4:]) + "</article></main></body></html>")
    url = "https://news.example/2021/07/16/lavrov"
    words = Counter(" ".join(body).split())
    recall = lambda text: sum((Counter(text.split()) & words).values()) / sum(words.values())  # noqa: E731
    ours = extract_article(html.encode(), url)
    assert recall(ours.text) >= recall(trafilatura.extract(html, url=url) or "") > 0.9
    assert ours.paragraphs == body


# -- hidden copies of the body --

BODY = [f"{p} It was the {n}th statement of the kind this month, officials in Moscow and Kabul said on Friday."
        for n, p in enumerate(STORY * 2, start=1)]


@pytest.mark.parametrize("hiding", ['style="display: none"', "hidden", 'aria-hidden="true"',
                                    'style="visibility:hidden"'])
def test_a_hidden_copy_of_the_body_is_dropped(hiding):
    """A schema.org or AMP copy of the body, hidden, is extracted with the visible one unless it goes first."""
    visible = "".join(f"<p>{p}</p>" for p in BODY)
    copy = f'<div itemprop="articleBody" {hiding}>' + "".join(f"<p>{p}</p>" for p in BODY) + "</div>"
    html = (f"<html><head><title>Lavrov</title></head><body><main><article><h1>Lavrov</h1>{visible}</article>"
            f"{copy}</main></body></html>")
    found = extract_article(html.encode(), "https://news.example/2021/07/16/lavrov")
    assert found.paragraphs == BODY
    document = lxml.html.document_fromstring(html)
    strip_prompt_elements(document)
    assert " ".join(document.text_content().split()).count(BODY[0]) == 1


def test_a_hidden_copy_in_one_block_is_dropped():
    """The copy as one block of text (a schema.org ``articleBody`` without paragraphs) is no repeat of any one
    paragraph: only its being hidden and shown elsewhere tells it."""
    visible = "".join(f"<p>{p}</p>" for p in BODY)
    copy = '<div itemprop="articleBody" style="display:none">' + " ".join(BODY) + "</div>"
    html = (f"<html><head><title>Lavrov</title></head><body><main><article><h1>Lavrov</h1>{visible}{copy}"
            "</article></main></body></html>")
    assert extract_article(html.encode(), "https://news.example/2021/07/16/lavrov").paragraphs == BODY


def test_a_hidden_body_that_is_the_only_copy_stays():
    """An article behind a "read more" switch is hidden until clicked: it is the text, not a copy."""
    html = ('<html><head><title>Lavrov</title></head><body><article><h1>Lavrov</h1><p>' + BODY[0] + "</p>"
            '<div class="rest" style="display:none">' + "".join(f"<p>{p}</p>" for p in BODY[1:]) + "</div>"
            "</article></body></html>")
    document = lxml.html.document_fromstring(html)
    assert strip_prompt_elements(document) == 0
    assert all(p in document.text_content() for p in BODY)


# -- related-content blocks, by their structure --

TEASERS = "".join(f'<article><a href="/2021/07/{n}/story"><img src="/{n}.jpg"></a><h3><a href="/2021/07/{n}/story">'
                  f"{headline}</a></h3><p>{line}</p></article>" for n, (headline, line) in enumerate([
                      ("Taliban take border crossing with Pakistan", "The group says it now holds the Spin Boldak post."),
                      ("Uzbekistan hosts regional summit on trade", "Leaders met in Tashkent to discuss new routes."),
                      ("NATO allies debate the next steps in Kabul", "Diplomats say the embassy will stay open."),
                      ("Oil prices climb as supply talks stall", "Brent crude rose for a third day on Friday."),
                  ]))


def test_a_block_of_teasers_without_class_names_goes():
    """"You may also like": several sibling teasers of one shape (a headline link, a line), nothing in their
    names; the article stays."""
    html = ("<html><head><title>Lavrov</title></head><body><main><article><h1>Lavrov</h1>"
            + "".join(f"<p>{p}</p>" for p in BODY) + f"</article><section><h2>You may also like</h2>{TEASERS}"
            "</section></main></body></html>")
    document = lxml.html.document_fromstring(html)
    strip_prompt_elements(document)
    text = document.text_content()
    assert "Spin Boldak" not in text and "Brent crude" not in text
    assert all(p in text for p in BODY)
    assert extract_article(html.encode(), "https://news.example/2021/07/16/lavrov").paragraphs == BODY


def test_lists_of_sentences_and_long_sections_stay():
    items = "".join(f'<li>{p} (<a href="/source/{n}">source</a>)</li>' for n, p in enumerate(STORY))
    sections = "".join(f'<section><h2><a href="#part-{n}">Part {n} of the story</a></h2><p>{p} {p} {p}</p></section>'
                       for n, p in enumerate(BODY[:4]))
    html = f"<article><h1>Lavrov</h1><p>{BODY[0]}</p><ul>{items}</ul>{sections}</article>"
    document = tree(html)
    strip_prompt_elements(document)
    text = document.text_content()
    assert all(p in text for p in STORY) and all(p in text for p in BODY[:4])
