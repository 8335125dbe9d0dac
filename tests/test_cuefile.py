"""A user's own prompt cues (``EXTRACT_CUES_FILE``): checked whole, added to the packaged ones, used by the crawl's
extraction workers; a file that is no cues file stops the crawl before it starts, in one line."""

from __future__ import annotations

import lxml.html
import pytest

from pipelines.cuefile import CuesError, cues, merge_cues, packaged_cues, read_cues_file, use_extra_cues
from pipelines.domcues import marked_as_prompt
from pipelines.extract import extract_article
from pipelines.prompts import is_call_to_action
from tests.support.crawl import run_scrapy
from tests.support.example import EXAMPLE, GOLDEN

OWN = """
[dom]
tokens = ["spendenbox"]
[text.en]
appeals = ['keep (?:the )?harbour herald (?:free|going)']
buttons = ["Chip in"]
[text.sv]
notices = ['vi använder cookies']
"""


@pytest.fixture
def own_cues(tmp_path):
    path = tmp_path / "cues.toml"
    path.write_text(OWN, encoding="utf-8")
    use_extra_cues(read_cues_file(path))
    yield path
    use_extra_cues(None)


def test_the_packaged_cues_alone_without_a_file():
    assert read_cues_file(None) is None and read_cues_file("") is None
    assert cues() == packaged_cues()
    assert not is_call_to_action("Chip in")


def test_own_cues_are_added_to_the_packaged_ones(own_cues):
    assert is_call_to_action("Chip in!")  # a button, lower-cased like the packaged ones
    assert is_call_to_action("Please keep the Harbour Herald free: it costs us money.")
    assert is_call_to_action("Vi använder cookies.")  # a language the package lacks
    assert marked_as_prompt(lxml.html.fromstring('<div class="spendenbox-wrapper">x</div>'))
    assert is_call_to_action("Subscribe now")  # the packaged cues stay
    assert "support us" in cues()["text"]["en"]["buttons"] and "chip in" in cues()["text"]["en"]["buttons"]
    use_extra_cues(None)
    assert not is_call_to_action("Chip in!")
    assert not marked_as_prompt(lxml.html.fromstring('<div class="spendenbox-wrapper">x</div>'))


def test_an_own_cue_removes_its_paragraph_from_an_article(own_cues):
    page = ("<html lang='en'><head><title>Harbour news</title></head><body><article><h1>Harbour news</h1>"
            "<p>The harbour master said on Monday that the new pier would open in spring, after two years of work "
            "and a long dispute with the city council over its cost.</p><p>Chip in</p>"
            "<div class='spendenbox'><p>Bitte spenden Sie jetzt für unsere Arbeit im Hafen.</p></div>"
            "</article></body></html>")
    text = extract_article(page.encode(), "https://harbour.example/news/pier").text
    assert "new pier" in text and "Chip in" not in text and "spenden" not in text


def test_merging_keeps_order_and_drops_repeats():
    base = {"dom": {"tokens": ["a", "b"]}, "text": {"en": {"buttons": ["x"]}}, "run": {"words": ["w"]}}
    extra = {"dom": {"tokens": ["b", "c"]}, "text": {"en": {"buttons": ["y"]}, "sv": {"notices": ["z"]}}}
    assert merge_cues(base, extra) == {"dom": {"tokens": ["a", "b", "c"]},
                                       "text": {"en": {"buttons": ["x", "y"]}, "sv": {"notices": ["z"]}},
                                       "run": {"words": ["w"]}}
    assert base["dom"]["tokens"] == ["a", "b"]  # the packaged cues are not changed


BAD_FILES = [
    ("missing", None, "no such file"),
    ("directory", "<dir>", "a directory, not a cues file"),
    ("not TOML", "[text.en\nbuttons = 1", "not valid TOML"),
    ("unknown table", "[prompts]\nbuttons = ['x']", "unknown table [prompts]"),
    ("unknown key", "[text.en]\nbutton = ['x']", "unknown key text.en.button (known: address, appeals, buttons,"),
    ("not a list", "[text.en]\nbuttons = 'x'", "text.en.buttons must be a list (of strings), not str"),
    ("not a string", "[run]\nwords = ['ok', 3]", "run.words[1] must be a non-empty string, not 3"),
    ("not a regex", "[text.de]\nappeals = ['spenden (jetzt']", "text.de.appeals[0] 'spenden (jetzt' is not a regular "
                                                                "expression (missing ), unterminated subpattern"),
    ("phrases", "[dom]\nphrases = ['support us']", "dom.phrases[0] must be a list of words"),
    ("language a value", "[text]\nen = 'x'", "text.en must be a table ([text.en]), not a value"),
]


