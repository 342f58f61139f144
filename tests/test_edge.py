"""The edge's rules in-process, fast: what the JSON check refuses, the bounds of free-form values,
how stored text is made readable, the headers every answer carries, and how a request's
transaction is settled (undo on a refusal, deferred work after a commit)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError
from sqlalchemy import text

from services.kernel.db import Database, after_commit, commit_through, on_rollback
from services.kernel.errors import ProblemError, Text
from services.kernel.inputs import (
    MAX_JSON_DEPTH,
    InputRefused,
    bounded_json,
    parse_json_body,
    readable,
)
from services.kernel.web import ResponseHeadersMiddleware


@pytest.mark.parametrize(
    ("body", "code", "loc"),
    [
        (b'{"a": "x\\u0000y"}', "nul_character", ["a"]),
        (b'{"a": ["ok", {"b\\u0000": 1}]}', "nul_character", ["a", 1, "b\x00"]),
        (b'{"a": "\\ud800"}', "unicode_invalid", ["a"]),
        (b'{"a": "\\udc00\\ud800"}', "unicode_invalid", ["a"]),  # reversed pair
        (b'["\\ud83d"]', "unicode_invalid", [0]),
        (b"\xff\xfe\xfd", "unicode_invalid", []),
        (
            b"[" * (MAX_JSON_DEPTH + 1) + b"]" * (MAX_JSON_DEPTH + 1),
            "too_deep",
            [0] * MAX_JSON_DEPTH,
        ),
        (b"[" * 100_000 + b"]" * 100_000, "too_deep", []),
    ],
)
def test_json_the_edge_refuses(body: bytes, code: str, loc: list[Any]) -> None:
    with pytest.raises(InputRefused) as refused:
        parse_json_body(body)
    assert refused.value.code == code
    assert refused.value.loc[: len(loc)] == loc


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": "\\ud83d\\ude00 Vi\\u1ec7t Nam"}',  # a pair is one character: 😀
        b"[" * MAX_JSON_DEPTH + b"]" * MAX_JSON_DEPTH,
        '{"tên": "Nguyễn Thị Hà"}'.encode(),
        b'"\\u0001 control characters are text"',
    ],
)
def test_json_the_edge_takes(body: bytes) -> None:
    assert parse_json_body(body) == json.loads(body)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"a": "x" * 10}, True),
        ({"a": "x" * 11}, False),
        ({"a": {"b": {"c": 1}}}, True),
        ({"a": {"b": {"c": {"d": 1}}}}, False),
        ({str(i): i for i in range(4)}, True),
        ({str(i): i for i in range(5)}, False),
        (["ệ" * 10] * 4, False),  # 4 × 10 letters of 3 UTF-8 bytes: over 100 bytes
    ],
)
def test_bounds_of_free_form_values(value: Any, ok: bool) -> None:
    check = bounded_json(max_bytes=100, max_string=10, max_depth=3, max_items=4)
    if ok:
        assert check(value) == value
    else:
        with pytest.raises(ValueError):
            check(value)


def test_stored_text_is_made_readable() -> None:
    broken = {"L\ud800": ["a\x00b", {"c": "\udc00d"}], "n": 1}
    shown = readable(broken)
    assert shown == {"L?": ["ab", {"c": "?d"}], "n": 1}
    json.dumps(shown).encode("utf-8")
    good = {"tên": "Hà"}
    assert readable(good) == good


def headers_of(production: bool, server_timing: bool, content_type: str) -> httpx.Headers:
    app = FastAPI()

    @app.get("/")
    async def answer() -> Any:
        from fastapi.responses import Response

        return Response("x", media_type=content_type)

    app.add_middleware(
        ResponseHeadersMiddleware, production=production, server_timing=server_timing
    )

    async def call() -> httpx.Headers:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return (await client.get("/", headers={"X-Request-ID": "abc"})).headers

    return asyncio.run(call())


def test_headers_in_production_and_elsewhere() -> None:
    prod = headers_of(True, False, "application/json")
    assert prod["strict-transport-security"].startswith("max-age=31536000")
    assert "server-timing" not in prod
    assert prod["content-security-policy"] == "default-src 'none'; frame-ancestors 'none'"
    assert prod["x-request-id"] == "abc" and prod["x-content-type-options"] == "nosniff"
    dev = headers_of(False, True, "text/html; charset=utf-8")
    assert "strict-transport-security" not in dev and dev["server-timing"].startswith("app;dur=")
    assert dev["content-security-policy"] == "frame-ancestors 'none'"  # the API docs page


class Refused(Exception):
    pass


def test_a_refusal_undoes_and_a_commit_runs_what_waited(tmp_path: Path) -> None:
    events: list[str] = []

    async def scenario() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'edge.db'}")
        async with db.engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (v TEXT)"))

        async def work(value: str, refuse: bool) -> str:
            await session.execute(text("INSERT INTO t VALUES (:v)"), {"v": value})

            async def undo() -> None:
                events.append(f"undo {value}")

            async def then() -> None:
                events.append(f"then {value}")

            on_rollback(session, undo)
            after_commit(session, then)
            if refuse:
                raise ProblemError("conflict", Text("không", "no"))
            return value

        async with db.sessionmaker() as session:
            with pytest.raises(ProblemError):
                await commit_through(session, work("refused", refuse=True))
            assert await commit_through(session, work("kept", refuse=False)) == "kept"
            rows = (await session.execute(text("SELECT v FROM t"))).scalars().all()
        await db.dispose()
        assert rows == ["kept"]

    asyncio.run(scenario())
    assert events == ["undo refused", "then kept"]


def test_validation_error_types_are_named() -> None:
    from services.dossiers.schemas import DossierIn

    with pytest.raises(ValidationError) as refused:
        DossierIn.model_validate(
            {"procedure_id": "x", "applicant": {"full_name": "A\nB", "email": "a@b"}}
        )
    assert {(e["type"], e["loc"]) for e in refused.value.errors()} == {
        ("control_character", ("applicant", "full_name")),
        ("value_error", ("applicant", "email")),
    }
