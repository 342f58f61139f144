"""Search ranking in process, on SQLite (FTS5) over a slice of the real national catalogue: the
official name ranks first, accents are optional, typos are corrected, the lexicon's phrases
reach their procedure, a code finds its procedure. (PostgreSQL is the end-to-end suite's:
tests/test_search_words.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from services.catalogue import schemas
from services.catalogue.search import term_string
from tests.unit.catalogue.world import catalogue_service
from tests.unit.factories import run

BIRTH = "1.001193"
MARRIAGE = "1.000894"
DEATH = "1.000656"
CERTIFIED_COPY = "2.000815"


def search(catalogue_db: Path, q: str | None, **filters: str) -> schemas.ProcedurePage:
    async def main() -> schemas.ProcedurePage:
        async with catalogue_service(catalogue_db, catalogue_db.parent) as catalogue:
            return await catalogue.do(
                lambda s: s.find(
                    q,
                    agency_id=filters.get("agency_id"),
                    field_id=filters.get("field_id"),
                    tier=filters.get("tier"),
                    online=None,
                    page=1,
                    page_size=10,
                )
            )

    return run(main)


def codes(page: schemas.ProcedurePage) -> list[str]:
    return [item.code for item in page.items]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("Thủ tục đăng ký khai sinh", BIRTH),
        ("Thủ tục đăng ký kết hôn", MARRIAGE),
        ("Thủ tục đăng ký khai tử", DEATH),
    ],
)
def test_the_exact_official_name_ranks_first(catalogue_db: Path, name: str, code: str) -> None:
    page = search(catalogue_db, name)
    assert codes(page)[0] == code
    assert page.items[0].name == name
    assert page.total > 1 and page.corrected_query is None  # its variants follow


@pytest.mark.parametrize(
    "query", ["đăng ký khai sinh", "Đăng ký kết hôn", "chứng thực bản sao", "đăng ký khai tử"]
)
def test_without_accents_finds_the_same(catalogue_db: Path, query: str) -> None:
    accented = search(catalogue_db, query)
    folded = search(catalogue_db, term_string(query))
    upper = search(catalogue_db, term_string(query).upper())
    assert accented.total > 0
    assert codes(folded) == codes(upper) == codes(accented)
    assert folded.total == accented.total


@pytest.mark.parametrize(
    ("typed", "code", "meant"),
    [
        ("dang ky khai snh", BIRTH, "khai sinh"),
        ("dang ky khaii sinh", BIRTH, "khai sinh"),
        ("dang ky kett hon", MARRIAGE, "ket hon"),
    ],
)
def test_a_typo_is_corrected(catalogue_db: Path, typed: str, code: str, meant: str) -> None:
    page = search(catalogue_db, typed)
    assert codes(page)[0] == code
    assert page.corrected_query is not None and meant in page.corrected_query


def test_a_lexicon_entry_reaches_its_procedure(catalogue_db: Path) -> None:
    # "sao y" (what people say) is "chứng thực bản sao" in the catalogue; no name holds it.
    page = search(catalogue_db, "sao y")
    assert codes(page)[0] == CERTIFIED_COPY
    assert all("sao y" not in term_string(item.name) for item in page.items)
    # "làm sổ đỏ": the first land certificate, not every land procedure.
    land = search(catalogue_db, "làm sổ đỏ")
    assert land.total >= 1
    assert all("lan dau" in term_string(item.name) for item in land.items)
    assert all("giay chung nhan quyen su dung dat" in term_string(i.name) for i in land.items)


def test_a_code_finds_its_procedure_and_nonsense_finds_nothing(catalogue_db: Path) -> None:
    assert codes(search(catalogue_db, BIRTH)) == [BIRTH]
    nothing = search(catalogue_db, "xyzzy qwv")
    assert (nothing.total, nothing.items) == (0, [])


def test_filters_narrow_a_search(catalogue_db: Path) -> None:
    everywhere = search(catalogue_db, "khai sinh")
    field_id = everywhere.items[0].field.id
    in_field = search(catalogue_db, "khai sinh", field_id=field_id)
    assert 0 < in_field.total <= everywhere.total
    assert {item.field.id for item in in_field.items} == {field_id}
    commune = search(catalogue_db, "khai sinh", tier="commune")
    assert commune.total > 0 and all("commune" in item.tier for item in commune.items)


def test_an_empty_query_browses(catalogue_db: Path) -> None:
    assert search(catalogue_db, "   ").total == search(catalogue_db, None).total > 100