@pytest.mark.parametrize("content, expected", [case[1:] for case in BAD_FILES], ids=[case[0] for case in BAD_FILES])
def test_a_file_that_is_no_cues_file_is_refused_in_one_line(tmp_path, content, expected):
    path = tmp_path / "cues.toml"
    if content == "<dir>":
        path.mkdir()
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(CuesError) as raised:
        read_cues_file(path)
    message = str(raised.value)
    assert message.startswith(f"EXTRACT_CUES_FILE={path}: ") and expected in message and "\n" not in message


def replay(archive, *settings: str, check: bool = True):
    options = [arg for setting in settings for arg in ("-s", setting)]
    return run_scrapy(["crawl", "coverage", "-a", f"topic={EXAMPLE / 'topic.toml'}", "-s", f"ARCHIVE_DIR={archive}",
                       "-s", f"REPLAY_FROM={EXAMPLE / 'example.warc.gz'}", *options], check=check)


def test_a_crawl_with_a_bad_cues_file_stops_before_it_starts(tmp_path):
    path = tmp_path / "cues.toml"
    path.write_text("[text.en]\nappeals = ['(']\n", encoding="utf-8")
    result = replay(tmp_path / "archive", f"EXTRACT_CUES_FILE={path}", check=False)
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if "EXTRACT_CUES_FILE" in line]
    assert len(errors) == 1 and "text.en.appeals[0] '(' is not a regular expression" in errors[0]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "archive").exists()


DROPPED = "Earlier this week, ex-Soviet Tajikistan"  # a paragraph of three of the example's articles


def test_the_crawl_s_extraction_workers_use_the_own_cues(tmp_path):
    path = tmp_path / "cues.toml"
    path.write_text("[text.en]\nlabels = ['earlier this week, ex-soviet tajikistan']\n", encoding="utf-8")
    replay(tmp_path / "archive", f"EXTRACT_CUES_FILE={path}", "EXTRACT_WORKERS=1")
    written = {p.name.split("_", 1)[1]: p.read_text(encoding="utf-8")
               for p in (tmp_path / "archive" / "lavrov-afghanistan" / "text").glob("*.txt")
               if ".v" not in p.name}  # the golden files are the first versions
    assert set(written) == {p.name for p in GOLDEN.glob("*.txt")}
    changed = 0
    for name, text in written.items():
        golden = (GOLDEN / name).read_text(encoding="utf-8")
        kept = "\n\n".join(p for p in golden.split("\n\n") if not p.startswith(DROPPED))
        assert text == kept + ("\n" if golden.endswith("\n") and not kept.endswith("\n") else "")
        changed += text != golden
    assert changed == sum(f"\n\n{DROPPED}" in (GOLDEN / name).read_text(encoding="utf-8")
                          for name in written) > 0

    # reextract extracts as the crawl did: with the same cues nothing changes, without them the paragraphs return
    topic_dir = str(tmp_path / "archive" / "lavrov-afghanistan")
    same = run_scrapy(["reextract", topic_dir, "-o", str(tmp_path / "same"), "-s", f"EXTRACT_CUES_FILE={path}"])
    files = len(list((tmp_path / "archive" / "lavrov-afghanistan" / "text").glob("*.txt")))  # later versions too
    assert f"0 changed, {files} unchanged" in same.stdout
    without = run_scrapy(["reextract", topic_dir, "-o", str(tmp_path / "without")])
    assert f"{changed} changed" in without.stdout
    bad = run_scrapy(["reextract", topic_dir, "-o", str(tmp_path / "bad"),
                      "-s", f"EXTRACT_CUES_FILE={tmp_path}/no.toml"], check=False)
    assert bad.returncode == 2 and f"EXTRACT_CUES_FILE={tmp_path}/no.toml: no such file" in bad.stderr
    assert not (tmp_path / "bad").exists()
