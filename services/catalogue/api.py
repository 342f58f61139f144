"""HTTP routes of the catalogue service. Reads are public and cacheable (ETag, Cache-Control);
writes are for admins and publish a new procedure version."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Path, Query, Request, Response, UploadFile

from services.catalogue import schemas
from services.catalogue.lexicon_service import LexiconService
from services.catalogue.reads import Answer, ReadCache
from services.catalogue.search_log import MAX_QUERY_CHARS
from services.catalogue.service import CatalogueService
from services.catalogue.settings import get_settings
from services.kernel.auth import CurrentAdmin
from services.kernel.db import commit_through
from services.kernel.web import DbSession, PortalRoute, bound_body, service_router

router = service_router()

PROCEDURE_BODY_BYTES = 1024 * 1024
"""A procedure document (steps, legal basis, components, declaration schema) may be long; every
other JSON route takes the service default (`PORTAL_MAX_BODY_BYTES`, 256 KB)."""
FORM_BODY_BYTES = get_settings().max_form_bytes + 64 * 1024


def _service(request: Request, session: DbSession) -> CatalogueService:
    state = request.app.state
    return CatalogueService(session, state.settings, state.storage, state.commune_tiers)


Service = Annotated[CatalogueService, Depends(_service)]


def _lexicon_service(request: Request, session: DbSession) -> LexiconService:
    return LexiconService(session, request.app.state.settings)


Lexicon = Annotated[LexiconService, Depends(_lexicon_service)]


def respond(request: Request, answer: Answer) -> Response:
    """The JSON answer with its strong ETag; 304 when the client has it already."""
    max_age = request.app.state.settings.cache_max_age
    headers = {"ETag": answer.etag, "Cache-Control": f"public, max-age={max_age}"}
    sent = request.headers.get("if-none-match")
    if sent:
        candidates = {t.strip().removeprefix("W/") for t in sent.split(",")}
        if answer.etag in candidates or "*" in candidates:
            return Response(status_code=304, headers=headers)
    return Response(answer.body, media_type="application/json", headers=headers)


async def cached(
    request: Request,
    service: CatalogueService,
    produce: Callable[[], Awaitable[Any]],
    *,
    key: str,
    noted: Callable[[Any], Any] | None = None,
) -> tuple[Response, Answer]:
    """Answer a read from this process's cache when the catalogue has not changed since, or
    produce it; the answer keeps what `noted` picked from its content (for the search log)."""
    cache: ReadCache = request.app.state.read_cache
    revision = request.scope.get("state", {}).get(REVISION_READ)
    if revision is None:
        revision = await request.app.state.revisions.read()
    answer = cache.get(key, revision)
    if answer is None:
        service.repo.assume_revision(revision)
        content = await produce()
        answer = Answer.of(content, noted(content) if noted else None)
        cache.put(key, revision, answer)
    return respond(request, answer), answer


REVISION_READ = "catalogue_revision"
"""`request.state`: the revision `CachedReadRoute` read for this request (read once)."""


@dataclass(frozen=True)
class CachePolicy:
    """How a cached read finds its answer without its route: `key` (None: the request needs
    the route, e.g. to refuse a parameter the key does not cover) and `then`, what the route
    does besides answering (the search log)."""

    key: Callable[[Request], str | None]
    then: Callable[[Request, Answer], None] | None = None


def path_and_query(request: Request) -> str:
    return f"{request.url.path}?{request.url.query}"


Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


def answered_from_cache(
    key: Callable[[Request], str | None] = path_and_query,
    then: Callable[[Request, Answer], None] | None = None,
) -> Callable[[Endpoint], Endpoint]:
    """Mark a read route whose answers `cached` keeps: `CachedReadRoute` answers a request the
    cache holds before the route runs."""

    def mark(endpoint: Endpoint) -> Endpoint:
        endpoint.__dict__["cache_policy"] = CachePolicy(key, then)
        return endpoint

    return mark


class CachedReadRoute(PortalRoute):
    """A public read the per-revision cache may answer. When it holds the answer to this very
    request — the same path and query, so parameters FastAPI validated already when the answer
    was produced — the answer is sent as it is kept, with its ETag, before FastAPI solves the
    route's dependencies and validates its parameters again (most of a cached read's CPU:
    a database session, the service, the parameters). Anything else runs the route."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        policy: CachePolicy = self.endpoint.__dict__["cache_policy"]

        async def handle(request: Request) -> Response:
            # the service's body limit, as every route of the service checks it
            bound_body(request, self.body_limit or request.app.state.settings.max_body_bytes)
            key = policy.key(request)
            if key is not None:
                state = request.app.state
                revision = await state.revisions.read()
                answer = state.read_cache.get(key, revision)
                if answer is None:
                    setattr(request.state, REVISION_READ, revision)
                else:
                    if policy.then is not None:
                        policy.then(request, answer)
                    return respond(request, answer)
            return await handler(request)

        return handle


