"""Every admin change publishes, in process on SQLite: a change of a procedure is a new version
(its snapshot recorded, a `dossiers.procedure_published` message staged, the search index and
vocabulary updated); an agency change sends the agency tree; checks refuse at the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from services.catalogue import schemas
from services.kernel.errors import ProblemError
from tests.unit.catalogue.world import Catalogue, catalogue_service
from tests.unit.factories import run

BIRTH = "1.001193"


def find(catalogue: Catalogue, q: str) -> Any:
    return catalogue.do(
        lambda s: s.find(
            q, agency_id=None, field_id=None, tier=None, online=None, page=1, page_size=10
        )
    )


def test_an_admin_change_publishes_a_new_version(catalogue_db: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with catalogue_service(catalogue_db, tmp_path) as catalogue:
            before = await catalogue.do(lambda s: s.detail(BIRTH))
            published_before = len(await catalogue.published())
            revision = await catalogue.do(lambda s: s.repo.revision())

            change = schemas.ProcedureUpdate(processing_days=2, steps=["Nộp hồ sơ", "Nhận kết quả"])
            after = await catalogue.do(lambda s: s.update_procedure(BIRTH, change))

            assert after.version == before.version + 1
            assert (after.processing_days, after.processing_time_source) == (2, "admin")
            assert after.steps == ["Nộp hồ sơ", "Nhận kết quả"]
            assert after.name == before.name and after.components == before.components
            assert await catalogue.do(lambda s: s.detail(BIRTH)) == after

            versions = await catalogue.versions(after.id)
            assert [v["version"] for v in versions][-2:] == [before.version, after.version]
            assert versions[-1]["processing_days"] == 2
            assert versions[-2]["processing_days"] == before.processing_days  # kept as it was

            messages = (await catalogue.published())[published_before:]
            assert [m["task"] for m in messages] == ["dossiers.procedure_published"]
            sent = messages[0]["procedure"]
            assert (sent["code"], sent["version"], sent["processing_days"]) == (
                BIRTH,
                after.version,
                2,
            )
            assert sent["field_name"] == after.field.name
            assert await catalogue.do(lambda s: s.repo.revision()) > revision  # caches refresh

    run(main)


def test_a_renamed_procedure_is_found_by_its_new_name(catalogue_db: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with catalogue_service(catalogue_db, tmp_path) as catalogue:
            unknown = await find(catalogue, "Vũng Áng")  # not a word of the catalogue yet
            assert unknown.corrected_query is not None
            renamed = "Thủ tục đăng ký khai sinh tại khu kinh tế Vũng Áng"
            rename = schemas.ProcedureUpdate(name=renamed)
            await catalogue.do(lambda s: s.update_procedure(BIRTH, rename))
            found = await find(catalogue, "vung ang")
            assert ([i.code for i in found.items], found.corrected_query) == ([BIRTH], None)
            typo = await find(catalogue, "vungg angg")  # the new words are in the vocabulary
            assert [item.code for item in typo.items][:1] == [BIRTH]

    run(main)


def test_a_retired_procedure_leaves_search_and_is_published(
    catalogue_db: Path, tmp_path: Path
) -> None:
    async def main() -> None:
        async with catalogue_service(catalogue_db, tmp_path) as catalogue:
            assert BIRTH in [i.code for i in (await find(catalogue, "khai sinh")).items]
            await catalogue.do(lambda s: s.retire_procedure(BIRTH))
            assert BIRTH not in [i.code for i in (await find(catalogue, "khai sinh")).items]
            last = (await catalogue.published())[-1]
            assert last["procedure"]["code"] == BIRTH and last["procedure"]["retired"] is True
            assert (await catalogue.do(lambda s: s.detail(BIRTH))).retired is True
            with pytest.raises(ProblemError) as again:
                await catalogue.do(lambda s: s.retire_procedure(BIRTH))
            assert again.value.status == 404

    run(main)


def test_an_agency_change_publishes_the_agency_tree(catalogue_db: Path, tmp_path: Path) -> None:
    async def main() -> None:
        async with catalogue_service(catalogue_db, tmp_path) as catalogue:
            province = (await catalogue.do(lambda s: s.repo.agencies("province", None)))[0]
            new = schemas.AgencyIn(
                id="SO-THU-NGHIEM", name="Sở Thử nghiệm", tier="department", parent_id=province.id
            )
            await catalogue.do(lambda s: s.create_agency(new))
            first = (await catalogue.published())[-1]
            assert first["task"] == "dossiers.agencies_published"
            assert "SO-THU-NGHIEM" in {a["id"] for a in first["agencies"]}
            await catalogue.do(lambda s: s.retire_agency("SO-THU-NGHIEM"))
            second = (await catalogue.published())[-1]
            assert second["revision"] > first["revision"]
            retired = {a["id"]: a["retired"] for a in second["agencies"]}
            assert retired["SO-THU-NGHIEM"] is True

    run(main)


def test_a_province_procedure_without_its_agency_is_refused_at_the_field(
    catalogue_db: Path, tmp_path: Path
) -> None:
    async def main() -> None:
        async with catalogue_service(catalogue_db, tmp_path) as catalogue:
            birth = await catalogue.do(lambda s: s.detail(BIRTH))
            published = len(await catalogue.published())
            data = schemas.ProcedureIn(
                code="9.999002",
                name="Thủ tục thử nghiệm cấp tỉnh",
                field_id=birth.field.id,
                tier=["province"],
            )
            with pytest.raises(ProblemError) as refused:
                await catalogue.do(lambda s: s.create_procedure(data))
            error = refused.value
            assert (error.status, error.code) == (422, "validation")
            assert [(e.field, e.code) for e in error.errors or []] == [
                ("agency_id", "agency_required")
            ]
            assert len(await catalogue.published()) == published  # nothing was published

    run(main)
