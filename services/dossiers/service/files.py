"""A dossier's files: the filer's attachments (checked by content, bounded per file and per
dossier, stored with the transaction) and the officers' result files, and reading them back."""

from __future__ import annotations

from services.dossiers.errors import (
    ComponentNotFound,
    DossierNotFound,
    DossierTooLarge,
    FileNotFound,
)
from services.dossiers.lifecycle import Action
from services.dossiers.models import Dossier, DossierFile
from services.dossiers.service.access import Actor, ServiceBase, tracking_matches
from services.kernel.db import new_id
from services.kernel.storage import delete_after_commit, new_storage_key, put_in_transaction
from services.kernel.uploads import DOSSIER_TYPES, UploadRejected, check_upload, download_name


class Files(ServiceBase):
    """Attachments (the filer) and result files (officers), and reading them back."""

    async def attach(
        self,
        dossier_id: str,
        component_id: str,
        actor: Actor,
        filename: str,
        data: bytes,
    ) -> DossierFile:
        dossier = await self._open(dossier_id, actor, Action.ATTACH, for_update=True)
        if component_id not in {c["id"] for c in dossier.procedure.get("components", [])}:
            raise ComponentNotFound()
        used = sum(f.size for f in await self.repo.files(dossier.id, "attachment"))
        return await self._store(dossier, component_id, "attachment", filename, data, used)

    async def _store(
        self,
        dossier: Dossier,
        component_id: str | None,
        kind: str,
        filename: str,
        data: bytes,
        used: int,
    ) -> DossierFile:
        try:
            checked = check_upload(data, filename, DOSSIER_TYPES, self.settings.max_file_bytes)
        except UploadRejected as exc:
            raise exc.problem() from exc
        if used + checked.size > self.settings.max_dossier_bytes:
            raise DossierTooLarge(self.settings.max_dossier_bytes)
        key = new_storage_key(dossier.id, checked.extension)
        await put_in_transaction(self.session, self.storage, key, data)
        stored = DossierFile(
            id=new_id(),
            dossier_id=dossier.id,
            component_id=component_id,
            kind=kind,
            filename=download_name(filename, checked.extension),
            content_type=checked.content_type,
            size=checked.size,
            sha256=checked.sha256,
            storage_key=key,
        )
        self.repo.add(stored)
        await self.session.flush()
        return stored

    async def detach(self, dossier_id: str, component_id: str, file_id: str, actor: Actor) -> None:
        """Remove an attachment; the file leaves storage once that is committed."""
        dossier = await self._open(dossier_id, actor, Action.DETACH, for_update=True)
        stored = await self.repo.file(dossier.id, file_id, "attachment", component_id)
        if stored is None:
            raise FileNotFound()
        await self.session.delete(stored)
        await self.session.flush()
        delete_after_commit(self.session, self.storage, stored.storage_key)

    async def read_file(
        self, dossier_id: str, file_id: str, actor: Actor, *, kind: str
    ) -> tuple[DossierFile, bytes]:
        dossier = await self._open(dossier_id, actor, Action.READ_FILE)
        return await self._file_of(dossier, file_id, kind)

    async def _file_of(
        self, dossier: Dossier, file_id: str, kind: str
    ) -> tuple[DossierFile, bytes]:
        stored = await self.repo.file(dossier.id, file_id, kind)
        if stored is None:
            raise FileNotFound()
        return stored, await self.storage.get(stored.storage_key)

    async def result_file(
        self, dossier_id: str, file_id: str, actor: Actor | None, tracking: str | None
    ) -> tuple[DossierFile, bytes]:
        """A result file, for whoever may see the dossier or holds its tracking token."""
        if actor is not None and actor.role != "accountless":
            dossier = await self._open(dossier_id, actor, Action.READ_RESULT)
            return await self._file_of(dossier, file_id, "result")
        tracked = await self.repo.dossier(dossier_id)
        if tracked is None or not tracking_matches(tracked, tracking):
            raise DossierNotFound()
        return await self._file_of(tracked, file_id, "result")