def log_search(request: Request, answer: Answer) -> None:
    """A keyword search's first page is counted in the search log, with whether it found any."""
    q = request.query_params.get("q")
    if q and _number(request.query_params.get("page", "1")) == 1:
        request.app.state.search_log.searched(q, answer.noted)


def _number(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def detail_key(request: Request) -> str | None:
    """A procedure's detail is one answer whatever search it was opened from (`q`, counted);
    a `q` the route refuses is left to the route."""
    q = request.query_params.get("q")
    if q is not None and len(q) > MAX_QUERY_CHARS:
        return None
    return request.url.path


def log_open(request: Request, answer: Answer) -> None:
    q = request.query_params.get("q")
    if q:
        request.app.state.search_log.opened(q, answer.noted)


reads = APIRouter(route_class=CachedReadRoute)
"""The cached public reads (the service's routes otherwise: `router`)."""


Page = Annotated[int, Query(ge=1, le=10_000)]
ReferencePageSize = Annotated[int, Query(ge=1, le=500)]
"""Agencies and fields are short lists (at most a few hundred): one page may hold them all."""


def page_of(items: list[Any], page: int, page_size: int) -> dict[str, Any]:
    """The contract's list shape, over a list already in hand."""
    start = (page - 1) * page_size
    return {
        "items": items[start : start + page_size],
        "total": len(items),
        "page": page,
        "page_size": page_size,
    }


@reads.get("/agencies", response_model=schemas.AgencyPage, tags=["agencies"])
@answered_from_cache()
async def list_agencies(
    request: Request,
    service: Service,
    tier: schemas.Tier | None = None,
    parent_id: Annotated[str | None, Query(max_length=64)] = None,
    page: Page = 1,
    page_size: ReferencePageSize = 20,
) -> Response:
    """Cơ quan: the province, its departments (sở, ngành) and its communes (or districts)."""

    async def produce() -> dict[str, Any]:
        agencies = await service.repo.agencies(tier, parent_id)
        items = [schemas.AgencyOut.model_validate(a).model_dump(mode="json") for a in agencies]
        return page_of(items, page, page_size)

    return (await cached(request, service, produce, key=path_and_query(request)))[0]


@reads.get("/agencies/{agency_id}", response_model=schemas.AgencyDetail, tags=["agencies"])
@answered_from_cache()
async def get_agency(request: Request, service: Service, agency_id: str) -> Response:

    async def produce() -> dict[str, Any]:
        return (await service.agency_detail(agency_id)).model_dump(mode="json")

    return (await cached(request, service, produce, key=path_and_query(request)))[0]


@reads.get("/fields", response_model=schemas.FieldPage, tags=["fields"])
@answered_from_cache()
async def list_fields(
    request: Request,
    service: Service,
    tier: schemas.Tier | None = None,
    page: Page = 1,
    page_size: ReferencePageSize = 20,
) -> Response:
    """Lĩnh vực, with how many procedures each has (at that tier when given)."""

    async def produce() -> dict[str, Any]:
        items = [f.model_dump(mode="json") for f in await service.fields(tier)]
        return page_of(items, page, page_size)

    return (await cached(request, service, produce, key=path_and_query(request)))[0]


@reads.get("/procedures", response_model=schemas.ProcedurePage, tags=["procedures"])
@answered_from_cache(then=log_search)
async def list_procedures(
    request: Request,
    service: Service,
    q: Annotated[str | None, Query(max_length=MAX_QUERY_CHARS, description="từ khóa")] = None,
    agency_id: Annotated[str | None, Query(max_length=64)] = None,
    field_id: Annotated[str | None, Query(max_length=120)] = None,
    tier: schemas.Tier | None = None,
    online: schemas.Online | None = None,
    page: Page = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Response:
    """Tra cứu thủ tục: browse by agency, field, tier and online mode, or search by keyword
    (ranked; with or without diacritics)."""

    async def produce() -> dict[str, Any]:
        result = await service.find(
            q,
            agency_id=agency_id,
            field_id=field_id,
            tier=tier,
            online=online,
            page=page,
            page_size=page_size,
        )
        return result.model_dump(mode="json")

    key = path_and_query(request)
    response, answer = await cached(request, service, produce, key=key, noted=lambda c: c["total"])
    log_search(request, answer)
    return response


@reads.get("/procedures/{id_or_code}", response_model=schemas.ProcedureDetail, tags=["procedures"])
@answered_from_cache(key=detail_key, then=log_open)
async def get_procedure(
    request: Request,
    service: Service,
    id_or_code: str,
    q: Annotated[
        str | None,
        Query(
            max_length=MAX_QUERY_CHARS,
            description="the search this procedure was opened from (counted)",
        ),
    ] = None,
) -> Response:

    async def produce() -> dict[str, Any]:
        return (await service.detail(id_or_code)).model_dump(mode="json")

    key = request.url.path
    response, answer = await cached(request, service, produce, key=key, noted=lambda c: c["code"])
    log_open(request, answer)
    return response


@router.get(
    "/procedures/{id_or_code}/forms/{form_id}",
    tags=["forms"],
    responses={200: {"content": {"application/pdf": {}, "application/msword": {}}}},
)
async def download_form(service: Service, id_or_code: str, form_id: str) -> Response:
    """Tải về mẫu đơn, tờ khai."""
    found = await service.form_file(id_or_code, form_id)
    form = found.form
    filename = form.filename or "mau"
    return Response(
        found.data,
        media_type=form.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}",
            "ETag": f'"{form.sha256}"',
            "Cache-Control": "public, max-age=3600",
            "X-Content-Type-Options": "nosniff",
        },
    )


