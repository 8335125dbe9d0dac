"""Text from the web made safe to show: below the report and the text files, so both use one definition.

Unicode's bidirectional controls (embeddings, overrides, isolates, the direction marks) reorder how the characters
around them are displayed: a title holding U+202E shows its text reversed, and can make a file name or a URL read as
another. No article needs them to be read (the direction of Arabic or Hebrew text comes from its letters), so they
are removed. A ``str.translate`` table is all this takes; no library is needed for it.
"""

from __future__ import annotations

# U+061C ARABIC LETTER MARK, U+200E/U+200F LEFT-TO-RIGHT/RIGHT-TO-LEFT MARK, U+202A-U+202E embeddings and overrides
# (LRE, RLE, PDF, LRO, RLO), U+2066-U+2069 isolates (LRI, RLI, FSI, PDI).
BIDI_CONTROLS = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_NO_BIDI = dict.fromkeys(map(ord, BIDI_CONTROLS))


def strip_bidi(text: str) -> str:
    """``text`` without Unicode bidirectional control characters (``BIDI_CONTROLS``)."""
    return text.translate(_NO_BIDI)
