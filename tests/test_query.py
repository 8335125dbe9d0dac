"""The query language: terms, prefixes, phrases, Unicode, operators, errors, field matches, hints, slugs."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given, settings, strategies as st

from crawler.query import Query, QueryError, QueryMatch, parse_query, slug_text

STORY = "Lavrov AND (Afghan* OR Taliban) AND NOT cricket"


def matches(query: str, *texts: str) -> bool:
    return parse_query(query).matches(*texts)


# -- terms --

@pytest.mark.parametrize("text, expected", [
    ("Lavrov said on Friday", True),
    ("LAVROV SAID", True),
    ("lavrov's remarks", True),
    ("(Lavrov)", True),
    ("Sergei Lavrov, the minister", True),
    ("Lavrova said", False),
    ("Lavrovsky said", False),
    ("LavrovTaliban", False),
    ("Lavrov2021", False),
    ("", False),
])
def test_plain_terms_match_whole_words_case_insensitively(text, expected):
    assert matches("Lavrov", text) is expected


def test_plain_term_does_not_match_a_longer_word_but_a_prefix_does():
    assert not matches("Taliban", "the Talibans advanced")
    assert matches("Taliban*", "the Talibans advanced")
    assert matches("Taliban*", "the Taliban advanced")


@pytest.mark.parametrize("text, expected", [
    ("Afghanistan", True),
    ("Afghan troops", True),
    ("AFGHANS", True),
    ("pro-Afghan", True),
    ("non_afghan", True),
    ("Pashtun-Afghanistan", True),
    ("neoafghan", False),
    ("Afgha", False),
])
def test_prefix_terms_match_word_starts(text, expected):
    assert matches("Afghan*", text) is expected


@pytest.mark.parametrize("text, expected", [
    ("blamed the hasty withdrawal of troops", True),
    ("a Hasty  Withdrawal", True),
    ("hasty\nwithdrawal", True),
    ("the hasty-withdrawal narrative", True),
    ("hasty, withdrawal", True),
    ("withdrawal was hasty", False),
    ("hasty and chaotic withdrawal", False),
    ("hasty withdrawals", False),
    ("unhasty withdrawal", False),
])
def test_phrases_match_words_in_sequence(text, expected):
    assert matches('"hasty withdrawal"', text) is expected


def test_a_phrase_can_end_in_a_prefix():
    assert matches('"hasty withdr*"', "the hasty withdrawal")
    assert not matches('"hasty withdr*"', "hasty and withdrawn")


def test_terms_with_punctuation_match_their_words_in_sequence():
    assert matches("al-Qaeda", "links to al Qaeda")
    assert matches("U.S.", "the U.S. withdrawal")
    assert not matches("U.S.", "the US withdrawal")


# -- Unicode --

@pytest.mark.parametrize("query, text, expected", [
    ("Лавров", "Сергей Лавров заявил", True),
    ("Лавров", "СЕРГЕЙ ЛАВРОВ ЗАЯВИЛ", True),
    ("Лавров", "Лавровым", False),
    ("Лавров*", "с Лавровым", True),
    ("Талибан", "движение «Талибан»", True),
    ("Kaboul", "À Kaboul, les talibans", True),
    ("Kaboul", "Kabouli", False),
    ("Téhéran", "TÉHÉRAN", True),
    ("Téhéran", "teheran", True),
    ("Teheran", "Téhéran", True),
    ("Straße", "STRASSE", True),
    ("ёлка", "Ёлка", True),
    ("Ελλάδα", "ΕΛΛΑΔΑ", True),
    ("Afghan*", "Afghanistán", True),
])
def test_unicode_terms_fold_case_and_accents_and_keep_word_boundaries(query, text, expected):
    assert matches(query, text) is expected


def test_decomposed_accents_match_composed_ones():
    assert matches("café", "cafe\u0301 society")


def test_cyrillic_word_boundaries():
    assert not matches("Лавров", "Лавровка")
    assert matches("Лавров", "(Лавров)")
    assert matches('"Сергей Лавров"', "Сергей  Лавров")


# -- operators --

def test_the_story_query():
    query = parse_query(STORY)
    assert query.matches("Lavrov says US failed in Afghanistan")
    assert query.matches("Lavrov", "Taliban advance")
    assert not query.matches("Lavrov at the Afghanistan cricket match")
    assert not query.matches("Lavrov", "the Talibans")
    assert not query.matches("Taliban advance")


def test_adjacency_means_and():
    assert parse_query("Lavrov Taliban").matches("Lavrov", "Taliban")
    assert not parse_query("Lavrov Taliban").matches("Lavrov")
    assert parse_query("Lavrov Taliban").matches("Taliban Lavrov")


def test_not_binds_tighter_than_and_which_binds_tighter_than_or():
    query = parse_query("a OR b AND NOT c")  # a OR (b AND (NOT c))
    assert query.matches("a c")
    assert query.matches("b")
    assert not query.matches("b c")
    assert not query.matches("c")


def test_parentheses_override_precedence():
    query = parse_query("(a OR b) AND NOT c")
    assert not query.matches("a c")
    assert query.matches("a")


def test_not_applies_to_a_group():
    query = parse_query("a NOT (b OR c)")
    assert query.matches("a")
    assert not query.matches("a c")


def test_double_negation_is_positive():
    query = parse_query("NOT NOT a")
    assert query.matches("a")
    assert query.positive_terms() == ("a",)


def test_lowercase_keywords_are_terms():
    assert parse_query("rock and roll").matches("rock and roll")
    assert not parse_query("rock and roll").matches("rock roll")


def test_minus_negates_and_plus_is_ignored():
    query = parse_query("+Lavrov -cricket")
    assert query.matches("Lavrov")
    assert not query.matches("Lavrov cricket")
    assert query.positive_terms() == ("Lavrov",)


def test_terms_are_found_in_any_of_the_texts_but_phrases_do_not_span_them():
    assert matches("Lavrov AND Taliban", "Lavrov", "Taliban")
    assert not matches('"Lavrov Taliban"', "Lavrov", "Taliban")
    assert not matches("Lavrov")


# -- errors --

@pytest.mark.parametrize("text, message", [
    ("", "empty query at position 0"),
    ("   ", "empty query at position 0"),
    ("Lavrov AND", "dangling operator AND at position 7"),
    ("AND Lavrov", "dangling operator AND at position 0"),
    ("Lavrov OR", "dangling operator OR at position 7"),
    ("Lavrov OR OR Taliban", "dangling operator OR at position 7"),
    ("Lavrov AND ) x", "dangling operator AND at position 7"),
    ("Lavrov NOT", "dangling operator NOT at position 7"),
    ("Lavrov AND (Afghan* OR Taliban", "unbalanced parenthesis at position 11"),
    ("Lavrov AND Afghan*) OR Taliban", "unbalanced parenthesis at position 18"),
    (")", "unbalanced parenthesis at position 0"),
    ("Lavrov ()", "empty parentheses at position 7"),
    ('Lavrov "hasty withdrawal', "unbalanced quote at position 7"),
    ('Lavrov ""', "empty phrase at position 7"),
    ("Af*ghan", "misplaced '*' (a prefix ends with it) at position 2"),
    ("Lavrov *", "term '*' has no letters or digits at position 7"),
    ('"hasty *"', "'*' without a word before it at position 7"),
    ("Lavrov - Taliban", "term '-' has no letters or digits at position 7"),
    ("NOT cricket", "nothing to look for: every term is negated at position 4"),
    ("NOT (cricket OR football)", "nothing to look for: every term is negated at position 5"),
    ("-cricket", "nothing to look for: every term is negated at position 1"),
])
def test_errors_say_what_and_where(text, message):
    with pytest.raises(QueryError) as raised:
        parse_query(text)
    assert str(raised.value) == message
    assert raised.value.position == int(message.rsplit(" ", 1)[1])
    assert isinstance(raised.value, ValueError)


def test_query_errors_survive_pickling():
    with pytest.raises(QueryError) as raised:
        parse_query("Lavrov AND")
    copy = pickle.loads(pickle.dumps(raised.value))
    assert (str(copy), copy.position) == ("dangling operator AND at position 7", 7)


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(QueryError, match="nested deeper"):
        parse_query("(" * 5000 + "a" + ")" * 5000)


def test_long_flat_queries_parse():
    query = parse_query(" OR ".join(f"word{i}" for i in range(3000)))
    assert query.matches("word2999")
    assert parse_query("NOT " * 3000 + "a").matches("a")


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(list('ab *"()-+') + ["AND", "OR", "NOT", " AND ", " OR ", " NOT "])).map("".join)
       | st.text())
def test_parse_query_raises_only_query_errors(text):
    try:
        query = parse_query(text)
    except QueryError as error:
        assert 0 <= error.position <= len(text)
        return
    assert query.positive_terms()
    assert query.hint_score(text) in (0, 1, 2)
    query.match({"title": text})


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(alphabet=st.characters(categories=["L", "Nd"]), min_size=1), min_size=1, max_size=5))
def test_every_word_matches_itself(words):
    text = " ".join(words)
    assert parse_query(f'"{text}"').matches(text)
    assert parse_query(" ".join(f'"{word}"' for word in words)).matches(text.casefold())


# -- the public objects --

def test_query_is_a_value_and_survives_pickling():
    assert parse_query(STORY) == Query(STORY)
    assert hash(parse_query(STORY)) == hash(Query(STORY))
    copy = pickle.loads(pickle.dumps(parse_query(STORY)))
    assert copy.matches("Lavrov Taliban") and not copy.matches("Lavrov Taliban cricket")
    with pytest.raises(QueryError):
        Query("(")


def test_positive_terms_in_query_order_without_duplicates_or_negated_terms():
    assert parse_query(STORY).positive_terms() == ("Lavrov", "Afghan*", "Taliban")
    assert parse_query('"hasty   withdrawal" Lavrov OR lavrov NOT cricket').positive_terms() == (
        '"hasty withdrawal"', "Lavrov")


def test_match_reports_fields_of_positive_terms():
    query = parse_query(STORY)
    result = query.match({"title": "Lavrov speaks", "body": "Lavrov on the Taliban and Afghanistan"})
    assert result == QueryMatch(True, {"Lavrov": ["title", "body"], "Afghan*": ["body"], "Taliban": ["body"]})


def test_match_without_a_match_still_reports_found_terms():
    result = parse_query(STORY).match({"title": "Lavrov at the cricket", "body": "Afghanistan won"})
    assert not result.matched
    assert result.terms == {"Lavrov": ["title"], "Afghan*": ["body"]}
    assert "cricket" not in result.terms


def test_match_with_empty_fields():
    assert parse_query(STORY).match({"title": "", "body": ""}) == QueryMatch(False, {})


@pytest.mark.parametrize("texts, score", [
    (("Lavrov warns of Taliban advance",), 2),
    (("Lavrov warns", "", "2021 07 16 lavrov warns taliban"), 2),
    (("Lavrov warns",), 1),
    (("Taliban advance",), 1),
    (("Central bank holds rate",), 0),
    (("Lavrov at the cricket",), 0),
    (("Afghanistan cricket",), 0),
    ((), 0),
])
def test_hint_score(texts, score):
    assert parse_query(STORY).hint_score(*texts) == score


def test_hint_score_prefers_a_full_match_over_a_present_negated_term():
    assert parse_query("a OR NOT b").hint_score("a b") == 2


# -- slugs --

@pytest.mark.parametrize("url, words", [
    ("https://x.test/2021/07/16/russia-says-lavrov_afghan.html", "2021 07 16 russia says lavrov afghan"),
    ("/2021/07/16/russia-says-lavrov_afghan.html", "2021 07 16 russia says lavrov afghan"),
    ("https://x.test/world/lavrov-warns-taliban/?utm_source=rss#top", "world lavrov warns taliban"),
    ("https://x.test/news/story.php", "news story"),
    ("https://x.test/news/lavrov.afghanistan", "news lavrov afghanistan"),
    ("https://x.test/%D0%BB%D0%B0%D0%B2%D1%80%D0%BE%D0%B2-%D0%BA%D0%B0%D0%B1%D1%83%D0%BB", "лавров кабул"),
    ("https://x.test/", ""),
    ("http://[::1", ""),
])
def test_slug_text(url, words):
    assert slug_text(url) == words


def test_slug_words_match_phrases_and_prefixes():
    slug = slug_text("https://x.test/world/lavrov-blames-hasty-withdrawal-for-afghan-chaos")
    assert parse_query('Lavrov "hasty withdrawal" Afghan*').matches(slug)
