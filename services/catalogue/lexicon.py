"""The search lexicon: the words citizens type ("sổ đỏ", "gplx", "nhập hộ khẩu") mapped to the
catalogue's own wording, and the words that carry no meaning in a query ("làm", "xin", "cần").

It is data, not code: entries come from `data/lexicon.toml` (each with a note and a source) and
from admins (the `lexicon_entries` table, through the API). A query is read through it into
`Slot`s: each slot is a part of the query a procedure must match, by any one of its
alternatives (all the words of one alternative, anywhere in the procedure's name or field).
The repository turns the slots into a full-text match and ranks by how specific it is.
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import islice, product
from pathlib import Path
from typing import Any, Literal

from services.catalogue.search import Word, query_words, terms

MAX_PHRASE_WORDS = 8


@dataclass(frozen=True)
class Entry:
    """One lexicon entry: the phrases citizens say, and what the catalogue calls it."""

    says: tuple[str, ...]
    means: tuple[str, ...] = ()
    note: str = ""
    source: str = ""
    noise: bool = False
    id: str | None = None
    """Admin entries have an id (they can be removed); the file's entries have none."""

    @property
    def origin(self) -> Literal["file", "admin"]:
        return "admin" if self.id else "file"

    def alternatives(self) -> list[tuple[str, ...]]:
        """The catalogue wordings as folded words, without repeats."""
        seen: dict[tuple[str, ...], None] = {}
        for phrase in self.means:
            words = tuple(terms(phrase))
            if words:
                seen.setdefault(words, None)
        return list(seen)


@dataclass(frozen=True)
class Slot:
    """A part of the query a procedure must match: all the words of any one alternative."""

    said: tuple[str, ...]
    alternatives: tuple[tuple[str, ...], ...]
    entry: Entry | None = None

    @property
    def from_lexicon(self) -> bool:
        return self.entry is not None


@dataclass(frozen=True)
class Reading:
    """A query as the lexicon reads it."""

    slots: tuple[Slot, ...]
    noise: tuple[str, ...] = ()

    @property
    def said(self) -> list[tuple[str, ...]]:
        """The lexicon phrases the query holds (folded)."""
        return [s.said for s in self.slots if s.from_lexicon]

    def with_literal(self, phrases: set[tuple[str, ...]]) -> Reading:
        """The same reading where the catalogue itself writes some of the phrases: their own
        words then count as one more alternative."""
        if not phrases:
            return self
        slots = tuple(
            Slot(s.said, (*s.alternatives, s.said), s.entry)
            if s.from_lexicon and s.said in phrases and s.said not in s.alternatives
            else s
            for s in self.slots
        )
        return Reading(slots, self.noise)

    @property
    def rewritten(self) -> bool:
        return bool(self.noise) or any(s.from_lexicon for s in self.slots)

    def phrases(self, limit: int = 8) -> list[str]:
        """The catalogue wordings the query may stand for, likeliest first (each slot's
        alternatives in order): what the ranking compares names with."""
        combos = product(*(s.alternatives for s in self.slots))
        return [" ".join(w for alt in combo for w in alt) for combo in islice(combos, limit)]


@dataclass
class Lexicon:
    entries: list[Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._index: dict[tuple[str, ...], list[tuple[tuple[str, ...], Entry]]] = {}
        self.longest = 1
        self.words: frozenset[str] = frozenset()
        for entry in self.entries:
            for phrase in entry.says:
                marked = tuple(query_words(phrase))
                folded = tuple(w.folded for w in marked)
                if not folded:
                    continue
                self._index.setdefault(folded, []).append(
                    (tuple(w.marked or w.folded for w in marked), entry)
                )
                self.longest = max(self.longest, len(folded))
        # every folded word of the phrases citizens say: typos are corrected toward these too
        self.words = frozenset(w for phrase in self._index for w in phrase)

    def read(
        self, words: Sequence[Word], literal_phrases: set[tuple[str, ...]] | None = None
    ) -> Reading:
        """Longest phrase first at each position. `literal_phrases`: the phrases the catalogue
        itself uses, whose own words then count as one more alternative (`with_literal`)."""
        slots: list[Slot] = []
        noise: list[str] = []
        i = 0
        while i < len(words):
            found = self._longest_at(words, i)
            if found is None:
                slots.append(Slot((words[i].folded,), ((words[i].folded,),)))
                i += 1
                continue
            size, entry = found
            said = tuple(w.folded for w in words[i : i + size])
            if entry.noise:
                noise.extend(said)
            else:
                slots.append(Slot(said, tuple(entry.alternatives()) or (said,), entry))
            i += size
        if not slots and noise:  # only noise: the words are all there is to search for
            return Reading(tuple(Slot((w,), ((w,),)) for w in noise))
        return Reading(tuple(slots), tuple(noise)).with_literal(literal_phrases or set())

    def _longest_at(self, words: Sequence[Word], start: int) -> tuple[int, Entry] | None:
        for size in range(min(self.longest, len(words) - start), 0, -1):
            window = words[start : start + size]
            for marks, entry in self._index.get(tuple(w.folded for w in window), ()):
                if all(
                    w.marked is None or w.marked == m for w, m in zip(window, marks, strict=True)
                ):
                    return size, entry
        return None


# -- loading -------------------------------------------------------------------------------------


class LexiconFileError(ValueError):
    pass


@lru_cache(maxsize=4)
def file_entries(path: Path) -> tuple[Entry, ...]:
    """The lexicon file's entries, read once per process (the file ships with the code)."""
    return tuple(load_file(path))


def load_file(path: Path) -> list[Entry]:
    """The entries of a lexicon file (TOML: `[[entry]]` with says, means, note, source;
    `[[noise]]` with says, note)."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    entries = [_entry(item, path, noise=False) for item in data.get("entry", [])]
    entries += [_entry(item, path, noise=True) for item in data.get("noise", [])]
    return entries


def _entry(item: dict[str, Any], path: Path, *, noise: bool) -> Entry:
    says = item.get("says")
    means = item.get("means", [])
    if not isinstance(says, list) or not says or not all(isinstance(s, str) for s in says):
        raise LexiconFileError(f"{path}: an entry without `says` phrases: {item!r}")
    if not noise and (not isinstance(means, list) or not means):
        raise LexiconFileError(f"{path}: the entry {says[0]!r} has no `means`")
    return Entry(
        says=tuple(says),
        means=tuple(means),
        note=str(item.get("note", "")),
        source=str(item.get("source", "")),
        noise=noise,
    )
