"""Prompt removal, layers 2 and 3 (text cues language by language, site memory), on realistic snippets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipelines.prompts import SiteMemory, clean_paragraphs, is_call_to_action, paragraph_key, without_repeats

STORY = ["Russian Foreign Minister Sergei Lavrov said on Friday that the United States had failed in Afghanistan.",
         "Lavrov blamed the hasty withdrawal of American and NATO troops for the deterioration of security.",
         "Taliban insurgents have captured a swath of districts and border crossings in recent weeks."]


# -- layer 2: text cues, per language --

@pytest.mark.parametrize("paragraph", [
    # English
    "Read more: Russia Says 'Hasty Withdrawal' Put Afghanistan at Risk",
    "We have a small favor to ask. Independent journalism costs money; please support us today.",
    "Support us", "Remind me later.", "Already a subscriber? Log in", "Sign up for our free weekly newsletter.",
    "Visa, Mastercard, PayPal", "Photo: Reuters", "We use cookies to improve your experience on our site.",
    "You've read 3 of 5 free articles this month.",
    # German
    "Lesen Sie auch: Lawrow kritisiert den Abzug", "Unterstützen Sie unabhängigen Journalismus!", "Jetzt abonnieren",
    "Foto: dpa",
    # French
    "Lire aussi : Lavrov critique le retrait américain", "Soutenez notre rédaction indépendante.", "Abonnez-vous",
    "Déjà abonné ? Connectez-vous",
    # Spanish
    "Lee también: Lavrov critica la retirada", "Apoya el periodismo independiente.", "Suscríbete",
    "Ya eres suscriptor? Inicia sesión",
    # Russian
    "Читайте также: Лавров раскритиковал США", "Поддержите независимую журналистику!", "Подписаться",
    "Фото: ТАСС", "Подпишитесь на наш телеграм-канал",
])
def test_calls_to_action(paragraph):
    assert is_call_to_action(paragraph)


@pytest.mark.parametrize("paragraph", [
    "Russia said it would support the talks between the Afghan government and the Taliban.",
    "The minister said subscribers to the service in Kabul had been affected by the outage.",
    "Lavrov said Moscow would not donate weapons, but would help its allies defend their borders.",
    "Deutschland werde die Gespräche unterstützen, sagte der Minister am Freitag in Berlin.",
    "La France soutiendra les pourparlers, a déclaré le ministre vendredi.",
    "España apoya el diálogo entre las partes, dijo el ministro el viernes en Madrid.",
    "Россия поддержит переговоры между правительством Афганистана и движением Талибан, заявил Лавров.",
    "- Sign up for a Hulu account for $11.99 a month",
    "Read more about the agreement signed in Doha in February 2020 on the State Department's website, he said, "
    "adding that the text was public and that every party had committed to it in front of witnesses.",
])
def test_news_sentences_stay(paragraph):
    assert not is_call_to_action(paragraph)


@pytest.mark.parametrize("paragraph", [
    # an interview answer that names an offer once
    "Well, what we learned is that readers do not want unlimited access to everything. They want the one story "
    "that matters to them, told well, and they will come back for it if we earn their trust over many years, "
    "which is why we stopped counting page views in 2017.",
    # news about a privacy policy, a paywall, a newsletter: no call to action
    "Facebook changed its privacy policy on Tuesday after regulators in Brussels objected to the way it shared "
    "data with WhatsApp.",
    "The newspaper said its newsletter had reached a million inboxes, and that it would keep the paywall in place.",
    # a long report that quotes an appeal once
    "The campaign, which urged readers to \"support independent journalism\", raised $2 million from 40,000 people "
    "in a month, more than the paper had expected when it launched its membership programme in 2019, its editor "
    "told the annual meeting of shareholders in London on Thursday afternoon.",
])
def test_a_cue_phrase_in_article_text_is_no_call_to_action(paragraph):
    assert not is_call_to_action(paragraph)


@pytest.mark.parametrize("paragraph", [
    "Get unlimited digital access for just $1 a month.",
    "Your support helps us report on the war. Every contribution, big or small, keeps our journalism free and open "
    "to everyone, wherever they are.",
    "Please consider supporting us: we are reader-funded, and every donation, however small, keeps this journalism "
    "open to all. Become a member today and get unlimited access to our archive, our newsletters and our events, "
    "for just $5 a month.",
    "Sign up for our newsletter to get the best of our journalism in your inbox every morning, before anyone else.",
])
def test_calls_to_action_by_their_shape(paragraph):
    assert is_call_to_action(paragraph)


def test_an_appeal_takes_its_widget_along():
    widget = ["Support The Moscow Times!", "… we have a small favor to ask. As you may have heard, The Moscow Times "
              "has been branded a foreign agent. Your support, no matter how small, makes a world of difference.",
              "Monthly", "One-time", "$2", "$5", "Continue", "paiment methods", "Not ready to support today?",
              "Remind me later."]
    assert clean_paragraphs(STORY[:2] + widget + STORY[2:]) == STORY


def test_clean_paragraphs_uses_learned_boilerplate():
    footer = "The Daily is an independent newspaper founded in 1990 in the city of Tashkent."
    assert clean_paragraphs(STORY + [footer], frozenset({paragraph_key(footer)})) == STORY


@given(st.lists(st.text(max_size=200), max_size=12))
def test_clean_paragraphs_keeps_a_subsequence(paragraphs):
    kept = clean_paragraphs(paragraphs)
    iterator = iter(paragraphs)
    assert all(any(p == q for q in iterator) for p in kept)


# -- layer 3: site memory --

def test_site_memory_learns_after_enough_distinct_articles():
    footer = "Subscribe to The Daily's channel for the news of the region, every morning."
    memory = SiteMemory(min_articles=3)
    memory.observe("daily", "http://d/1", STORY[:1] + [footer])
    memory.observe("daily", "http://d/1", STORY[:1] + [footer])  # the same article again does not count
    memory.observe("daily", "http://d/2", STORY[1:2] + [footer])
    assert paragraph_key(footer) not in memory.boilerplate("daily")
    memory.observe("daily", "http://d/3", STORY[2:] + [footer])
    assert paragraph_key(footer) in memory.boilerplate("daily")
    assert memory.boilerplate("other") == frozenset()
    assert SiteMemory(3, memory.learned()).boilerplate("daily") == memory.boilerplate("daily")


def test_paragraph_key_normalizes():
    assert paragraph_key("  Support  the DAILY! ") == paragraph_key("support the daily") == "support the daily"
    assert paragraph_key("Cafe\u0301.") == paragraph_key("Café")


def test_a_paragraph_shown_twice_is_kept_once():
    quote = "“We will not send troops to Afghanistan under any circumstances,” Lavrov told reporters in Tashkent."
    attribution = "— The Foreign Ministry (@mfa_russia) July 16, 2021"
    paragraphs = [STORY[0], attribution, quote, STORY[1], quote, attribution, STORY[2]]
    assert without_repeats(paragraphs) == [STORY[0], attribution, quote, STORY[1], attribution, STORY[2]]
