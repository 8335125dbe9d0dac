"""What a text file holds and what it is called: the one format both dedup and the text files use.

``NNN_<16 hex>.txt``: ``NNN`` numbers files in arrival order per topic (three digits, wider past 999); the hex is
the start of the sha256 of the article's canonical URL, so the same article can never get two names. Content:
`` date YYYY-MM-DD <title>`` when the date is known (else the title alone), a blank line, the body paragraphs
separated by blank lines, one final newline; UTF-8, NFC, ``\\n``, no control or bidirectional characters.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from typing import Iterable

from crawler.text import strip_bidi

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")


def url_hash(canonical_url: str) -> str:
    """The first 16 hex digits of the sha256 of the canonical URL: the stable half of a file name."""
    return hashlib.sha256(canonical_url.encode("utf-8")).hexdigest()[:16]


def file_name(sequence: int, canonical_url: str) -> str:
    if sequence < 0:
        raise ValueError(f"sequence must not be negative: {sequence}")
    return f"{sequence:03d}_{url_hash(canonical_url)}.txt"


def clean_line(text: str | None) -> str:
    """One line of text: NFC, no control characters, no bidirectional controls (crawler.text), single spaces."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    if not text.isprintable():  # printable text has none of the control characters: skip the regex
        text = strip_bidi(_CONTROL.sub(" ", text))
    return " ".join(text.split())


def render_text(title: str | None, paragraphs: Iterable[str], published: str | None) -> str:
    """The text file's content for an article (see the module docstring for the format)."""
    head = clean_line(title)
    day = clean_line(published)[:10]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", day):
        head = f" date {day} {head}".rstrip(" ") if head else f" date {day} "
    body = [line for line in (clean_line(p) for p in paragraphs) if line]
    blocks = ([head] if head else []) + body
    return "\n\n".join(blocks) + "\n"


def text_sha256(content: str) -> str:
    return hashlib.sha256(content.encode("utf-8")).hexdigest()
