"""The catalogue's rules: what a procedure looks like to citizens, how every change becomes a
new published version (and a message to the dossiers service), and what admins may change."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue import schemas
from services.catalogue.declarations import declaration_schema
from services.catalogue.lexicon import file_entries
from services.catalogue.models import (
    Agency,
    Field,
    Form,
    OutboxMessage,
    Procedure,
    ProcedureVersion,
)
from services.catalogue.repository import (
    CatalogueRepository,
    ProcedureFilter,
    SearchResult,
    procedure_terms,
)
from services.catalogue.search import Query, term_string
from services.catalogue.settings import CatalogueSettings
from services.catalogue.text import accented, clean
from services.kernel.contracts import (
    PROCESSING_TIME_UNKNOWN,
    AgenciesPublishedV1,
    ProcedurePublishedV1,
    PublishedAgency,
    PublishedProcedure,
)
from services.kernel.db import new_id, utcnow
from services.kernel.errors import ProblemError, Text, field_error
from services.kernel.outbox import add_message
from services.kernel.storage import (
    FileStorage,
    delete_after_commit,
    new_storage_key,
    put_in_transaction,
)
from services.kernel.uploads import DOCUMENT_TYPES, UploadRejected, check_upload

FORM_TYPES = {k: v for k, v in DOCUMENT_TYPES.items() if not k.startswith("image/")}
NULL_KEEPS = frozenset(
    {"name", "field_id", "tier", "online", "fees", "steps", "legal_basis", "components"}
    | {"present_at_counter", "notes"}
)
"""Fields of a procedure update where null means "unchanged" (they cannot be empty)."""
CONTENT_FIELDS = (
    "fees",
    "steps",
    "legal_basis",
    "conditions",
    "result",
    "subjects",
    "components",
    "declaration_schema",
    "present_at_counter",
    "notes",
)


ADMIN = "admin"
"""`Procedure.processing_time_source` of a processing time an admin set (a re-import keeps it)."""


def stable_id(*parts: str, length: int = 16) -> str:
    """Ids that stay the same when the same catalogue is imported again."""
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:length]


def field_id_for(name: str) -> str:
    return "-".join(term_string(name).split())[:120] or stable_id(name)


def component_ids(code: str, components: Sequence[dict[str, Any]]) -> list[str]:
    ids: list[str] = []
    for component in components:
        base = stable_id(code, component.get("group") or "", component["name"], length=12)
        candidate, n = base, 1
        while candidate in ids:
            n += 1
            candidate = f"{base}-{n}"
        ids.append(candidate)
    return ids


def not_found(what: Text) -> ProblemError:
    return ProblemError("not-found", what, status=404)


PROCEDURE_NOT_FOUND = Text("Không tìm thấy thủ tục hành chính.", "No such procedure.")
AGENCY_NOT_FOUND = Text("Không tìm thấy cơ quan.", "No such agency.")
FIELD_NOT_FOUND = Text("Không tìm thấy lĩnh vực.", "No such field.")


@dataclass(frozen=True)
class FormFile:
    form: Form
    data: bytes


class CatalogueService:
    def __init__(
        self,
        session: AsyncSession,
        settings: CatalogueSettings,
        storage: FileStorage,
        commune_tiers: tuple[str, ...],
    ) -> None:
        self.session = session
        self.repo = CatalogueRepository(session)
        self.settings = settings
        self.storage = storage
        self.commune_tiers = commune_tiers

    # -- reading -----------------------------------------------------------------------------

    async def agency_detail(self, agency_id: str) -> schemas.AgencyDetail:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise not_found(AGENCY_NOT_FOUND)
        parent = await self.repo.agency(agency.parent_id) if agency.parent_id else None
        children = await self.repo.children(agency.id)
        return schemas.AgencyDetail(
            id=agency.id,
            name=agency.name,
            tier=agency.tier,  # type: ignore[arg-type]  # a tier, typed str by the model
            parent_id=agency.parent_id,
            parent=schemas.AgencyRef.model_validate(parent) if parent else None,
            children=[schemas.AgencyRef.model_validate(c) for c in children],
        )

    async def fields(self, tier: str | None) -> list[schemas.FieldOut]:
        rows = await self.repo.fields_with_counts(
            ProcedureFilter(tier=tier, commune_tiers=self.commune_tiers)
        )
        return [schemas.FieldOut(id=f.id, name=f.name, procedures=n) for f, n in rows]

    async def find(
        self,
        q: str | None,
        *,
        agency_id: str | None,
        field_id: str | None,
        tier: str | None,
        online: str | None,
        page: int,
        page_size: int,
    ) -> schemas.ProcedurePage:
        agency = None
        if agency_id:
            agency = await self.repo.agency(agency_id)
            if agency is None:
                raise not_found(AGENCY_NOT_FOUND)
        flt = ProcedureFilter(
            agency=agency,
            commune_tiers=self.commune_tiers,
            field_id=field_id,
            tier=tier,
            online=online,
        )
        offset = (page - 1) * page_size
        if q and clean(q):
            lexicon = await self.repo.lexicon(file_entries(self.settings.lexicon_path))
            result = await self.repo.search(Query.parse(q), flt, offset, page_size, lexicon)
        else:
            result = await self.repo.browse(flt, offset, page_size)
        return await self._page(result, page, page_size)

    async def _page(self, result: SearchResult, page: int, page_size: int) -> schemas.ProcedurePage:
        agencies: dict[str, Agency | None] = {}
        fields: dict[str, Field | None] = {}
        items = []
        for procedure in result.procedures:
            items.append(await self._summary(procedure, agencies, fields))
        return schemas.ProcedurePage(
            items=items,  # type: ignore[arg-type]  # dicts: pydantic validates each summary
            total=result.total,
            page=page,
            page_size=page_size,
            corrected_query=" ".join(result.corrected) if result.corrected else None,
        )

    async def _summary(
        self,
        procedure: Procedure,
        agencies: dict[str, Agency | None] | None = None,
        fields: dict[str, Field | None] | None = None,
    ) -> dict[str, Any]:
        agencies = {} if agencies is None else agencies
        fields = {} if fields is None else fields
        agency = None
        if procedure.agency_id:
            if procedure.agency_id not in agencies:
                agencies[procedure.agency_id] = await self.repo.agency(procedure.agency_id)
            agency = agencies[procedure.agency_id]
        if procedure.field_id not in fields:
            fields[procedure.field_id] = await self.repo.field(procedure.field_id)
        field = fields[procedure.field_id]
        return {
            "id": procedure.id,
            "code": procedure.code,
            "name": procedure.name,
            "tier": tiers_of(procedure),
            "agency": (
                {"id": agency.id, "name": agency.name, "tier": agency.tier} if agency else None
            ),
            "field": {"id": field.id, "name": field.name} if field else None,
            "online": procedure.online,
            "processing_days": procedure.processing_days,
            "processing_time_source": procedure.processing_time_source,
            "processing_time_note": (
                PROCESSING_TIME_UNKNOWN if procedure.processing_days is None else None
            ),
            "version": procedure.version,
        }

    async def detail(self, id_or_code: str) -> dict[str, Any]:
        procedure = await self.repo.procedure(id_or_code)
        if procedure is None:
            raise not_found(PROCEDURE_NOT_FOUND)
        return await self._detail(procedure)

    async def _detail(self, procedure: Procedure) -> dict[str, Any]:
        document = procedure.document
        forms = await self.repo.forms(procedure.id)
        return {
            **await self._summary(procedure),
            **{key: document.get(key) for key in CONTENT_FIELDS},
            "fees": document.get("fees") or [],
            "steps": document.get("steps") or [],
            "legal_basis": document.get("legal_basis") or [],
            "components": document.get("components") or [],
            "present_at_counter": document.get("present_at_counter") or [],
            "notes": document.get("notes") or [],
            "forms": [
                {
                    "id": f.id,
                    "name": f.name,
                    "filename": f.filename,
                    "content_type": f.content_type,
                    "size": f.size,
                    "available": f.storage_key is not None,
                }
                for f in forms
            ],
            "source_url": document.get("source_url"),
            "processing_time_basis": document.get("processing_time_basis"),
            "retired": procedure.retired,
        }

    async def form_file(self, procedure_id: str, form_id: str) -> FormFile:
        procedure = await self.repo.procedure(procedure_id)
        form = await self.repo.form(procedure.id, form_id) if procedure else None
        if form is None:
            raise not_found(Text("Không tìm thấy mẫu đơn, tờ khai.", "No such form."))
        if form.storage_key is None:
            raise ProblemError(
                "form-file-missing",
                Text(
                    f"Mẫu “{form.name}” chưa có tệp để tải về.",
                    f"The form “{form.name}” has no file to download yet.",
                ),
                status=404,
            )
        return FormFile(form, await self.storage.get(form.storage_key))

    # -- publishing --------------------------------------------------------------------------

    async def publish(self, procedure: Procedure, *, first: bool = False) -> None:
        """Record the procedure's current state as a new version and tell the dossiers
        service, in the caller's transaction."""
        if not first:
            procedure.version += 1
        procedure.updated_at = utcnow()
        await self.session.flush()
        detail = await self._detail(procedure)
        self.repo.add(
            ProcedureVersion(
                id=new_id(), procedure_id=procedure.id, version=procedure.version, snapshot=detail
            )
        )
        agency = detail["agency"]
        published = PublishedProcedure.model_validate(
            {
                **detail,
                "agency_id": agency["id"] if agency else None,
                "agency_name": agency["name"] if agency else None,
                "field_id": detail["field"]["id"],
                "field_name": detail["field"]["name"],
            }
        )
        add_message(
            self.session,
            OutboxMessage,
            ProcedurePublishedV1(message_id=new_id(), procedure=published),
        )
        await self.repo.index_procedure(procedure)
        await self.repo.bump_revision()

    async def publish_agencies(self) -> None:
        """Send the whole agency tree to the dossiers service (after any agency change)."""
        await self.repo.bump_revision()
        agencies = await self.agencies_of(self.session)
        add_message(
            self.session,
            OutboxMessage,
            AgenciesPublishedV1(
                message_id=new_id(),
                revision=await self.repo.revision(),
                commune_tiers=list(self.commune_tiers),
                agencies=[
                    PublishedAgency(
                        id=a.id,
                        name=a.name,
                        tier=a.tier,  # type: ignore[arg-type]  # a tier, typed str by the model
                        parent_id=a.parent_id,
                        retired=a.retired,
                    )
                    for a in agencies
                ],
            ),
        )

    def index_fields(self, procedure: Procedure, field: Field) -> None:
        procedure.name_accented = accented(procedure.name)
        procedure.name_folded = term_string(procedure.name)
        procedure.search_document = procedure_terms(procedure.name, field.name)

    # -- admin: agencies and fields ----------------------------------------------------------

    async def create_agency(self, data: schemas.AgencyIn, lang: str) -> Agency:
        if await self.repo.agency(data.id) is not None:
            raise ProblemError(
                "conflict", Text("Mã cơ quan đã tồn tại.", "An agency with this id exists.")
            )
        await self._check_parent(data.tier, data.parent_id, lang)
        agency = Agency(id=data.id, name=data.name, tier=data.tier, parent_id=data.parent_id)
        self.repo.add(agency)
        await self.session.flush()
        await self.publish_agencies()
        return agency

    async def _check_parent(self, tier: str, parent_id: str | None, lang: str) -> None:
        if parent_id is None:
            if tier != "province":
                raise _invalid("parent_id", "parent_required", PARENT_REQUIRED, lang)
            return
        parent = await self.repo.agency(parent_id)
        if parent is None or parent.retired:
            raise _invalid("parent_id", "parent_unknown", PARENT_UNKNOWN, lang)
        if parent.tier not in ALLOWED_PARENTS[tier]:
            raise _invalid("parent_id", "parent_tier", PARENT_TIER, lang)

    async def update_agency(self, agency_id: str, data: schemas.AgencyUpdate, lang: str) -> Agency:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise not_found(AGENCY_NOT_FOUND)
        if data.name:
            agency.name = data.name
        if "parent_id" in data.model_fields_set and data.parent_id != agency.parent_id:
            if data.parent_id == agency.id:
                raise _invalid("parent_id", "parent_tier", PARENT_TIER, lang)
            await self._check_parent(agency.tier, data.parent_id, lang)
            agency.parent_id = data.parent_id
        await self.session.flush()
        await self.publish_agencies()
        return agency

    async def retire_agency(self, agency_id: str) -> None:
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired:
            raise not_found(AGENCY_NOT_FOUND)
        if await self.repo.children(agency.id):
            raise ProblemError(
                "conflict",
                Text(
                    "Cơ quan còn đơn vị trực thuộc; hãy chuyển hoặc ngừng các đơn vị đó trước.",
                    "The agency still has units under it; move or retire them first.",
                ),
            )
        result = await self.repo.browse(ProcedureFilter(agency=agency), 0, 1)
        if agency.tier in ("province", "department") and result.total:
            raise ProblemError(
                "conflict",
                Text(
                    f"Cơ quan còn thực hiện {result.total} thủ tục; hãy chuyển chúng trước.",
                    f"The agency still performs {result.total} procedures; move them first.",
                ),
            )
        agency.retired = True
        await self.session.flush()
        await self.publish_agencies()

    async def create_field(self, data: schemas.FieldIn) -> Field:
        if await self.repo.field_by_name(data.name) is not None:
            raise ProblemError(
                "conflict", Text("Lĩnh vực này đã tồn tại.", "This field already exists.")
            )
        field = Field(id=field_id_for(data.name), name=data.name)
        if await self.repo.field(field.id) is not None:
            field.id = f"{field.id[:100]}-{new_id()[:8]}"
        self.repo.add(field)
        await self.repo.bump_revision()
        await self.session.flush()
        return field

    async def update_field(self, field_id: str, data: schemas.FieldIn) -> Field:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise not_found(FIELD_NOT_FOUND)
        other = await self.repo.field_by_name(data.name)
        if other is not None and other.id != field.id:
            raise ProblemError(
                "conflict", Text("Lĩnh vực này đã tồn tại.", "This field already exists.")
            )
        field.name = data.name
        await self.repo.bump_revision()
        await self.session.flush()
        return field

    async def retire_field(self, field_id: str) -> None:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise not_found(FIELD_NOT_FOUND)
        in_use = await self.repo.active_procedures_in_field(field.id)
        if in_use:
            raise ProblemError(
                "conflict",
                Text(
                    f"Lĩnh vực còn {in_use} thủ tục; hãy chuyển chúng trước.",
                    f"The field still has {in_use} procedures; move them first.",
                ),
            )
        field.retired = True
        await self.repo.bump_revision()
        await self.session.flush()

    # -- admin: procedures -------------------------------------------------------------------

    async def create_procedure(self, data: schemas.ProcedureIn, lang: str) -> dict[str, Any]:
        if await self.repo.procedure(data.code) is not None:
            raise ProblemError(
                "conflict",
                Text("Mã thủ tục đã tồn tại.", "A procedure with this code exists."),
            )
        field = await self._active_field(data.field_id, lang)
        await self._check_performer(data.tier, data.agency_id, lang)
        procedure = Procedure(
            id=new_id(),
            code=data.code,
            name=clean(data.name),
            field_id=field.id,
            agency_id=data.agency_id if "province" in data.tier else None,
            on_province="province" in data.tier,
            on_commune="commune" in data.tier,
            online=data.online,
            processing_days=data.processing_days,
            processing_time_source=ADMIN if data.processing_days is not None else "unknown",
            version=1,
            retired=False,
        )
        document = self.content_of(data.code, data.model_dump(include=set(CONTENT_FIELDS)))
        if not document["declaration_schema"]:
            document["declaration_schema"] = declaration_schema(procedure.name, field.name)
        procedure.document = document
        self.index_fields(procedure, field)
        self.repo.add(procedure)
        await self.session.flush()
        await self.ensure_forms(procedure)
        await self.publish(procedure, first=True)
        await self.rebuild_vocabulary()
        return await self._detail(procedure)

    async def update_procedure(
        self, id_or_code: str, data: schemas.ProcedureUpdate, lang: str
    ) -> dict[str, Any]:
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise not_found(PROCEDURE_NOT_FOUND)
        # The fields the request names; nested models (components, fees...) keep their defaults,
        # and a null where the procedure must have a value (or a list) leaves it as it is.
        changes = {
            k: v
            for k, v in data.model_dump().items()
            if k in data.model_fields_set and not (v is None and k in NULL_KEEPS)
        }
        field = await self._active_field(changes.get("field_id", procedure.field_id), lang)
        tier = changes.get("tier") or tiers_of(procedure)
        agency_id = changes.get("agency_id", procedure.agency_id)
        if "tier" in changes or "agency_id" in changes:
            await self._check_performer(tier, agency_id, lang)
        if "name" in changes:
            procedure.name = clean(changes["name"])
        procedure.field_id = field.id
        procedure.on_province = "province" in tier
        procedure.on_commune = "commune" in tier
        procedure.agency_id = agency_id if procedure.on_province else None
        for key in ("online", "processing_days"):
            if key in changes:
                setattr(procedure, key, changes[key])
        content = {k: v for k, v in changes.items() if k in CONTENT_FIELDS}
        if "processing_days" in changes:  # the admin's value: a re-import keeps it
            procedure.processing_time_source = ADMIN
            content["processing_time_basis"] = None
        if "declaration_schema" in content and not content["declaration_schema"]:
            content["declaration_schema"] = declaration_schema(procedure.name, field.name)
        procedure.document = self.content_of(procedure.code, {**procedure.document, **content})
        self.index_fields(procedure, field)
        await self.ensure_forms(procedure)
        await self.publish(procedure)
        await self.rebuild_vocabulary()
        return await self._detail(procedure)

    async def retire_procedure(self, id_or_code: str) -> None:
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise not_found(PROCEDURE_NOT_FOUND)
        procedure.retired = True
        await self.publish(procedure)
        await self.rebuild_vocabulary()

    async def upload_form(
        self,
        id_or_code: str,
        *,
        form_id: str | None,
        name: str | None,
        filename: str,
        data: bytes,
        lang: str,
    ) -> Form:
        procedure = await self.repo.procedure(id_or_code, for_update=True)
        if procedure is None or procedure.retired:
            raise not_found(PROCEDURE_NOT_FOUND)
        try:
            sniffed = check_upload(data, filename, FORM_TYPES, self.settings.max_form_bytes)
        except UploadRejected as exc:
            raise exc.problem() from exc
        if form_id:
            form = await self.repo.form(procedure.id, form_id)
            if form is None:
                raise not_found(Text("Không tìm thấy mẫu đơn, tờ khai.", "No such form."))
        else:
            if not name or not clean(name):
                raise _invalid("name", "form_name_required", FORM_NAME_REQUIRED, lang)
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
        form.filename = safe_filename(filename, sniffed.extension)
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
            raise not_found(PROCEDURE_NOT_FOUND)
        form = await self.repo.form(procedure.id, form_id)
        if form is None:
            raise not_found(Text("Không tìm thấy mẫu đơn, tờ khai.", "No such form."))
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

    async def _active_field(self, field_id: str, lang: str) -> Field:
        field = await self.repo.field(field_id)
        if field is None or field.retired:
            raise _invalid("field_id", "field_unknown", FIELD_UNKNOWN, lang)
        return field

    async def _check_performer(self, tier: Sequence[str], agency_id: str | None, lang: str) -> None:
        if "province" not in tier:
            return
        if agency_id is None:
            raise _invalid("agency_id", "agency_required", AGENCY_REQUIRED, lang)
        agency = await self.repo.agency(agency_id)
        if agency is None or agency.retired or agency.tier not in ("province", "department"):
            raise _invalid("agency_id", "agency_unknown", AGENCY_UNKNOWN, lang)

    def content_of(self, code: str, content: dict[str, Any]) -> dict[str, Any]:
        """The stored document: content fields only, components with stable ids and the ids of
        the forms they name."""
        keys = (*CONTENT_FIELDS, "source_url", "problems", "processing_time_basis")
        document = {k: content.get(k) for k in keys}
        components = [dict(c) for c in (content.get("components") or [])]
        ids = component_ids(code, components)
        for component, generated in zip(components, ids, strict=True):
            component["id"] = component.get("id") or generated
            names = component.pop("form_names", None) or []
            if component.get("form_name"):
                names = [component["form_name"], *names]
            component["form_names"] = [clean(n) for n in dict.fromkeys(names) if clean(n)]
            component.pop("form_name", None)
            first = component["form_names"][:1]
            component["form_id"] = stable_id(code, first[0]) if first else None
        document["components"] = components
        return document

    async def ensure_forms(self, procedure: Procedure) -> None:
        """A form row, without a file, for every form the components name."""
        existing = {f.id for f in await self.repo.forms(procedure.id)}
        for component in procedure.document.get("components") or []:
            for name in component.get("form_names") or []:
                form_id = stable_id(procedure.code, name)
                if form_id not in existing:
                    self.repo.add(Form(id=form_id, procedure_id=procedure.id, name=name[:300]))
                    existing.add(form_id)
        await self.session.flush()

    @staticmethod
    async def agencies_of(session: AsyncSession) -> Sequence[Agency]:
        return (await session.scalars(select(Agency))).all()

    @staticmethod
    async def fields_of(session: AsyncSession) -> Sequence[Field]:
        return (await session.scalars(select(Field))).all()

    async def rebuild_vocabulary(self) -> int:
        return await self.repo.rebuild_vocabulary()


