"""Vietnamese text as the catalogue stores and searches it.

`clean` is what the importer keeps (NFC, one space, no U+00A0); `accented` and `folded` are the
two search forms of design.md: case-folded with one tone placement, and the same without marks
(đ → d). Queries and documents go through the same functions, so they meet in the same forms.
"""

from __future__ import annotations

import re
import unicodedata

_SPACES = re.compile(r"[\s\u00a0\u2000-\u200b\u202f\u205f\u3000\ufeff]+")
_TONES = "\u0300\u0301\u0303\u0309\u0323"  # grave, acute, tilde, hook above, dot below
# Old placement puts the tone on the second vowel of an open "oa", "oe", "uy" syllable ("hoà",
# "thuỷ"); the new one on the first ("hòa", "thủy"). Both occur in the national catalogue.
_OLD_TONE = re.compile(rf"([ou])([aey])([{_TONES}])(?![^\W\d_])")
_QU = re.compile(r"(?<![^\W\d_])q$")


def clean(text: str | None) -> str:
    """NFC, every kind of space collapsed to one, trimmed."""
    if not text:
        return ""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", text)).strip()


def _new_tone_placement(decomposed: str) -> str:
    def move(match: re.Match[str]) -> str:
        before = decomposed[: match.start()]
        if match.group(1) == "u" and _QU.search(before):  # "quý": the u is the consonant's
            return match.group(0)
        return match.group(1) + match.group(3) + match.group(2)

    return _OLD_TONE.sub(move, decomposed)


def accented(text: str | None) -> str:
    """Case-folded, cleaned, with the new tone placement: the exact-match search form."""
    decomposed = unicodedata.normalize("NFD", clean(text).casefold())
    return unicodedata.normalize("NFC", _new_tone_placement(decomposed))


def folded(text: str | None) -> str:
    """Accent-free and case-folded, đ → d: the form that matches however people type."""
    decomposed = unicodedata.normalize("NFD", clean(text).casefold().replace("đ", "d"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))
