"""A procedure's forms (mẫu đơn, tờ khai): the citizens' download, and the admins' uploads and
removals of their files (each publishes a new version of the procedure)."""

from __future__ import annotations

from dataclasses import dataclass

from services.catalogue.errors import (
    FORM_NAME_REQUIRED,
    FormFileMissing,
    FormNotFound,
    ProcedureNotFound,
)
from services.catalogue.models import Form
from services.catalogue.service.base import stable_id
from services.catalogue.service.publishing import Publishing
from services.catalogue.text import clean
from services.kernel.db import utcnow
from services.kernel.errors import FieldError, Invalid
from services.kernel.storage import delete_after_commit, new_storage_key, put_in_transaction
from services.kernel.uploads import DOCUMENT_TYPES, UploadRejected, check_upload, download_name

FORM_TYPES = {k: v for k, v in DOCUMENT_TYPES.items() if not k.startswith("image/")}


@dataclass(frozen=True)
class FormFile:
    form: Form
    data: bytes


class Forms(Publishing):
    async def form_file(self, procedure_id: str, form_id: str) -> FormFile:
        procedure = await self.repo.procedure(procedure_id)
        form = await self.repo.form(procedure.id, form_id) if procedure else None
        if form is None:
            raise FormNotFound()
        if form.storage_key is None:
            raise FormFileMissing(form.name)
        return FormFile(form, await self.storage.get(form.storage_key))

    async def upload_form(
        self,
        id_or_code: str,
        *,
        form_id: str | None,
        name: str | None,
        filename: str,
        data: bytes,
    ) -> Form:
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise ProcedureNotFound()
        try:
            sniffed = check_upload(data, filename, FORM_TYPES, self.settings.max_form_bytes)
        except UploadRejected as exc:
            raise exc.problem() from exc
        if form_id:
            form = await self.repo.form(procedure.id, form_id)
            if form is None:
                raise FormNotFound()
        else:
            if not name or not clean(name):
                raise Invalid(FieldError("name", "form_name_required", FORM_NAME_REQUIRED))
            form = Form(
                id=stable_id(procedure.code, clean(name)),
                procedure_id=procedure.id,
                name=clean(name)[:300],
            )
            existing = await self.repo.form(procedure.id, form.id)
            form = existing or form
            if existing is None:
                self.repo.add(form)
        old_key = form.storage_key
        form.storage_key = new_storage_key("forms", sniffed.extension)
        await put_in_transaction(self.session, self.storage, form.storage_key, data)
        form.filename = download_name(filename, sniffed.extension)
        form.content_type = sniffed.content_type
        form.size = sniffed.size
        form.sha256 = sniffed.sha256
        form.uploaded_at = utcnow()
        await self.session.flush()
        await self.publish(procedure)
        if old_key:
            delete_after_commit(self.session, self.storage, old_key)
        return form

    async def remove_form(self, id_or_code: str, form_id: str) -> None:
        """Remove a form's file; a form the components still name stays listed, without file."""
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise ProcedureNotFound()
        form = await self.repo.form(procedure.id, form_id)
        if form is None:
            raise FormNotFound()
        old_key = form.storage_key
        named = any(c.get("form_id") == form.id for c in procedure.document.get("components") or [])
        if named:
            form.storage_key = form.filename = form.content_type = form.sha256 = None
            form.size = None
            form.uploaded_at = None
        else:
            await self.session.delete(form)
        await self.session.flush()
        await self.publish(procedure)
        if old_key:
            delete_after_commit(self.session, self.storage, old_key)
