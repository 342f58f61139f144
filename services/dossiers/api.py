"""HTTP routes of the dossiers service: parse, find who is acting, call the service, commit."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, File, Form, Header, Query, Request, Response, UploadFile

from services.dossiers import schemas
from services.dossiers.errors import CitizenOnly, TooManyResultFiles
from services.dossiers.models import DossierFile, SpentCaptcha
from services.dossiers.service import Actor, DossierService
from services.dossiers.settings import get_settings
from services.kernel.auth import OptionalPrincipal
from services.kernel.captcha import CaptchaInvalid, load_captcha_secret, verify_captcha
from services.kernel.db import commit_through
from services.kernel.errors import Unauthorized
from services.kernel.web import DbSession, service_router

router = service_router()

MULTIPART_OVERHEAD = 64 * 1024
_limits = get_settings()
ATTACHMENT_BODY_BYTES = _limits.max_file_bytes + MULTIPART_OVERHEAD
RESULT_BODY_BYTES = (
    min(_limits.max_result_files * _limits.max_file_bytes, _limits.max_dossier_bytes)
    + MULTIPART_OVERHEAD
)
"""Bodies of the two upload routes; every other route takes the service default
(`PORTAL_MAX_BODY_BYTES`, 256 KB)."""


async def _service(request: Request, session: DbSession) -> DossierService:
    state = request.app.state
    return DossierService(session, state.settings, state.storage)


Service = Annotated[DossierService, Depends(_service)]


async def _actor(
    service: Service,
    principal: OptionalPrincipal,
    dossier_token: Annotated[
        str | None,
        Header(
            alias="X-Dossier-Token",
            max_length=100,
            description="the capability token of a dossier filed without an account",
        ),
    ] = None,
) -> Actor:
    if principal is not None:
        return Actor.of(principal)
    if dossier_token:
        actor = await service.actor_for_token(dossier_token)
        if actor is not None:
            return actor
    raise Unauthorized()


async def _citizen(actor: Annotated[Actor, Depends(_actor)]) -> Actor:
    if actor.role != "citizen":
        raise CitizenOnly()
    return actor


ActorDep = Annotated[Actor, Depends(_actor)]
CitizenDep = Annotated[Actor, Depends(_citizen)]


async def _read_upload(upload: UploadFile, limit: int) -> bytes:
    """At most `limit` + 1 bytes: enough to tell a file is too large without reading it all."""
    return await upload.read(limit + 1)


def _download(stored: DossierFile, data: bytes) -> Response:
    return Response(
        data,
        media_type=stored.content_type,
        headers={
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(stored.filename)}",
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


# -- citizens: filing -----------------------------------------------------------------------


@router.post("/", status_code=201, response_model=schemas.DossierOut, tags=["filing"])
async def create_dossier(
    body: schemas.DossierIn,
    service: Service,
    session: DbSession,
    actor: CitizenDep,
) -> Any:
    """ "Lưu lại": a draft dossier for a procedure, in "Hồ sơ chưa gửi"."""
    dossier, _ = await commit_through(session, service.create(actor, body))
    return await service.render(dossier)


@router.get("/", response_model=schemas.DossierPage, tags=["filing"])
async def list_dossiers(
    service: Service,
    actor: CitizenDep,
    status: schemas.Status | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """The personal folders ("Hồ sơ cá nhân"), by status."""
    return await service.list_own(actor, status, page, page_size)


@router.get("/summary", response_model=dict[str, int], tags=["filing"])
async def summary(service: Service, actor: CitizenDep) -> Any:
    """How many dossiers the citizen has in each status."""
    return await service.counts(actor)


@router.post(
    "/accountless",
    status_code=201,
    response_model=schemas.AccountlessDossierOut,
    tags=["filing without an account"],
)
async def create_accountless(
    body: schemas.AccountlessDossierIn, request: Request, service: Service, session: DbSession
) -> Any:
    """ "Đăng ký hồ sơ không tài khoản": answer the captcha of `GET /api/v1/accounts/captcha`;
    the returned token (header `X-Dossier-Token`) attaches files to and sends this dossier."""
    settings = request.app.state.settings

    async def create() -> Any:
        solved = await verify_captcha(
            session,
            SpentCaptcha,
            secret=load_captcha_secret(settings),
            captcha_id=body.captcha_id,
            answer=body.captcha_answer,
            ttl=settings.captcha_ttl,
            test_mode=settings.captcha_mode == "test",
            redis_url=settings.redis_url,
        )
        if not solved:
            raise CaptchaInvalid()
        email = body.email or body.applicant.get("email")
        return await service.create(Actor(role="accountless"), body, email=email)

    dossier, token = await commit_through(session, create())
    rendered = await service.render(dossier)
    return schemas.AccountlessDossierOut(**dict(rendered), token=token)


@router.get("/track", response_model=schemas.TrackOut, tags=["filing without an account"])
async def track(
    service: Service,
    code: Annotated[str, Query(min_length=1, max_length=60)],
    token: Annotated[str, Query(min_length=1, max_length=100)],
) -> Any:
    """The tracking link e-mailed on submission: status and history."""
    return await service.track(code, token)


@router.get("/inbox", response_model=schemas.DossierPage, tags=["processing"])
async def inbox(
    service: Service,
    actor: ActorDep,
    status: schemas.Status | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Any:
    """Dossiers sent to the officer's agency, oldest first; `overdue=true` for the late ones."""
    return await service.inbox(actor, status, overdue, page, page_size)