def tiers_of(procedure: Procedure) -> list[str]:
    return [
        t
        for t, on in (("province", procedure.on_province), ("commune", procedure.on_commune))
        if on
    ]


def safe_filename(filename: str, extension: str) -> str:
    """A download name: the client's name without any path, with the extension of the content."""
    base = clean(filename.replace("\\", "/").rsplit("/", 1)[-1]).rsplit(".", 1)[0]
    base = "".join(c for c in base if c.isalnum() or c in " -_().")[:150].strip(" .") or "mau"
    return f"{base}.{extension}"


def _invalid(field: str, code: str, message: Text, lang: str) -> ProblemError:
    return ProblemError("validation", message, errors=[field_error([field], code, message, lang)])


ALLOWED_PARENTS: dict[str, tuple[str, ...]] = {
    "province": (),
    "department": ("province", "department"),
    "district": ("province",),
    "commune": ("province", "district"),
}
PARENT_REQUIRED = Text("Cơ quan phải thuộc một cơ quan cấp trên.", "A parent agency is required.")
PARENT_UNKNOWN = Text("Không có cơ quan cấp trên này.", "No such parent agency.")
PARENT_TIER = Text(
    "Cơ quan cấp trên không phù hợp: sở, ngành và huyện thuộc tỉnh; xã thuộc tỉnh hoặc huyện.",
    "Wrong parent: departments and districts belong to the province; communes to the province "
    "or a district.",
)
FIELD_UNKNOWN = Text("Không có lĩnh vực này.", "No such field.")
AGENCY_REQUIRED = Text(
    "Thủ tục cấp tỉnh phải có cơ quan thực hiện (agency_id).",
    "A province-tier procedure needs its performing agency (agency_id).",
)
AGENCY_UNKNOWN = Text(
    "Cơ quan thực hiện phải là một sở, ngành hoặc Ủy ban nhân dân tỉnh.",
    "The performing agency must be a department or the province.",
)
FORM_NAME_REQUIRED = Text(
    "Cần tên mẫu (name) hoặc mã mẫu đã có (form_id).", "Give a form name or an existing form_id."
)
