""" "Hồ sơ cá nhân" → the six folders (the guide's section 3a): "Hồ sơ chưa gửi", "Hồ sơ đã
gửi", "Hồ sơ yêu cầu bổ sung", "Hồ sơ đang xử lý", "Hồ sơ đã trả kết quả", "Hồ sơ bị trả lại",
each with its count, and a folder's dossiers (paged) with the "Thao tác" column."""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse
from starlette.exceptions import HTTPException

from web import auth
from web.clients.dossiers import Credential, Status
from web.csrf import page_router
from web.pages import Dossiers
from web.pages.filing import NO_STORE
from web.templating import render

router = page_router()

FOLDERS: dict[str, Status] = {
    "chua-gui": "draft",
    "da-gui": "submitted",
    "yeu-cau-bo-sung": "supplement_requested",
    "dang-xu-ly": "processing",
    "da-tra-ket-qua": "result_returned",
    "bi-tra-lai": "rejected",
}
"""The folders' addresses, in the guide's order."""
PAGE_SIZE = 20
Page = Annotated[int, Query(ge=1, le=10_000)]


@router.get("/ho-so-ca-nhan/ho-so", response_class=HTMLResponse)
async def first_folder(
    request: Request, dossiers: Dossiers, token: auth.AccessToken, page: Page = 1
) -> HTMLResponse:
    return await folder(request, "chua-gui", dossiers, token, page)


@router.get("/ho-so-ca-nhan/ho-so/{slug}", response_class=HTMLResponse)
async def folder(
    request: Request, slug: str, dossiers: Dossiers, token: auth.AccessToken, page: Page = 1
) -> HTMLResponse:
    status = FOLDERS.get(slug)
    if status is None:
        raise HTTPException(404)
    who = Credential.bearer(token)
    counts, listed = await asyncio.gather(
        dossiers.summary(who), dossiers.own(who, status, page, PAGE_SIZE)
    )
    return render(
        request,
        "dossiers/folders.html",
        {
            "folders": [(s, FOLDERS[s], counts[FOLDERS[s]]) for s in FOLDERS],
            "current": slug,
            "status": status,
            "listed": listed,
        },
        headers=NO_STORE,
    )
