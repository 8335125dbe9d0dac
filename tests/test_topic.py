"""The topic file: a valid file round-trip, one test per validation error, and the check-topic command."""

from __future__ import annotations

import argparse
import pickle
from datetime import date, datetime
from pathlib import Path

import pytest
from scrapy.exceptions import UsageError
from scrapy.settings import Settings

from crawler.commands.check_topic import Command
from crawler.query import parse_query
from crawler.topic import Outlet, TopicError, load_topic, parse_topic, validate_slug

VALID = """
name = "lavrov-afghanistan"
query = 'Lavrov AND (Afghan* OR Taliban) AND NOT cricket'
since = 2021-07-10
until = "2021-07-20"
languages = ["en", "RU"]
max_pages_per_outlet = 500

[[outlet]]
name = "The Moscow Times"
url = "https://www.themoscowtimes.com/"
feeds = ["https://www.themoscowtimes.com/rss/news"]
sitemaps = ["https://static.themoscowtimes.com/sitemap.xml"]
sections = ["https://www.themoscowtimes.com/news"]
search = "https://www.themoscowtimes.com/search?query={query}"
domains = ["amp.themoscowtimes.com", "localhost:8080", "https://cdn.themoscowtimes.com/"]

[[outlet]]
name = "Коммерсантъ"
url = "https://www.kommersant.ru/"

[[outlet]]
name = "Local Test"
url = "http://127.0.0.1:8081/"
"""

MINIMAL = """
name = "t"
query = "Lavrov"
[[outlet]]
name = "Alpha"
url = "http://alpha.test/"
"""


