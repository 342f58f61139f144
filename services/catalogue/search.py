"""Keyword search over procedures: how documents and queries become terms, how a mistyped word
finds the term meant, and the trigram similarity the ranking uses — pg_trgm's `similarity` on
PostgreSQL, and for SQLite the Python version below, written to give the same numbers, so both
backends rank the same way."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from services.catalogue.text import accented, clean, folded

_WORD = re.compile(r"[a-z0-9]+")
_CODE = re.compile(r"^\d+\.\d+$")
# A syllable made of consonants and a final y ("ky", "ly", "my") is also written with i ("ki").
_CONSONANTS_Y = re.compile(r"^([bcdghklmnpqrstvx]+)y$")


def terms(text: str | None) -> list[str]:
    """The folded words of a text, with ky/ki written one way."""
    return [_CONSONANTS_Y.sub(r"\1i", word) for word in _WORD.findall(folded(text))]


def term_string(text: str | None) -> str:
    return " ".join(terms(text))


def max_edits(word: str) -> int:
    return 1 if len(word) <= 3 else 2


@dataclass(frozen=True)
class Word:
    """A query word, folded, with its diacritics when it was typed with them (a lexicon phrase
    must then agree with them: "sơ đồ" is not "sổ đỏ")."""

    folded: str
    marked: str | None = None


_TOKEN = re.compile(r"[^\W_]+")


def query_words(raw: str) -> list[Word]:
    """The folded words of a text in order, each with its diacritics when typed with them."""
    words: list[Word] = []
    for token in _TOKEN.findall(accented(raw)):
        folded_words = terms(token)
        if len(folded_words) == 1 and not token.isascii():
            words.append(Word(folded_words[0], token))
        else:
            words.extend(Word(w) for w in folded_words)
    return words


@dataclass(frozen=True)
class Query:
    raw: str
    accented: str
    words: tuple[str, ...]
    tokens: tuple[Word, ...] = ()

    @property
    def code(self) -> str | None:
        """The query as a procedure code ("1.001193"), when it looks like one."""
        candidate = clean(self.raw)
        return candidate if _CODE.match(candidate) else None

    @classmethod
    def parse(cls, raw: str) -> Query:
        tokens = tuple(query_words(raw))
        return cls(
            raw=raw,
            accented=accented(raw),
            words=tuple(dict.fromkeys(terms(raw))),
            tokens=tokens,
        )


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


def edit_distance(a: str, b: str) -> int:
    """Insertions, deletions, substitutions and swaps of two neighbours ("khia" → "khai"),
    each one edit (optimal string alignment; rapidfuzz's C++ implementation)."""
    return int(OSA.distance(a, b))


def near_terms(word: str, vocabulary: Mapping[str, int], limit: int = 5) -> list[str]:
    """Known terms (with their frequencies) a mistyped word may have meant, likeliest first:
    fewest edits (within `max_edits`), then most trigrams shared, then most frequent."""
    most = max_edits(word)
    near = process.extract(
        word, vocabulary.keys(), scorer=OSA.distance, score_cutoff=most, limit=None
    )
    ranked = sorted(
        (edits, -similarity(word, term), -vocabulary[term], term) for term, edits, _ in near
    )
    return [term for *_, term in ranked[:limit]]


def nearest_term(word: str, vocabulary: Mapping[str, int]) -> str:
    """The likeliest known term for a mistyped word, or the word when none is near."""
    return (near_terms(word, vocabulary, 1) or [word])[0]
