"""Jinja2 (autoescape on, undefined names fail loudly) and what every page gets: the static
files' versioned URLs, the signed-in person, the CSRF field, Vietnamese formats."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from starsessions import SessionNotLoaded

from web import csrf, labels
from web.forms import field_id
from web.sessions import signed_in, take_flashes

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"


@lru_cache(maxsize=256)
def static_url(path: str) -> str:
    """`/static/<path>?v=<hash of its bytes>`: cached for a year, a new URL when it changes."""
    digest = hashlib.sha256((STATIC / path).read_bytes()).hexdigest()[:12]
    return f"/static/{path}?v={digest}"


def _environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static_url
    env.globals["field_id"] = field_id
    env.filters.update(labels.FILTERS)
    env.globals.update(labels.GLOBALS)
    return env


ENV = _environment()


def _session_loaded(request: Request) -> bool:
    try:
        return isinstance(request.session, dict)
    except (SessionNotLoaded, AssertionError):
        return False


def page_context(request: Request | None) -> dict[str, Any]:
    if request is None or not _session_loaded(request):
        return {
            "person": None,
            "csrf_field": lambda: Markup(""),
            "path": request.url.path if request else "",
            "flashes": [],
        }

    def csrf_field() -> Markup:
        token = csrf.form_token(request)
        return Markup('<input type="hidden" name="{}" value="{}">').format(csrf.FIELD, token)

    return {
        "person": signed_in(request),
        "csrf_field": csrf_field,
        "path": request.url.path,
        "flashes": take_flashes(request) if "flash" in request.session else [],
    }


def render_text(request: Request | None, name: str, context: dict[str, Any]) -> str:
    return ENV.get_template(name).render({**page_context(request), **context})


def render(
    request: Request,
    name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    body = render_text(request, name, {"request": request, **(context or {})})
    return HTMLResponse(body, status_code=status_code, headers=headers)
