"""Housekeeping of the dossiers database on SQLite: drafts nobody touched for long go, with
their history and files; sent dossiers and recent drafts stay."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import select, update

from services.dossiers.maintenance import count_old_drafts, purge_old_drafts
from services.dossiers.models import Dossier, DossierFile
from services.kernel.db import utcnow
from tests.unit.factories import citizen, dossiers_service, draft, published, run, sent

FULL = {"full_name": "Phạm Văn Dũng", "email": "dung@example.vn"}


def test_old_drafts_go_with_their_files(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer = citizen()
            procedure = await published(world)
            old = await draft(world, filer, procedure, files=("c1", "c2"))
            recent = await draft(world, filer, procedure)
            sent_long_ago = await sent(world, filer, procedure, applicant=FULL)
            async with world.db.sessionmaker() as session:
                keys = list(
                    await session.scalars(
                        select(DossierFile.storage_key).where(DossierFile.dossier_id == old.id)
                    )
                )
                await session.execute(
                    update(Dossier)
                    .where(Dossier.id.in_([old.id, sent_long_ago.id]))
                    .values(updated_at=utcnow() - dt.timedelta(days=40))
                )
                await session.commit()
            assert len(keys) == 2 and all([await world.storage.get(k) for k in keys])

            month = dt.timedelta(days=30)
            assert await count_old_drafts(world.db, month) == 1
            assert await purge_old_drafts(world.db, world.storage, month) == (1, 2)
            async with world.db.sessionmaker() as session:
                left = set(await session.scalars(select(Dossier.id)))
            assert left == {recent.id, sent_long_ago.id}
            for key in keys:
                assert not (world.storage.root / key).exists()
            assert await purge_old_drafts(world.db, world.storage, month) == (0, 0)

    run(main)
