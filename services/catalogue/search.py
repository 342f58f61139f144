"""Keyword search over procedures: how documents and queries become terms, and the measures the
ranking uses. PostgreSQL computes `similarity` with pg_trgm and `levenshtein` with
fuzzystrmatch; SQLite gets the Python versions below, written to give the same numbers, so both
backends rank the same way."""

from __future__ import annotations

import re
from dataclasses import dataclass

from services.catalogue.text import accented, clean, folded

_WORD = re.compile(r"[a-z0-9]+")
_CODE = re.compile(r"^\d+\.\d+$")
# A syllable made of consonants and a final y ("ky", "ly", "my") is also written with i ("ki").
_CONSONANTS_Y = re.compile(r"^([bcdghklmnpqrstvx]+)y$")

SIMILARITY_THRESHOLD = 0.2
"""Vocabulary terms at least this similar to an unknown query word are candidate corrections."""


def terms(text: str | None) -> list[str]:
    """The folded words of a text, with ky/ki written one way."""
    return [_CONSONANTS_Y.sub(r"\1i", word) for word in _WORD.findall(folded(text))]


def term_string(text: str | None) -> str:
    return " ".join(terms(text))


def max_edits(word: str) -> int:
    return 1 if len(word) <= 3 else 2


@dataclass(frozen=True)
class Query:
    raw: str
    accented: str
    words: tuple[str, ...]

    @property
    def code(self) -> str | None:
        """The query as a procedure code ("1.001193"), when it looks like one."""
        candidate = clean(self.raw)
        return candidate if _CODE.match(candidate) else None

    @classmethod
    def parse(cls, raw: str) -> Query:
        return cls(raw=raw, accented=accented(raw), words=tuple(dict.fromkeys(terms(raw))))


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: each word padded with two spaces before and one after."""
    grams: set[str] = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        padded = f"  {word} "
        grams.update(padded[i : i + 3] for i in range(len(padded) - 2))
    return grams


def similarity(a: str | None, b: str | None) -> float:
    """pg_trgm's `similarity`: shared trigrams over all trigrams of both."""
    if a is None or b is None:
        return 0.0
    ta, tb = trigrams(a), trigrams(b)
    if not ta or not tb:
        return 0.0
    common = len(ta & tb)
    return common / (len(ta) + len(tb) - common)


def levenshtein(a: str | None, b: str | None) -> int:
    """fuzzystrmatch's `levenshtein`: insertions, deletions and substitutions, each cost 1."""
    if a is None or b is None:
        return 0
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]
