"""Untrusted text made safe for the report: names, titles and URLs come from the web.

Both renderings treat them as text: Unicode bidirectional controls are removed (``crawler.text.strip_bidi``),
HTML is escaped, markdown characters that would make a link, an image, HTML or emphasis are backslash-escaped,
and only an http(s) URL becomes a link (percent-encoded, so it cannot end the link early); any other
(``javascript:``, ``data:``) is shown as plain text. Every section renders through these helpers.
"""

from __future__ import annotations

import html
import re
from typing import Any
from urllib.parse import quote

from crawler.text import strip_bidi


def plain(value: Any) -> str:
    """A value as one line of display text: no bidirectional controls, no line breaks."""
    return " ".join(strip_bidi("" if value is None else str(value)).split())


def esc(value: Any) -> str:
    """A value as HTML text (attribute-safe: quotes escaped too)."""
    return html.escape(plain(value), quote=True)


_URL_SAFE = ":/?#[]@!$&'*+,;=%~-._"  # kept as they are; anything else (spaces, quotes, <>, (), |, \\) is encoded


def href(url: Any) -> str | None:
    """``url`` percent-encoded for a link target if it is an http(s) URL, else None (shown as text, not linked).
    The scheme is checked on the encoded form, which is exactly what a browser gets."""
    target = quote(strip_bidi(str(url or "")).strip(), safe=_URL_SAFE)
    return target if re.match(r"https?://[^/]", target, re.IGNORECASE) else None


def text_href(file: Any) -> str:
    """The relative link to a text file of the archive (``text/NNN_hex.txt``), encoded."""
    return "text/" + quote(plain(file))


def html_link(url: Any, label: Any, css: str | None = None) -> str:
    """``label`` linked to ``url`` when it is http(s); otherwise the label and the URL as text."""
    target = href(url)
    attribute = f' class="{css}"' if css else ""
    if target:
        return f'<a{attribute} href="{html.escape(target, quote=True)}">{esc(label)}</a>'
    return f"<span{attribute}>{esc(label)}: {esc(url)}</span>" if url else f"<span{attribute}>{esc(label)}</span>"


_MD_SPECIAL = re.compile(r"([\\`*_~\[\]<>|])")


def md(value: Any) -> str:
    """Text for markdown (a table cell, a list item): nothing in it can form a link, an image, HTML, code or
    emphasis (an escaped ``[`` starts no link or image, an escaped ``<`` no tag or autolink)."""
    return _MD_SPECIAL.sub(r"\\\1", plain(value))


def md_code(value: Any) -> str:
    """``value`` as a markdown code span, fenced by more backticks than it holds in a row."""
    text = plain(value)
    fence = "`" * (max((len(run) for run in re.findall(r"`+", text)), default=0) + 1)
    return f"{fence} {text} {fence}"


def md_link(url: Any, label: Any) -> str:
    """``label`` linked to ``url`` when it is http(s); otherwise the label and the URL as text."""
    target = href(url)
    return f"[{md(label)}]({target})" if target else (f"{md(label)}: {md(url)}" if url else md(label))