@router.get("/inbox/summary", response_model=dict[str, int], tags=["processing"])
async def inbox_summary(service: Service, actor: ActorDep) -> Any:
    """How many dossiers the officer's inbox holds in each status, and `overdue`."""
    return await service.inbox_counts(actor)


@router.get("/{dossier_id}", response_model=schemas.DossierOut, tags=["filing"])
async def get_dossier(dossier_id: str, service: Service, actor: ActorDep) -> Any:
    return await service.view(dossier_id, actor)


@router.patch("/{dossier_id}", response_model=schemas.DossierOut, tags=["filing"])
async def update_dossier(
    dossier_id: str,
    body: schemas.DossierUpdate,
    service: Service,
    session: DbSession,
    actor: ActorDep,
) -> Any:
    dossier = await commit_through(session, service.update(dossier_id, actor, body))
    return await service.render(dossier)


@router.delete("/{dossier_id}", status_code=204, tags=["filing"])
async def delete_dossier(
    dossier_id: str, service: Service, session: DbSession, actor: ActorDep
) -> Response:
    await commit_through(session, service.discard(dossier_id, actor))
    return Response(status_code=204)


@router.post(
    "/{dossier_id}/components/{component_id}/files",
    status_code=201,
    max_body_size=ATTACHMENT_BODY_BYTES,
    response_model=schemas.FileOut,
    tags=["files"],
)
async def attach_file(
    dossier_id: str,
    component_id: str,
    request: Request,
    service: Service,
    session: DbSession,
    actor: ActorDep,
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG, DOC or DOCX, at most 10 MB")],
) -> Any:
    data = await _read_upload(file, request.app.state.settings.max_file_bytes)
    return await commit_through(
        session, service.attach(dossier_id, component_id, actor, file.filename or "tep", data)
    )


@router.delete(
    "/{dossier_id}/components/{component_id}/files/{file_id}", status_code=204, tags=["files"]
)
async def detach_file(
    dossier_id: str,
    component_id: str,
    file_id: str,
    service: Service,
    session: DbSession,
    actor: ActorDep,
) -> Response:
    await commit_through(session, service.detach(dossier_id, component_id, file_id, actor))
    return Response(status_code=204)


@router.get("/{dossier_id}/files/{file_id}", tags=["files"])
async def read_file(dossier_id: str, file_id: str, service: Service, actor: ActorDep) -> Response:
    stored, data = await service.read_file(dossier_id, file_id, actor, kind="attachment")
    return _download(stored, data)


