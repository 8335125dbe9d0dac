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


# -- whole prompt blocks, language by language: what the block says goes, the story around it stays --

LANGUAGES = {
    "en": (["Russia's foreign minister said on Friday that Washington had failed in Afghanistan.",
            "He said Moscow would support the talks in Doha and would subscribe to any deal the parties reached."],
           ["We have a small favor to ask. Millions turn to us for independent news, and your support keeps our "
            "journalism free for everyone.", "Monthly", "One-time", "$5", "$10", "Support us", "Remind me later.",
            "Sign up for our free morning newsletter and get the day's news in your inbox.",
            "Already a subscriber? Log in"]),
    "de": (["Der russische Außenminister sagte am Freitag, Washington sei in Afghanistan gescheitert.",
            "Moskau werde die Gespräche in Doha unterstützen, sagte er in Taschkent vor Journalisten."],
           ["Unterstützen Sie unabhängigen Journalismus! Mit Ihrem freiwilligen Beitrag sichern Sie unsere Arbeit.",
            "Monatlich", "Einmalig", "Jetzt unterstützen", "Später erinnern",
            "Melden Sie sich für unseren Newsletter an und erhalten Sie die wichtigsten Nachrichten des Tages.",
            "Bereits Abonnent? Einloggen"]),
    "fr": (["Le ministre russe des Affaires étrangères a déclaré vendredi que Washington avait échoué en Afghanistan.",
            "Moscou soutiendra les pourparlers de Doha, a-t-il ajouté devant la presse à Tachkent."],
           ["Soutenez notre rédaction indépendante : votre soutien nous permet de rester libres.", "Mensuel",
            "Ponctuel", "Je soutiens", "Me le rappeler plus tard",
            "Inscrivez-vous à notre newsletter pour recevoir l'essentiel de l'actualité chaque matin.",
            "Déjà abonné ? Se connecter"]),
    "es": (["El canciller ruso dijo el viernes que Washington había fracasado en Afganistán.",
            "Moscú apoya el diálogo de Doha, afirmó ante la prensa en Taskent."],
           ["Apoya el periodismo independiente: tu apoyo nos hace libres.", "Mensual", "Única vez", "Apóyanos",
            "Recordármelo más tarde",
            "Suscríbete a nuestro boletín y recibe las noticias más importantes del día cada mañana.",
            "¿Ya eres suscriptor? Iniciar sesión"]),
    "ru": (["Министр иностранных дел России заявил в пятницу, что Вашингтон потерпел неудачу в Афганистане.",
            "Москва поддержит переговоры в Дохе, сказал он журналистам в Ташкенте."],
           ["Поддержите независимую журналистику! Ваша поддержка помогает нам работать дальше.", "Ежемесячно",
            "Разово", "Поддержать", "Напомнить позже", "Подпишитесь на наш телеграм-канал, чтобы не пропустить главное.",
            "Уже подписаны? Войти"]),
    "it": (["Il ministro degli Esteri russo ha detto venerdì che Washington ha fallito in Afghanistan.",
            "Mosca sosterrà i negoziati di Doha, ha aggiunto parlando ai giornalisti a Tashkent."],
           ["Sostieni il giornalismo indipendente: il tuo contributo ci permette di restare liberi.", "Mensile",
            "Una tantum", "Sostienici", "Ricordamelo più tardi",
            "Iscriviti alla nostra newsletter per ricevere ogni mattina le notizie più importanti.",
            "Sei già abbonato? Accedi"]),
    "pt": (["O chanceler russo disse na sexta-feira que Washington fracassou no Afeganistão.",
            "Moscou apoia as negociações de Doha, afirmou ele a jornalistas em Tashkent."],
           ["Apoie o jornalismo independente: seu apoio nos ajuda a continuar informando.", "Mensal", "Única vez",
            "Apoiar", "Lembrar mais tarde", "Receba nossa newsletter com as principais notícias do dia no seu e-mail.",
            "Já é assinante? Entrar"]),
    "pl": (["Rosyjski minister spraw zagranicznych powiedział w piątek, że Waszyngton poniósł porażkę w Afganistanie.",
            "Moskwa poprze rozmowy w Doha, dodał w rozmowie z dziennikarzami w Taszkiencie."],
           ["Wesprzyj niezależne dziennikarstwo! Twoje wsparcie pomaga nam pisać dalej.", "Miesięcznie",
            "Jednorazowo", "Wspieram", "Przypomnij później",
            "Zapisz się do naszego newslettera i otrzymuj najważniejsze wiadomości każdego ranka.",
            "Masz już prenumeratę? Zaloguj się"]),
    "nl": (["De Russische minister van Buitenlandse Zaken zei vrijdag dat Washington in Afghanistan heeft gefaald.",
            "Moskou steunt de gesprekken in Doha, zei hij tegen journalisten in Tasjkent."],
           ["Steun onafhankelijke journalistiek: met een kleine bijdrage help je ons verder.", "Maandelijks",
            "Eenmalig", "Steun ons", "Herinner me later",
            "Meld je aan voor onze nieuwsbrief en ontvang elke ochtend het belangrijkste nieuws.",
            "Al abonnee? Inloggen"]),
    "uk": (["Міністр закордонних справ Росії заявив у п'ятницю, що Вашингтон зазнав невдачі в Афганістані.",
            "Москва підтримає переговори в Досі, сказав він журналістам у Ташкенті."],
           ["Підтримайте незалежну журналістику! Ваша підтримка допомагає нам працювати далі.", "Щомісяця",
            "Разово", "Підтримати", "Нагадати пізніше",
            "Підпишіться на наш телеграм-канал, щоб не пропустити головне.", "Вже підписані? Увійти"]),
}


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_a_prompt_block_goes_and_the_story_stays(language):
    story, block = LANGUAGES[language]
    assert clean_paragraphs(story[:1] + block + story[1:]) == story
    assert not any(is_call_to_action(sentence) for sentence in story)


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_a_prompt_block_in_a_page_goes(language):
    """The same block as a site places it in an article, with the page's language declared."""
    from pipelines.extract import extract_article

    story, block = LANGUAGES[language]
    story = [f"{sentence} {sentence}" for sentence in story] + story
    box = '<div class="support-box">' + "".join(f"<p>{p}</p>" for p in block[:3]) + "</div>"
    html = (f'<html lang="{language}"><head><title>Lavrov</title></head><body><article><h1>Lavrov</h1>'
            + "".join(f"<p>{p}</p>" for p in story[:2]) + box + "".join(f"<p>{p}</p>" for p in block[3:])
            + "".join(f"<p>{p}</p>" for p in story[2:]) + "</article></body></html>")
    article = extract_article(html.encode(), "https://news.example/2021/07/16/lavrov")
    assert article.paragraphs == story
    assert article.language == language