# -- admin --------------------------------------------------------------------------------------


@router.post("/agencies", status_code=201, response_model=schemas.AgencyOut, tags=["admin"])
async def create_agency(
    body: schemas.AgencyIn, service: Service, session: DbSession, _: CurrentAdmin
) -> Any:
    agency = await commit_through(session, service.create_agency(body))
    return schemas.AgencyOut.model_validate(agency)


@router.put("/agencies/{agency_id}", response_model=schemas.AgencyOut, tags=["admin"])
async def update_agency(
    agency_id: str,
    body: schemas.AgencyUpdate,
    service: Service,
    session: DbSession,
    _: CurrentAdmin,
) -> Any:
    agency = await commit_through(session, service.update_agency(agency_id, body))
    return schemas.AgencyOut.model_validate(agency)


@router.delete("/agencies/{agency_id}", status_code=204, tags=["admin"])
async def retire_agency(
    agency_id: str, service: Service, session: DbSession, _: CurrentAdmin
) -> Response:
    await commit_through(session, service.retire_agency(agency_id))
    return Response(status_code=204)


@router.post("/fields", status_code=201, response_model=schemas.FieldOut, tags=["admin"])
async def create_field(
    body: schemas.FieldIn, service: Service, session: DbSession, _: CurrentAdmin
) -> Any:
    field = await commit_through(session, service.create_field(body))
    return schemas.FieldOut(id=field.id, name=field.name)


@router.put("/fields/{field_id}", response_model=schemas.FieldOut, tags=["admin"])
async def update_field(
    field_id: str, body: schemas.FieldIn, service: Service, session: DbSession, _: CurrentAdmin
) -> Any:
    field = await commit_through(session, service.update_field(field_id, body))
    return schemas.FieldOut(id=field.id, name=field.name)


@router.delete("/fields/{field_id}", status_code=204, tags=["admin"])
async def retire_field(
    field_id: str, service: Service, session: DbSession, _: CurrentAdmin
) -> Response:
    await commit_through(session, service.retire_field(field_id))
    return Response(status_code=204)


@router.post(
    "/procedures",
    status_code=201,
    response_model=schemas.ProcedureDetail,
    tags=["admin"],
    max_body_size=PROCEDURE_BODY_BYTES,
)
async def create_procedure(
    body: schemas.ProcedureIn,
    service: Service,
    session: DbSession,
    _: CurrentAdmin,
) -> Any:
    return await commit_through(session, service.create_procedure(body))


