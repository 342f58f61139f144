"""Finding a procedure (the guide's section 4): the home page, browsing tier → agency →
procedure or by field, keyword search, the procedure page and its form downloads."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Annotated

from fastapi import Query, Request
from fastapi.responses import HTMLResponse, StreamingResponse
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException

from web.clients.catalogue import Tier
from web.csrf import page_router
from web.labels import SLUG_OF_TIER, TIER_SLUGS
from web.pages import Catalogue
from web.templating import render

router = page_router()

PAGE_SIZE = 20
Page = Annotated[int, Query(ge=1, le=500)]
TierSlug = Annotated[str | None, Query(pattern="^(so|huyen|xa)$")]


async def _tiers(catalogue: Catalogue) -> list[dict[str, object]]:
    """The tiers the catalogue has agencies in (districts only with the 2023 layout): every
    agency in one call, counted by tier (a call per tier cost the page a call each)."""
    counts = Counter(agency.tier for agency in await catalogue.agencies())
    return [
        {"slug": slug, "tier": tier, "count": counts[tier]}
        for slug, tier in TIER_SLUGS.items()
        if counts[tier]
    ]


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, catalogue: Catalogue) -> HTMLResponse:
    tiers, fields = await asyncio.gather(_tiers(catalogue), catalogue.fields())
    return render(request, "home.html", {"tiers": tiers, "fields": fields})


@router.get("/thu-tuc", response_class=HTMLResponse)
async def procedures(
    request: Request,
    catalogue: Catalogue,
    q: Annotated[str, Query(max_length=200)] = "",
    page: Page = 1,
) -> HTMLResponse:
    """ "Thủ tục hành chính": the search box with the ways to browse, or a query's results."""
    q = " ".join(q.split())
    if not q:
        tiers, fields = await asyncio.gather(_tiers(catalogue), catalogue.fields())
        return render(request, "procedures.html", {"q": "", "tiers": tiers, "fields": fields})
    results = await catalogue.procedures(q=q, page=page, page_size=PAGE_SIZE)
    return render(request, "search.html", {"q": q, "results": results})


@router.get("/thu-tuc/{code}", response_class=HTMLResponse)
async def procedure(
    request: Request,
    catalogue: Catalogue,
    code: str,
    q: Annotated[str, Query(max_length=200)] = "",
) -> HTMLResponse:
    """The procedure page; `q`, the search it was opened from, goes on to the catalogue, which
    counts which result of which query citizens open (no personal data)."""
    detail = await catalogue.procedure(code, searched=q or None)
    return render(request, "procedure.html", {"procedure": detail})


@router.get("/thu-tuc/{code}/mau/{form_id}")
async def download_form(catalogue: Catalogue, code: str, form_id: str) -> StreamingResponse:
    """ "Tải về": the template file from the catalogue, passed on as it streams."""
    upstream = await catalogue.form_file(code, form_id)
    headers = {"X-Content-Type-Options": "nosniff", "Cache-Control": "public, max-age=3600"}
    for name in ("content-disposition", "content-length", "etag"):
        if name in upstream.headers:
            headers[name] = upstream.headers[name]
    return StreamingResponse(
        upstream.aiter_raw(),
        media_type=upstream.headers.get("content-type", "application/octet-stream"),
        headers=headers,
        background=BackgroundTask(upstream.aclose),
    )


@router.get("/co-quan", response_class=HTMLResponse)
async def agencies(request: Request, catalogue: Catalogue, cap: TierSlug = None) -> HTMLResponse:
    """The agencies of one tier: cấp Sở, cấp huyện (2023 layout), cấp xã/phường."""
    tier = TIER_SLUGS[cap or "so"]
    found = await catalogue.agencies(tier)
    if not found:
        raise HTTPException(404)
    return render(request, "agencies.html", {"tier": tier, "agencies": found})


@router.get("/co-quan/{agency_id}", response_class=HTMLResponse)
async def agency(
    request: Request, catalogue: Catalogue, agency_id: str, page: Page = 1
) -> HTMLResponse:
    detail, results = await asyncio.gather(
        catalogue.agency(agency_id),
        catalogue.procedures(agency_id=agency_id, page=page, page_size=PAGE_SIZE),
    )
    return render(request, "agency.html", {"agency": detail, "results": results})


@router.get("/linh-vuc", response_class=HTMLResponse)
async def fields(request: Request, catalogue: Catalogue, cap: TierSlug = None) -> HTMLResponse:
    tier = TIER_SLUGS[cap] if cap else None
    found = await catalogue.fields(_procedure_tier(tier))
    return render(request, "fields.html", {"tier": tier, "cap": cap, "fields": found})


@router.get("/linh-vuc/{field_id}", response_class=HTMLResponse)
async def field(
    request: Request, catalogue: Catalogue, field_id: str, cap: TierSlug = None, page: Page = 1
) -> HTMLResponse:
    """A field's procedures, without choosing an agency first (the guide's section 4)."""
    tier = _procedure_tier(TIER_SLUGS[cap] if cap else None)
    every, results = await asyncio.gather(
        catalogue.fields(),
        catalogue.procedures(field_id=field_id, tier=tier, page=page, page_size=PAGE_SIZE),
    )
    chosen = next((f for f in every if f.id == field_id), None)
    if chosen is None:
        raise HTTPException(404)
    return render(
        request,
        "field.html",
        {"field": chosen, "cap": cap, "tier": tier, "results": results, "slugs": SLUG_OF_TIER},
    )


def _procedure_tier(tier: str | None) -> Tier | None:
    """Procedures are province- or commune-tier; a district's are the communes' (2023)."""
    if tier is None:
        return None
    return "commune" if tier in ("commune", "district") else "province"