def write(tmp_path: Path, text: str, name: str = "topic.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = write(tmp_path, text)
    with pytest.raises(TopicError) as raised:
        load_topic(path)
    message = str(raised.value)
    assert message.startswith(f"{path}: ")
    assert "\n" not in message
    return message[len(f"{path}: "):]


def with_top(line: str) -> str:
    """MINIMAL with one top-level ``key = value`` line set (replacing the key if MINIMAL has it)."""
    key = line.split(" = ")[0]
    head, _, outlets = MINIMAL.partition("[[outlet]]")
    rows = [row for row in head.splitlines() if not row.startswith(f"{key} = ")]
    return "\n".join([line, *rows]) + "\n[[outlet]]" + outlets


def with_outlet(extra: str) -> str:
    return MINIMAL + extra + "\n"


# -- a valid file --

def test_valid_file_round_trip(tmp_path):
    path = write(tmp_path, VALID)
    topic = load_topic(path)
    assert topic.name == "lavrov-afghanistan"
    assert topic.query == parse_query("Lavrov AND (Afghan* OR Taliban) AND NOT cricket")
    assert (topic.since, topic.until) == (date(2021, 7, 10), date(2021, 7, 20))
    assert topic.languages == ("en", "ru")
    assert topic.max_pages_per_outlet == 500
    assert topic.path == str(path)
    moscow, kommersant, local = topic.outlets
    assert moscow == Outlet(
        name="The Moscow Times", url="https://www.themoscowtimes.com/",
        feeds=("https://www.themoscowtimes.com/rss/news",),
        sitemaps=("https://static.themoscowtimes.com/sitemap.xml",),
        sections=("https://www.themoscowtimes.com/news",),
        search="https://www.themoscowtimes.com/search?query={query}",
        domains=("amp.themoscowtimes.com", "localhost:8080", "https://cdn.themoscowtimes.com/"))
    assert kommersant.feeds == kommersant.sitemaps == kommersant.sections == kommersant.domains == ()
    assert kommersant.search == ""
    assert local.slug == "local-test"


def test_optional_keys_default_to_none_and_empty(tmp_path):
    topic = load_topic(write(tmp_path, MINIMAL))
    assert (topic.since, topic.until, topic.languages, topic.max_pages_per_outlet) == (None, None, (), None)
    assert topic.in_window(date(1990, 1, 1))


def test_parse_topic_from_a_mapping():
    topic = parse_topic({"name": "x", "query": "a", "outlet": [{"name": "A", "url": "https://a.test/"}]})
    assert topic.path is None and topic.outlets[0].hosts == frozenset({"a.test", "www.a.test"})
    with pytest.raises(TopicError, match=r"^<topic>: name: missing"):
        parse_topic({"query": "a", "outlet": [{"name": "A", "url": "https://a.test/"}]})


def test_topic_survives_pickling(tmp_path):
    topic = load_topic(write(tmp_path, VALID))
    assert pickle.loads(pickle.dumps(topic)) == topic


@pytest.mark.parametrize("name, slug", [
    ("The Moscow Times", "the-moscow-times"),
    ("Le Monde (EN)", "le-monde-en"),
    ("Süddeutsche Zeitung", "suddeutsche-zeitung"),
    ("  BBC  News!! ", "bbc-news"),
])
def test_outlet_slugs(name, slug):
    assert Outlet(name=name, url="https://x.test/").slug == slug


def test_outlet_slug_falls_back_to_the_host_for_names_without_latin_letters(tmp_path):
    assert load_topic(write(tmp_path, VALID)).outlets[1].slug == "kommersant-ru"


def test_outlet_hosts_cover_every_url_and_www_twins(tmp_path):
    moscow, _, local = load_topic(write(tmp_path, VALID)).outlets
    assert moscow.hosts == frozenset({
        "www.themoscowtimes.com", "themoscowtimes.com", "static.themoscowtimes.com",
        "www.static.themoscowtimes.com", "amp.themoscowtimes.com", "www.amp.themoscowtimes.com",
        "cdn.themoscowtimes.com", "www.cdn.themoscowtimes.com", "localhost:8080"})
    assert local.hosts == frozenset({"127.0.0.1:8081"})
    assert Outlet(name="v6", url="http://[::1]:81/").hosts == frozenset({"[::1]:81"})


def test_outlet_for_host(tmp_path):
    topic = load_topic(write(tmp_path, VALID))
    moscow, kommersant, local = topic.outlets
    assert topic.outlet_for_host("themoscowtimes.com") is moscow
    assert topic.outlet_for_host("WWW.Kommersant.RU") is kommersant
    assert topic.outlet_for_host("kommersant.ru:8443") is kommersant
    assert topic.outlet_for_host("https://amp.themoscowtimes.com/x") is moscow
    assert topic.outlet_for_host("127.0.0.1:8081") is local
    assert topic.outlet_for_host("127.0.0.1:9999") is None
    assert topic.outlet_for_host("elsewhere.test") is None
    assert topic.outlet_for_host("") is None


def test_in_window_is_inclusive_and_trusts_unknown_days(tmp_path):
    topic = load_topic(write(tmp_path, VALID))
    assert topic.in_window(None)
    assert topic.in_window(date(2021, 7, 10)) and topic.in_window(date(2021, 7, 20))
    assert not topic.in_window(date(2021, 7, 9)) and not topic.in_window(date(2021, 7, 21))
    assert topic.in_window(datetime(2021, 7, 20, 23, 59))


def test_describe_summarizes_the_topic(tmp_path):
    text = load_topic(write(tmp_path, VALID)).describe()
    for expected in ("lavrov-afghanistan", "Lavrov, Afghan*, Taliban", "2021-07-10 to 2021-07-20",
                     "en, ru", "500 pages per outlet", "The Moscow Times (the-moscow-times)",
                     "https://www.themoscowtimes.com/rss/news", "Коммерсантъ (kommersant-ru)"):
        assert expected in text
    minimal = load_topic(write(tmp_path, MINIMAL, "minimal.toml")).describe()
    assert "any date" in minimal and "no page limit" in minimal


def test_relative_paths_fall_back_to_topics_dir(tmp_path, monkeypatch):
    topics = tmp_path / "topics"
    topics.mkdir()
    write(topics, MINIMAL, "story.toml")
    monkeypatch.chdir(tmp_path)
    assert load_topic("story.toml", topics_dir=str(topics)).path == str(topics / "story.toml")
    with pytest.raises(TopicError, match=r"^story\.toml: file not found$"):
        load_topic("story.toml")
    write(tmp_path, MINIMAL.replace('"t"', '"here"'), "story.toml")
    assert load_topic("story.toml", topics_dir=str(topics)).name == "here"


def test_topics_dir_lookups_stay_inside_it(tmp_path):
    write(tmp_path, MINIMAL, "secret.toml")
    topics = tmp_path / "topics"
    topics.mkdir()
    with pytest.raises(TopicError, match=r"file not found"):
        load_topic("../secret.toml", topics_dir=str(topics))


# -- validate_slug --

@pytest.mark.parametrize("name", ["", "../x", "a/b", "..", ".", "Lavrov", "-x", "a_b", "a b", "a\n", "x" * 101, None])
def test_validate_slug_refuses_unsafe_names(name):
    with pytest.raises(TopicError, match="topic name: expected a slug"):
        validate_slug(name)


def test_validate_slug_accepts_slugs_and_names_what_it_checks():
    assert validate_slug("lavrov-afghanistan-2021") == "lavrov-afghanistan-2021"
    with pytest.raises(TopicError, match="^spider name: "):
        validate_slug("X", "spider name")


# -- errors: one per kind, each naming the file and the key --

def test_missing_file(tmp_path):
    path = tmp_path / "missing.toml"
    with pytest.raises(TopicError, match=rf"^{path}: file not found$"):
        load_topic(path)
    with pytest.raises(TopicError, match=rf"also looked in {tmp_path}\): file not found$"):
        load_topic("missing.toml", topics_dir=tmp_path)


def test_directory_instead_of_file(tmp_path):
    with pytest.raises(TopicError, match="expected a topic file, got a directory"):
        load_topic(tmp_path)


def test_toml_syntax_error_names_the_line(tmp_path):
    message = error_of(tmp_path, 'name = "t"\nquery = "Lavrov"\nsince 2021-07-10\n')
    assert message.startswith("line 3, column 7: invalid TOML (expected '='")


def test_toml_error_at_the_end_of_the_file(tmp_path):
    assert error_of(tmp_path, 'name = "t"\nquery = ').startswith("end of file: invalid TOML")


def test_non_utf8_file_names_the_line(tmp_path):
    path = tmp_path / "topic.toml"
    path.write_bytes(b'name = "t"\nquery = "caf\xe9"\n')
    with pytest.raises(TopicError, match=r": line 2: expected UTF-8 text$"):
        load_topic(path)


def test_unknown_top_level_key(tmp_path):
    message = error_of(tmp_path, 'start = 2021-07-10\n' + MINIMAL)
    assert message == ("start: unknown key; allowed keys: name, query, since, until, languages, "
                       "max_pages_per_outlet, archives, archives_only, outlet")


def test_unknown_key_suggests_the_close_one(tmp_path):
    assert error_of(tmp_path, 'sinse = 2021-07-10\n' + MINIMAL).startswith("sinse: unknown key (did you mean 'since'?)")


def test_unknown_outlet_key(tmp_path):
    message = error_of(tmp_path, with_outlet('feed = ["http://alpha.test/rss"]'))
    assert message.startswith("outlet[1].feed: unknown key (did you mean 'feeds'?); allowed keys: name, url, feeds")


@pytest.mark.parametrize("line, message", [
    ("name = 7", "name: expected a string, got an integer"),
    ('name = "Lavrov Afghanistan"', "name: expected a slug"),
    ('name = "../etc"', "name: expected a slug"),
    ("query = ['Lavrov']", "query: expected a string, got a list"),
    ("languages = 'en'", "languages: expected a list of strings, got a string"),
    ("languages = ['en', 3]", "languages[2]: expected a string, got an integer"),
    ("max_pages_per_outlet = '500'", "max_pages_per_outlet: expected a positive integer, got '500'"),
    ("max_pages_per_outlet = true", "max_pages_per_outlet: expected a positive integer, got True"),
    ("since = 20210710", "since: expected a date like 2021-07-10, got an integer 20210710"),
    ("since = 2021-07-10T10:00:00", "since: expected a date like 2021-07-10, got a date-time 2021-07-10 10:00:00"),
])
def test_wrong_types(tmp_path, line, message):
    assert error_of(tmp_path, with_top(line)).startswith(message)


@pytest.mark.parametrize("value", ['"2021-02-30"', '"16.07.2021"', '"20210716"', '"2021-W28-5"', "2021-07-16T10:00:00",
                                   "10:00:00"])
def test_bad_dates(tmp_path, value):
    assert error_of(tmp_path, f"until = {value}\n" + MINIMAL).startswith("until: expected a date like 2021-07-10")


def test_since_after_until(tmp_path):
    message = error_of(tmp_path, "since = 2021-07-20\nuntil = 2021-07-10\n" + MINIMAL)
    assert message == "until: expected a day on or after since (2021-07-20), got 2021-07-10"


def test_missing_outlet_list(tmp_path):
    assert error_of(tmp_path, 'name = "t"\nquery = "a"\n') == "outlet: missing: expected at least one [[outlet]] table"


def test_empty_outlet_list(tmp_path):
    message = error_of(tmp_path, 'name = "t"\nquery = "a"\noutlet = []\n')
    assert message == "outlet: expected at least one [[outlet]] table"


def test_outlet_as_a_single_table(tmp_path):
    message = error_of(tmp_path, 'name = "t"\nquery = "a"\n[outlet]\nname = "A"\nurl = "http://a.test/"\n')
    assert message == "outlet: expected an array of tables ([[outlet]]), got a table"


def test_missing_outlet_name(tmp_path):
    assert error_of(tmp_path, MINIMAL.replace('name = "Alpha"', "")) == "outlet[1].name: missing (expected a string)"


def test_missing_outlet_url(tmp_path):
    text = MINIMAL + '[[outlet]]\nname = "Beta"\n'
    assert error_of(tmp_path, text) == "outlet[2].url: missing (expected a string)"


@pytest.mark.parametrize("key, value", [
    ("url", "ftp://x"), ("url", "alpha.test"), ("url", "http://"), ("url", "http://a.test:99999/"),
    ("url", "http://a .test/"),
])
def test_non_http_outlet_url(tmp_path, key, value):
    text = MINIMAL.replace('url = "http://alpha.test/"', f'url = "{value}"')
    assert error_of(tmp_path, text) == f"outlet[1].url: expected an http(s) URL, got {value!r}"


@pytest.mark.parametrize("key", ["feeds", "sitemaps", "sections"])
def test_non_http_discovery_urls(tmp_path, key):
    message = error_of(tmp_path, with_outlet(f'{key} = ["http://alpha.test/ok", "ftp://x"]'))
    assert message == f"outlet[1].{key}[2]: expected an http(s) URL, got 'ftp://x'"


def test_search_template_without_placeholder(tmp_path):
    message = error_of(tmp_path, with_outlet('search = "http://alpha.test/search?q=Lavrov"'))
    assert message == ("outlet[1].search: expected a search URL template containing {query}, "
                       "got 'http://alpha.test/search?q=Lavrov'")


def test_search_template_must_be_an_http_url(tmp_path):
    message = error_of(tmp_path, with_outlet('search = "/search?q={query}"'))
    assert message == "outlet[1].search: expected an http(s) URL template, got '/search?q={query}'"


def test_bad_domain(tmp_path):
    message = error_of(tmp_path, with_outlet('domains = ["alpha.test/news"]'))
    assert message.startswith("outlet[1].domains[1]: expected a host name like 'example.com'")


def test_bad_query(tmp_path):
    text = MINIMAL.replace('query = "Lavrov"', "query = 'Lavrov AND (Afghan* OR Taliban'")
    assert error_of(tmp_path, text) == "query: unbalanced parenthesis at position 11"


def test_query_of_only_negated_terms(tmp_path):
    text = MINIMAL.replace('query = "Lavrov"', "query = 'NOT cricket'")
    assert error_of(tmp_path, text).startswith("query: nothing to look for")


def test_missing_query(tmp_path):
    assert error_of(tmp_path, MINIMAL.replace('query = "Lavrov"', "")) == "query: missing (expected a string)"


@pytest.mark.parametrize("code", ["english", "en-US", "xx", "e"])
def test_bad_language_codes(tmp_path, code):
    message = error_of(tmp_path, f'languages = ["en", "{code}"]\n' + MINIMAL)
    assert message == f"languages[2]: expected an ISO 639-1 language code like 'en', got {code!r}"


def test_duplicate_outlet_slugs(tmp_path):
    text = MINIMAL + '[[outlet]]\nname = "ALPHA!"\nurl = "http://alpha2.test/"\n'
    assert error_of(tmp_path, text) == "outlet[2].name: outlet slug 'alpha' is already used by outlet[1] ('Alpha')"


# -- the check-topic command --

def run_command(args: list[str], settings: dict | None = None) -> Command:
    command = Command()
    command.settings = Settings(settings or {})
    command.run(args, argparse.Namespace())
    return command


def test_check_topic_prints_the_summary(tmp_path, capsys):
    command = run_command([str(write(tmp_path, VALID))])
    out, err = capsys.readouterr()
    assert command.exitcode == 0 and err == ""
    assert "Topic      lavrov-afghanistan" in out and "The Moscow Times (the-moscow-times)" in out


def test_check_topic_prints_one_line_errors_with_exit_code_2(tmp_path, capsys):
    path = write(tmp_path, MINIMAL.replace('url = "http://alpha.test/"', 'url = "ftp://x"'))
    command = run_command([str(path)])
    out, err = capsys.readouterr()
    assert command.exitcode == 2 and out == ""
    assert err == f"error: {path}: outlet[1].url: expected an http(s) URL, got 'ftp://x'\n"


def test_check_topic_honours_topics_dir(tmp_path, capsys, monkeypatch):
    write(tmp_path, MINIMAL, "story.toml")
    monkeypatch.chdir(tmp_path.parent)
    command = run_command(["story.toml"], {"TOPIC_FILES_DIR": str(tmp_path)})
    assert command.exitcode == 0 and "Topic      t" in capsys.readouterr().out


def test_check_topic_needs_exactly_one_file():
    with pytest.raises(UsageError):
        run_command([])
    assert Command.requires_project and Command().syntax() == "FILE"
    assert Command().short_desc() and Command().long_desc()


def test_check_topic_online_lists_sitemaps_and_feeds(tmp_path):
    from tests.support.crawl import run_scrapy
    from tests.support.sites import SiteServer, robots_txt

    host = "http://www.online.test"
    with SiteServer() as site:
        site.route(f"{host}/robots.txt", robots_txt(sitemaps=[f"{host}/news-sitemap.xml"]))
        site.route(f"{host}/", f'<html><head><link rel="alternate" type="application/rss+xml" href="{host}/rss">'
                               "</head><body></body></html>")
        path = tmp_path / "online.toml"
        path.write_text(f'name = "online"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Online"\nurl = "{host}/"\n')
        result = run_scrapy(["check-topic", str(path), "--online"], env={"http_proxy": site.proxy_url})
    assert f"sitemap   {host}/news-sitemap.xml" in result.stdout
    assert f"feed      {host}/rss" in result.stdout


def test_check_topic_online_names_unreachable_outlets_and_fails_when_none_answers(tmp_path):
    from tests.support.crawl import run_scrapy
    from tests.support.network import free_port
    from tests.support.sites import SiteServer, robots_txt

    dead = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    host = "http://www.online.test"
    with SiteServer() as site:
        site.route(f"{host}/robots.txt", robots_txt())
        site.route(f"{host}/", "<html><body></body></html>")
        both = tmp_path / "both.toml"
        both.write_text(f'name = "both"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Alive"\nurl = "{host}/"\n\n'
                        f'[[outlet]]\nname = "Dead"\nurl = "{dead}/"\n')
        env = {"http_proxy": site.proxy_url, "no_proxy": "127.0.0.1"}
        result = run_scrapy(["check-topic", str(both), "--online"], env=env, check=False)
        assert result.returncode == 0, result.stderr
        assert "1 of 2 outlet(s) unreachable: Dead" in result.stderr
        assert "unreachable: neither robots.txt nor the home page answered" in result.stdout
        only_dead = tmp_path / "dead.toml"
        only_dead.write_text(f'name = "dead"\nquery = "Lavrov"\n\n[[outlet]]\nname = "Dead"\nurl = "{dead}/"\n')
        result = run_scrapy(["check-topic", str(only_dead), "--online"], env=env, check=False)
    assert result.returncode == 3
    assert "error: no outlet is reachable" in result.stderr and "Traceback" not in result.stderr


# -- web archives as sources --

def test_archives_and_archives_only(tmp_path):
    topic = load_topic(write(tmp_path, with_top('archives = ["wayback", "commoncrawl", "wayback"]')))
    assert topic.archives == ("wayback", "commoncrawl") and topic.archives_only is False
    assert "Sources    live, wayback, commoncrawl" in topic.describe()
    only = load_topic(write(tmp_path, with_top('archives = ["wayback"]\narchives_only = true'), "only.toml"))
    assert only.archives_only and "Sources    wayback" in only.describe()
    assert load_topic(write(tmp_path, MINIMAL, "minimal.toml")).archives == ()


@pytest.mark.parametrize("line, expected", [
    ('archives = ["archive.today"]', "archives[1]: expected one of wayback, commoncrawl, got 'archive.today'"),
    ('archives = "wayback"', "archives: expected a list of strings, got a string"),
    ("archives_only = true", "archives_only: true needs at least one source in archives (wayback, commoncrawl)"),
    ('archives = ["wayback"]\narchives_only = "yes"', "archives_only: expected true or false, got a string"),
])
def test_archive_keys_are_validated(tmp_path, line, expected):
    assert error_of(tmp_path, with_top(line)) == expected


def test_check_topic_online_contacts_no_outlet_with_archives_only(tmp_path, capsys):
    path = write(tmp_path, with_top('archives = ["wayback"]\narchives_only = true'))
    command = Command()
    command.settings = Settings({})
    command.run([str(path)], argparse.Namespace(online=True))
    out = capsys.readouterr().out
    assert command.exitcode == 0 and "archives_only is set, so the outlets are not contacted" in out