@router.post("/{dossier_id}/submit", response_model=schemas.DossierOut, tags=["filing"])
async def submit(dossier_id: str, service: Service, session: DbSession, actor: ActorDep) -> Any:
    """ "Gửi hồ sơ": 422 listing what is missing; else a code (mã hồ sơ) and an e-mail."""
    dossier = await commit_through(session, service.submit(dossier_id, actor))
    return await service.render(dossier)


@router.post("/{dossier_id}/supplement", response_model=schemas.DossierOut, tags=["filing"])
async def supplement(dossier_id: str, service: Service, session: DbSession, actor: ActorDep) -> Any:
    """ "Gửi bổ sung": send the corrected dossier back to the agency."""
    await commit_through(session, service.send_supplement(dossier_id, actor))
    return await service.view(dossier_id, actor)


@router.get("/{dossier_id}/history", response_model=list[schemas.HistoryOut], tags=["filing"])
async def history(dossier_id: str, service: Service, actor: ActorDep) -> Any:
    """ "Xem quá trình xử lý hồ sơ"."""
    return await service.history(dossier_id, actor)


@router.get("/{dossier_id}/results/{file_id}", tags=["files"])
async def result_file(
    dossier_id: str,
    file_id: str,
    service: Service,
    principal: OptionalPrincipal,
    token: Annotated[str | None, Query(max_length=100, description="the tracking token")] = None,
) -> Response:
    actor = Actor.of(principal) if principal else None
    if actor is None and not token:
        raise Unauthorized()
    stored, data = await service.result_file(dossier_id, file_id, actor, token)
    return _download(stored, data)


# -- officers: processing -------------------------------------------------------------------


@router.post("/{dossier_id}/receive", response_model=schemas.DossierOut, tags=["processing"])
async def receive(dossier_id: str, service: Service, session: DbSession, actor: ActorDep) -> Any:
    """ "Tiếp nhận": the dossier is being processed; the deadline starts."""
    dossier = await commit_through(session, service.receive(dossier_id, actor))
    return await service.render(dossier)


@router.post(
    "/{dossier_id}/request-supplement", response_model=schemas.DossierOut, tags=["processing"]
)
async def request_supplement(
    dossier_id: str,
    body: schemas.SupplementRequestIn,
    service: Service,
    session: DbSession,
    actor: ActorDep,
) -> Any:
    dossier = await commit_through(
        session, service.request_supplement(dossier_id, actor, body.content)
    )
    return await service.render(dossier)


@router.post("/{dossier_id}/reject", response_model=schemas.DossierOut, tags=["processing"])
async def reject(
    dossier_id: str, body: schemas.RejectIn, service: Service, session: DbSession, actor: ActorDep
) -> Any:
    dossier = await commit_through(session, service.reject(dossier_id, actor, body.reason))
    return await service.render(dossier)


@router.post("/{dossier_id}/steps", response_model=schemas.DossierOut, tags=["processing"])
async def add_step(
    dossier_id: str, body: schemas.StepIn, service: Service, session: DbSession, actor: ActorDep
) -> Any:
    dossier = await commit_through(session, service.add_step(dossier_id, actor, body.note))
    return await service.render(dossier)


@router.post(
    "/{dossier_id}/result",
    response_model=schemas.DossierOut,
    tags=["processing"],
    max_body_size=RESULT_BODY_BYTES,
)
async def return_result(
    dossier_id: str,
    request: Request,
    service: Service,
    session: DbSession,
    actor: ActorDep,
    files: Annotated[list[UploadFile], File(description="the result documents")],
    note: Annotated[str | None, Form(max_length=4000)] = None,
) -> Any:
    """ "Trả kết quả" with the result files."""
    settings = request.app.state.settings
    if len(files) > settings.max_result_files:
        raise TooManyResultFiles(settings.max_result_files)
    uploads = [
        (f.filename or "ket-qua", await _read_upload(f, settings.max_file_bytes)) for f in files
    ]
    dossier = await commit_through(session, service.return_result(dossier_id, actor, note, uploads))
    return await service.render(dossier)
