"""Extraction of one page: metadata, clean body, the command, and pages that are broken on purpose."""

from __future__ import annotations

import json
import subprocess
import sys
from io import BytesIO

import pytest

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.extract import extract_article
from tests.support.crawl import REPO
from tests.support.sites import article_page

BODY = [
    "Russian Foreign Minister Sergei Lavrov said on Friday that the United States had failed in Afghanistan.",
    "Lavrov blamed the hasty withdrawal of American and NATO troops for the rapid deterioration of security.",
    "Taliban insurgents have captured a swath of districts and border crossings in recent weeks, he said.",
    "Russia said it would support the talks between the Afghan government and the Taliban in Doha.",
]
URL = "https://www.example-news.com/2021/07/16/lavrov-afghanistan"


def page(**options) -> str:
    return article_page("Lavrov Says U.S. Failed in Afghanistan", BODY, published="2021-07-16", author="Jane Roe",
                        site_name="Example News", canonical=URL, **options)


def test_metadata_and_body():
    article = extract_article(page().encode(), URL + "?utm_source=x")
    assert article.title == "Lavrov Says U.S. Failed in Afghanistan"
    assert article.published == "2021-07-16"
    assert article.author == "Jane Roe"
    assert article.canonical_url == URL
    assert article.language == "en"
    assert article.paragraphs == BODY
    assert not article.paywalled


def test_prompts_inside_the_article_are_removed():
    for prompt in ("donation", "newsletter"):
        article = extract_article(page(prompt=prompt, read_more="Lavrov meets Taliban delegation").encode(), URL)
        assert article.paragraphs == BODY, prompt
        assert article.prompts_removed >= 1


def test_paywalled_teaser_is_kept_and_flagged():
    article = extract_article(page(paywalled=True).encode(), URL)
    assert article.paywalled
    assert article.paragraphs == BODY  # what the teaser shows, without the wall's own text


def test_charset_from_the_http_header_wins_over_a_wrong_meta():
    russian = "Министр иностранных дел России Сергей Лавров заявил, что миссия США в Афганистане провалилась."
    html = (f'<html><head><meta charset="utf-8"><title>Лавров</title></head><body><article>'
            f"<p>{russian}</p><p>{russian} Это заявление прозвучало в Ташкенте.</p></article></body></html>")
    article = extract_article(html.encode("cp1251"), URL, content_type="text/html; charset=windows-1251")
    assert russian in article.text


def test_a_utf8_page_declared_cp1251_is_read_as_utf8():
    russian = "Министр иностранных дел России Сергей Лавров заявил, что миссия США в Афганистане провалилась."
    html = (f'<html><head><meta charset="windows-1251"><title>Лавров</title></head><body><article>'
            f"<p>{russian}</p><p>{russian} Это заявление прозвучало в Ташкенте.</p></article></body></html>")
    for content_type in ("text/html; charset=windows-1251", None):
        article = extract_article(html.encode("utf-8"), URL, content_type=content_type)
        assert russian in article.text, content_type
    latin = html.replace(russian, "Le ministre a déclaré que la mission américaine avait échoué à Kaboul.").replace(
        "Лавров", "Lavrov").replace(" Это заявление прозвучало в Ташкенте.", " Il parlait à Tachkent.")
    article = extract_article(latin.encode("cp1252"), URL, content_type="text/html; charset=windows-1252")
    assert "déclaré" in article.text  # a real single-byte page stays as declared


def test_byte_order_mark_and_missing_charset():
    html = "<html><head><title>Café</title></head><body><article><p>" + " ".join(BODY) + " Café.</p></article></body></html>"
    article = extract_article(b"\xef\xbb\xbf" + html.encode("utf-8"), URL)
    assert "Café." in article.text


def test_broken_pages_give_no_text_and_no_error():
    for body in (b"", b"\x00\x01\x02\xff" * 500, b"<html><body><script>var x = 1;</script></body></html>",
                 b"<div>" * 5000 + b"deep" + b"</div>" * 5000, b"<<<>>>&&&;;"):
        article = extract_article(body, URL)
        assert isinstance(article.text, str)


def run_command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines.extract", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=120)


def test_command_prints_the_body_only(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(page(prompt="donation"), encoding="utf-8")
    result = run_command(str(path), "--url", URL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n".join(BODY) + "\n"


def test_command_json(tmp_path):
    path = tmp_path / "page.html"
    path.write_text(page(), encoding="utf-8")
    data = json.loads(run_command(str(path), "--url", URL, "--json").stdout)
    assert data["title"] == "Lavrov Says U.S. Failed in Afghanistan"
    assert data["published"] == "2021-07-16" and data["canonical_url"] == URL and data["paywalled"] is False
    assert data["text"] == "\n\n".join(BODY) and data["language"] == "en"


def test_command_reads_an_archived_page(tmp_path):
    warc = tmp_path / "page.warc.gz"
    with open(warc, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        payload = page().encode()
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(URL, "response", payload=BytesIO(payload),
                                                      length=len(payload), http_headers=headers))
    result = run_command("--from-warc", str(warc), "--url", URL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n".join(BODY) + "\n"
    missing = run_command("--from-warc", str(warc), "--url", URL + "/other")
    assert missing.returncode != 0 and "no response record" in missing.stderr


def test_command_reads_a_br_encoded_archived_page(tmp_path):
    """A live crawl archives what the server sent, br included; the command decodes it with the brotli package
    Scrapy needs (warcio's own br decoder is written for another package and failed with a traceback)."""
    import brotli

    warc = tmp_path / "page.warc.gz"
    with open(warc, "wb") as stream:
        writer = WARCWriter(stream, gzip=True)
        payload = brotli.compress(page().encode())
        headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8"),
                                              ("Content-Encoding", "br")], protocol="HTTP/1.1")
        writer.write_record(writer.create_warc_record(URL, "response", payload=BytesIO(payload),
                                                      length=len(payload), http_headers=headers))
    result = run_command("--from-warc", str(warc), "--url", URL)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\n\n".join(BODY) + "\n"


XHTML_TEXT = {
    "ru": ["Министр иностранных дел России Сергей Лавров заявил в пятницу, что миссия США в Афганистане провалилась.",
           "По его словам, поспешный вывод войск привёл к резкому ухудшению обстановки в стране и в регионе."],
    "fr": ["Le ministre russe des Affaires étrangères a déclaré vendredi que la mission américaine avait échoué.",
           "Selon lui, le retrait précipité des troupes a entraîné une dégradation rapide de la sécurité à Kaboul."],
}


@pytest.mark.parametrize("encoding,language", [("utf-8", "ru"), ("windows-1251", "ru"), ("koi8-r", "ru"),
                                               ("iso-8859-1", "fr"), ("utf-16", "ru"), ("utf-16", "fr")])
def test_xhtml_with_an_xml_declaration(encoding, language):
    """An XHTML page starting with ``<?xml ... encoding=...?>``: the declaration is its only charset hint; lxml
    refuses a decoded string that still carries one, which cost the whole article."""
    paragraphs = XHTML_TEXT[language]
    html = (f'<?xml version="1.0" encoding="{encoding}"?>\n'
            '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
            '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">\n'
            f'<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="{language}"><head><title>Lavrov</title></head>'
            "<body><article><h1>Lavrov</h1>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</article></body></html>")
    article = extract_article(html.encode(encoding), URL)
    assert article.paragraphs == paragraphs
    assert article.title == "Lavrov" and article.declared_language == language and article.language == language
    served = extract_article(html.encode(encoding), URL, content_type=f"application/xhtml+xml; charset={encoding}")
    assert served.paragraphs == paragraphs
