"""How the lexicon reads a query, in-process (no server): longest phrase first, accents agree
when typed, noise dropped unless it is all there is, the catalogue's own phrase kept as one
more way to match; the shipped file loads and every entry has its note and source; the search
log keeps no personal data."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalogue.lexicon import Entry, Lexicon, LexiconFileError, load_file
from services.catalogue.search import query_words
from services.catalogue.search_log import SearchLog, normalised
from services.catalogue.settings import CatalogueSettings

LAND = Entry(says=("sổ đỏ", "sổ hồng"), means=("giấy chứng nhận quyền sử dụng đất",))
FIRST_LAND = Entry(says=("làm sổ đỏ",), means=("giấy chứng nhận quyền sử dụng đất lần đầu",))
NOTARY = Entry(says=("công chứng",), means=("chứng thực",))
NOISE = Entry(says=("làm", "xin", "giấy tờ gì"), noise=True)
LEXICON = Lexicon([LAND, FIRST_LAND, NOTARY, NOISE])


def read(query: str, literal: set[tuple[str, ...]] | None = None) -> list[tuple[str, ...]]:
    reading = LEXICON.read(query_words(query), literal or set())
    return [alt for slot in reading.slots for alt in slot.alternatives[:1]]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("làm sổ đỏ", [("giay", "chung", "nhan", "quyen", "su", "dung", "dat", "lan", "dau")]),
        ("LAM SO DO", [("giay", "chung", "nhan", "quyen", "su", "dung", "dat", "lan", "dau")]),
        (
            "cấp lại sổ hồng",
            [("cap",), ("lai",), ("giay", "chung", "nhan", "quyen", "su", "dung", "dat")],
        ),
        ("xin sổ đỏ", [("giay", "chung", "nhan", "quyen", "su", "dung", "dat")]),
        ("sơ đồ", [("so",), ("do",)]),  # typed with other accents: not the land certificate
        ("so đồ", [("so",), ("do",)]),
        ("giấy tờ gì", [("giay",), ("to",), ("gi",)]),  # only noise: searched as it is
    ],
)
def test_queries_are_read_longest_phrase_first(query: str, expected: list[tuple[str, ...]]) -> None:
    assert read(query) == expected


def test_noise_is_dropped_and_said() -> None:
    reading = LEXICON.read(query_words("xin công chứng giấy tờ gì"), set())
    assert reading.noise == ("xin", "giay", "to", "gi")
    assert [s.said for s in reading.slots] == [("cong", "chung")]
    assert reading.rewritten


def test_a_phrase_the_catalogue_writes_also_matches_as_written() -> None:
    reading = LEXICON.read(query_words("công chứng"), {("cong", "chung")})
    assert reading.slots[0].alternatives == (("chung", "thuc"), ("cong", "chung"))
    assert reading.phrases() == ["chung thuc", "cong chung"]


def test_a_query_the_lexicon_does_not_touch_is_read_as_typed() -> None:
    reading = LEXICON.read(query_words("đăng ký khai sinh"), set())
    assert not reading.rewritten
    assert [s.said for s in reading.slots] == [("dang",), ("ki",), ("khai",), ("sinh",)]


def test_the_shipped_lexicon_loads_with_notes_and_sources() -> None:
    entries = load_file(CatalogueSettings().lexicon_path)
    meaningful = [e for e in entries if not e.noise]
    assert len(meaningful) >= 10
    assert all(e.note and e.source for e in meaningful), [e.says for e in meaningful if not e.note]
    assert any(e.noise for e in entries)


def test_a_broken_lexicon_file_is_refused_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "lexicon.toml"
    broken.write_text('[[entry]]\nsays = ["sổ đỏ"]\nnote = "no means"\n')
    with pytest.raises(LexiconFileError, match="no `means`"):
        load_file(broken)


def test_the_search_log_masks_numbers_and_bounds_its_memory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert normalised("Khai sinh cho bé, SĐT 0912 345 678 / CCCD 038123456789") == (
        "khai sinh cho be sdt 0912 345 678 cccd #"
    )
    assert normalised("  !!! ") == ""
    monkeypatch.setattr("services.catalogue.search_log.MAX_KEPT", 2)
    log = SearchLog()
    for q in ("a", "b", "c", "a"):
        log.searched(q, 1)
    assert sorted(q for q, _ in log.searches) == ["a", "b"]
    assert sum(log.searches.values()) == 3
