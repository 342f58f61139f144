"""The admins' pages of search (issue 13): "Từ điển tìm kiếm" — the lexicon with each entry's
check against the catalogue, an admin's new entry (applies on the next search) and removing
one — and "Tìm kiếm của người dân" — the frequent queries that found nothing or whose results
nobody opened, each a link to add it to the lexicon."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from web import sessions
from web.clients.base import ApiProblem
from web.clients.catalogue import LexiconPage
from web.csrf import page_router
from web.forms import FormState
from web.pages import Catalogue
from web.pages.admin import Admin
from web.templating import render

router = page_router()

ENTRY = {
    "says": "Người dân gõ",
    "means": "Danh mục gọi là",
}
SHOWN = {"tat-ca": "Tất cả mục từ", "chua-khop": "Mục từ có cụm từ không khớp thủ tục nào"}
DAYS = (7, 30, 90)
REPORT_ROWS = 500
"""Queries per list of the report page (the API's most)."""


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _lexicon_page(
    request: Request, lexicon: LexiconPage, form: FormState, shown: str, status_code: int = 200
) -> HTMLResponse:
    items = [i for i in lexicon.items if i.unmatched] if shown == "chua-khop" else lexicon.items
    return render(
        request,
        "admin/lexicon.html",
        {
            "lexicon": lexicon,
            "items": items,
            "form": form,
            "labels": ENTRY,
            "shown": shown,
            "choices": SHOWN,
        },
        status_code=status_code,
    )


@router.get("/quan-tri/tu-dien", response_class=HTMLResponse)
async def lexicon(
    request: Request,
    catalogue: Catalogue,
    staff: Admin,
    hien: Annotated[str, Query(pattern="^(tat-ca|chua-khop)$")] = "tat-ca",
    noi: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """`noi`: a query from the search report, put in the new entry's first field."""
    form = FormState(values={"says": noi})
    return _lexicon_page(request, await catalogue.lexicon(staff.token), form, hien)


@router.post("/quan-tri/tu-dien", response_class=HTMLResponse)
async def add_entry(request: Request, catalogue: Catalogue, staff: Admin) -> Response:
    form = FormState.from_form(await request.form())
    form.require(ENTRY)
    says, means = _lines(form.value("says")), _lines(form.value("means"))
    for name, lines in (("says", says), ("means", means)):
        if len(lines) > 10:
            form.add(name, "Tối đa 10 dòng.")
        elif any(len(line) > 120 for line in lines):
            form.add(name, "Mỗi dòng tối đa 120 ký tự.")
    if len(form.value("note")) > 500:
        form.add("note", "Ghi chú tối đa 500 ký tự.")
    if len(form.value("source")) > 300:
        form.add("source", "Nguồn tối đa 300 ký tự.")
    if not form.invalid:
        entry = {
            "says": says,
            "means": means,
            "note": form.value("note"),
            "source": form.value("source"),
        }
        try:
            await catalogue.add_lexicon_entry(staff.token, entry)
        except ApiProblem as problem:
            for error in problem.errors:
                name, _, index = error.field.partition(".")
                if name in ENTRY and index.isdigit():
                    form.add(name, f"Dòng {int(index) + 1}: {error.message}")
                else:
                    form.add(name if name in ("note", "source") else None, error.message)
            if not problem.errors:
                form.add(None, problem.detail or "Chưa thêm được mục từ.")
        else:
            sessions.flash(
                request,
                f"Đã thêm mục từ “{says[0]}”. Từ lần tìm kiếm tiếp theo, cổng dùng mục từ này.",
            )
            return RedirectResponse("/quan-tri/tu-dien", status_code=303)
    lexicon_now = await catalogue.lexicon(staff.token)
    return _lexicon_page(request, lexicon_now, form, "tat-ca", status_code=422)


@router.post("/quan-tri/tu-dien/{entry_id}/xoa", response_class=HTMLResponse)
async def remove_entry(
    request: Request, catalogue: Catalogue, staff: Admin, entry_id: str
) -> Response:
    try:
        await catalogue.remove_lexicon_entry(staff.token, entry_id)
    except ApiProblem as problem:
        if problem.status != 404:
            raise
        sessions.flash(request, "Mục từ này đã được xóa trước đó.")
    else:
        sessions.flash(request, "Đã xóa mục từ. Từ lần tìm kiếm tiếp theo, cổng không dùng nữa.")
    return RedirectResponse("/quan-tri/tu-dien", status_code=303)


@router.get("/quan-tri/tim-kiem", response_class=HTMLResponse)
async def search_report(
    request: Request,
    catalogue: Catalogue,
    staff: Admin,
    ngay: Annotated[int, Query(ge=1, le=365)] = 30,
) -> HTMLResponse:
    report = await catalogue.search_report(staff.token, ngay, limit=REPORT_ROWS)
    return render(request, "admin/search_report.html", {"report": report, "days": DAYS})
