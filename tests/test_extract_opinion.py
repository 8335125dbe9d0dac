"""The second opinion: asked only on doubtful pages, followed only when two other methods agree against ours."""

from __future__ import annotations

from pipelines.extract import extract_article
from pipelines.extract.opinion import Signals, choose, doubts

URL = "https://money.example/2019/11/the-future-of-banking"
FIRST = [f"Paragraph {n} of the first half: the bank's new account pays nothing until the customer has been paid, "
         "and the fees arrive later, said the analysts who studied the offer." for n in range(1, 7)]
SECOND = [f"Paragraph {n} of the second half: the regulators asked how the company would earn money from people "
          "who have none, and got no answer by the deadline on Friday." for n in range(1, 7)]
DESCRIPTION = "How new fintech firms earn money from the customers who have none, and what regulators asked them."


def split_page(middle: str = "") -> str:
    """An article split in two containers by an ad column: trafilatura keeps the first half only."""
    return ("<html><head><title>The bank</title>"
            f"<meta property='og:description' content='{DESCRIPTION}'></head><body><main>"
            "<div class='article-body-component'>" + "".join(f"<p>{p}</p>" for p in FIRST) + "</div>"
            "<div class='rail'><p>Most popular</p></div>"
            "<div class='article-body-component'>" + "".join(f"<p>{p}</p>" for p in SECOND[:3]) + middle
            + "".join(f"<p>{p}</p>" for p in SECOND[3:]) + "</div></main></body></html>")


def test_an_article_split_by_an_ad_column_is_read_whole():
    import trafilatura

    bare = trafilatura.extract(split_page(), url=URL) or ""
    assert SECOND[0] not in bare  # what trafilatura alone keeps: the first half
    article = extract_article(split_page().encode(), URL)
    assert "low_coverage" in article.doubts and article.chosen != "ours"
    assert article.paragraphs == FIRST + SECOND


def test_prompt_removal_runs_on_the_chosen_text():
    appeal = ("<p>We have a small favor to ask. Your support keeps our journalism free for everyone.</p>"
              "<p>Support us</p>")
    article = extract_article(split_page(appeal).encode(), URL)
    assert article.chosen != "ours" and article.paragraphs == FIRST + SECOND


def test_a_page_that_fits_asks_no_second_opinion():
    body = FIRST + SECOND
    html = ("<html><head><title>The bank</title></head><body><article><h1>The bank</h1>"
            + "".join(f"<p>{p}</p>" for p in body) + "</article></body></html>")
    article = extract_article(html.encode(), URL)
    assert article.doubts == [] and article.chosen == "ours" and article.paragraphs == body


def test_doubts():
    ours = FIRST + SECOND
    words = sum(len(p.split()) for p in ours)
    assert doubts(ours, Signals(page_words=words)) == []
    assert doubts(ours, Signals(page_words=words * 2)) == ["low_coverage"]
    assert doubts(ours, Signals(page_words=int(words / 1.5))) == ["high_coverage"]
    elsewhere = "How a Wyoming town rebuilt its library after the flood of 2018 with the help of volunteers."
    assert doubts(ours, Signals(page_words=words, description=elsewhere)) == ["description_missing"]
    assert doubts(ours, Signals(page_words=words, description=FIRST[0][:120])) == []
    assert doubts(ours, Signals(page_words=words, body_words=words * 2)) == ["short_of_article_body"]
    teasers = ["- Rams top Bears as offenses struggle", "- Playoff picture: Raiders in pursuit",
               "- Pats place Olszewski on IR"]
    assert doubts(ours + teasers, Signals(page_words=words)) == ["link_list"]
    assert doubts([], Signals(page_words=40)) == []  # too little on the page to judge by coverage


def test_choose_follows_two_methods_that_agree_against_ours():
    teasers = ["- Rams top Bears as offenses struggle in a game of few chances",
               "- Playoff picture: Raiders in pursuit of the Chiefs after Sunday"]
    ours = FIRST + teasers
    assert choose(ours, FIRST, " ".join(FIRST), None) == (FIRST, "readability")
    # readability alone, jusText disagreeing: ours stays
    assert choose(ours, FIRST, " ".join(SECOND), None) == (ours, "ours")
    # readability agrees with ours: nothing to change
    assert choose(FIRST, FIRST, " ".join(FIRST), None) == (FIRST, "ours")
    # an empty readability result never replaces ours
    assert choose(ours, [], " ".join(FIRST), None) == (ours, "ours")


def test_choose_takes_the_page_paragraphs_when_they_extend_ours_as_readability_does():
    whole = FIRST + SECOND
    assert choose(FIRST, FIRST[2:] + SECOND, "", whole) == (whole, "paragraphs")
    assert choose(FIRST, FIRST, "", whole) == (FIRST, "ours")  # readability sides with ours