@router.put(
    "/procedures/{id_or_code}",
    response_model=schemas.ProcedureDetail,
    tags=["admin"],
    max_body_size=PROCEDURE_BODY_BYTES,
)
async def update_procedure(
    id_or_code: str,
    body: schemas.ProcedureUpdate,
    service: Service,
    session: DbSession,
    _: CurrentAdmin,
) -> Any:
    """Change a procedure: the change is published as a new version."""
    return await commit_through(session, service.update_procedure(id_or_code, body))


@router.delete("/procedures/{id_or_code}", status_code=204, tags=["admin"])
async def retire_procedure(
    id_or_code: str, service: Service, session: DbSession, _: CurrentAdmin
) -> Response:
    """Retire a procedure (it leaves search; dossiers filed against it keep their version)."""
    await commit_through(session, service.retire_procedure(id_or_code))
    return Response(status_code=204)


@router.post(
    "/procedures/{id_or_code}/forms",
    status_code=201,
    max_body_size=FORM_BODY_BYTES,
    response_model=schemas.FormOut,
    tags=["admin"],
)
async def upload_form(
    id_or_code: str,
    request: Request,
    service: Service,
    session: DbSession,
    _: CurrentAdmin,
    file: Annotated[UploadFile, File(description="the template: PDF, DOC, DOCX, XLS or XLSX")],
    form_id: Annotated[str | None, Form(max_length=32)] = None,
    name: Annotated[str | None, Form(max_length=300)] = None,
) -> Any:
    """Attach the file of a form the catalogue names (`form_id`), or add a new form (`name`)."""
    limit = request.app.state.settings.max_form_bytes
    data = await file.read(limit + 1)
    form = await commit_through(
        session,
        service.upload_form(
            id_or_code,
            form_id=form_id,
            name=name,
            filename=file.filename or "mau",
            data=data,
        ),
    )
    return schemas.FormOut(
        id=form.id,
        name=form.name,
        filename=form.filename,
        content_type=form.content_type,
        size=form.size,
        available=True,
    )


@router.delete("/procedures/{id_or_code}/forms/{form_id}", status_code=204, tags=["admin"])
async def remove_form(
    id_or_code: str, form_id: str, service: Service, session: DbSession, _: CurrentAdmin
) -> Response:
    """Remove a form's file (a form the components name stays listed, without a file)."""
    await commit_through(session, service.remove_form(id_or_code, form_id))
    return Response(status_code=204)


# -- search: the lexicon and the search log (admins) -------------------------------------------


@router.get("/lexicon", response_model=schemas.LexiconPage, tags=["search"])
async def lexicon_entries(service: Lexicon, _: CurrentAdmin) -> Any:
    """Từ điển tìm kiếm: the file's entries and the admins', each checked against the
    catalogue (`unmatched`: its wordings that match no procedure)."""
    return await service.entries()


@router.post("/lexicon", status_code=201, response_model=schemas.LexiconEntryOut, tags=["search"])
async def add_lexicon_entry(
    body: schemas.LexiconEntryIn,
    service: Lexicon,
    session: DbSession,
    admin: CurrentAdmin,
) -> Any:
    """Add what citizens type for a procedure; it applies on the next search. Every wording must
    match at least one procedure (422 otherwise, at the field)."""
    return await commit_through(session, service.add(body, admin.user_id))


@router.delete("/lexicon/{entry_id}", status_code=204, tags=["search"])
async def remove_lexicon_entry(
    entry_id: Annotated[str, Path(max_length=64)],
    service: Lexicon,
    session: DbSession,
    _: CurrentAdmin,
) -> Response:
    """Remove an admin's entry (the file's entries change in the file)."""
    await commit_through(session, service.remove(entry_id))
    return Response(status_code=204)


@router.get("/search-report", response_model=schemas.SearchReport, tags=["search"])
async def search_report(
    service: Lexicon,
    _: CurrentAdmin,
    days: Annotated[int, Query(ge=1, le=365)] = 30,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Any:
    """Frequent queries of the last `days` days: those that found nothing, those whose results
    nobody opened, and the most searched — what the lexicon should learn next."""
    return await service.report(days, limit)
