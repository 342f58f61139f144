"""What every API client shares: one pooled httpx client, the request id passed on, and the
API's answers turned into typed values or typed exceptions (problem+json → `ApiProblem`; an API
that cannot be reached or answers 502/503/504 → `ApiUnavailable`, the 503 page)."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Generic, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ConfigDict

if importlib.util.find_spec("sniffio") is None:
    # httpcore asks `import sniffio` on every request (twice) to tell asyncio from trio; without
    # sniffio installed (anyio 4 no longer needs it) each failed import searched sys.path again:
    # a sixth of the pages' CPU. `None` in sys.modules fails the import at once; httpcore then
    # takes asyncio, which is what it would have found.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]  # None: "not installed"

request_id: ContextVar[str | None] = ContextVar("web_request_id", default=None)
"""Set per page request (web/headers.py), sent on as X-Request-ID so one id follows a page
through every API it calls."""
client_address: ContextVar[str | None] = ContextVar("web_client_address", default=None)
"""The citizen's address as the web app's server saw it (behind nginx: nginx's
X-Forwarded-For, which uvicorn trusts), sent on as X-Forwarded-For: the APIs' per-address
limits (sign-in, registration) count each citizen, not the web app as one big client. The
APIs trust that header from the gateway and the web app only (deploy/k8s/network-policy.yaml);
a dedicated trust header can replace it here, in this one place."""

Model = TypeVar("Model", bound=BaseModel)


class ApiModel(BaseModel):
    """An API answer as the pages read it: fields the contract adds later are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class _Page(BaseModel, Generic[Model]):
    """One page of a list answer (`{"items", "total", …}`), read in one pass from its bytes."""

    model_config = ConfigDict(extra="ignore")

    items: list[Model]
    total: int


@cache
def _page_of(model: type[Model]) -> type[_Page[Model]]:
    return _Page[model]  # type: ignore[valid-type]  # the model class, as the type argument


def _list_parser(
    model: type[Model],
) -> Callable[[httpx.Response], _Page[Model] | tuple[Model, ...]]:
    """A list answer: a page (`{"items", "total", …}`) read in one pass, or a plain array."""

    def parse(response: httpx.Response) -> _Page[Model] | tuple[Model, ...]:
        if response.content.lstrip()[:1] == b"[":
            return tuple(model.model_validate(item) for item in response.json())
        return _page_of(model).model_validate_json(response.content)

    return parse


@dataclass(frozen=True)
class FieldProblem:
    """One entry of a problem's `errors`: `field` is the dotted path the API names
    (`email`, `applicant.full_name`, `declaration.child_full_name`)."""

    field: str
    code: str
    message: str


@dataclass
class ApiProblem(Exception):
    """A refusal the API answered (RFC 9457); `detail` and field messages are Vietnamese."""

    status: int
    code: str
    title: str
    detail: str
    errors: list[FieldProblem] = field(default_factory=list)
    retry_after: int | None = None

    def __str__(self) -> str:
        return f"{self.status} {self.code}: {self.detail}"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiProblem:
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = {}
        if not isinstance(body, dict):
            body = {}
        problem_type = str(body.get("type") or "")
        code = problem_type.rsplit("/", 1)[-1] if problem_type else str(response.status_code)
        errors = [
            FieldProblem(
                field=str(e.get("field") or ""),
                code=str(e.get("code") or ""),
                message=str(e.get("message") or ""),
            )
            for e in body.get("errors") or []
            if isinstance(e, dict)
        ]
        retry = response.headers.get("retry-after", "")
        return cls(
            status=response.status_code,
            code=code,
            title=str(body.get("title") or ""),
            detail=str(body.get("detail") or ""),
            errors=errors,
            retry_after=int(retry) if retry.isdigit() else None,
        )


class ApiUnavailable(Exception):
    """The API did not answer (refused, timed out) or said it is unavailable."""

    def __init__(self, api: str, reason: str) -> None:
        super().__init__(f"{api} API unavailable: {reason}")
        self.api = api
        self.reason = reason


def path_segment(value: str) -> str:
    """One path segment, escaped: an id from a page's URL can never reach another route of
    the API — `/`, `?`, `#` escaped, and a `.` or `..` segment too (httpx would resolve it)."""
    if value in (".", ".."):
        return value.replace(".", "%2E")
    return quote(value, safe="")


UNAVAILABLE_STATUSES = frozenset({502, 503, 504})
ALL_PAGE_SIZE = 500
"""The largest page of the catalogue's short lists (agencies, fields)."""


Parsed = TypeVar("Parsed")
KEPT_ANSWERS = 1024
"""Parsed public answers a client keeps for revalidation (`ApiClient.revalidates`)."""


class ApiClient:
    """The base of each API's client: `name` for messages, `base_url` where the API's routes
    start (`…/api/v1/catalogue` through a gateway, `http://catalogue:8000` directly)."""

    name = "api"
    revalidates = False
    """Its `get_model` and `get_all` answers are public (the same for everyone) and carry an
    ETag: the client keeps them parsed and asks again with If-None-Match every time, so a page
    is as fresh as before, and an unchanged answer is a bodiless 304 instead of bytes to parse
    and validate again."""

    def __init__(self, http: httpx.AsyncClient, base_url: str) -> None:
        self.http = http
        self.base_url = base_url.rstrip("/")
        self._kept: OrderedDict[tuple[str, tuple[tuple[str, str], ...]], tuple[str, Any]] = (
            OrderedDict()
        )

    def _headers(self, extra: dict[str, str] | None) -> dict[str, str]:
        headers = {"Accept-Language": "vi", "Accept": "application/json"}
        rid = request_id.get()
        if rid:
            headers["X-Request-ID"] = rid
        address = client_address.get()
        if address:
            headers["X-Forwarded-For"] = address
        if extra:
            headers.update(extra)
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        data: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        files: Any = None,
    ) -> httpx.Response:
        """One call; raises `ApiProblem` for a 4xx/5xx problem, `ApiUnavailable` when down.
        `files`: multipart parts as httpx takes them (a page's upload passed on as it is)."""
        clean = {k: v for k, v in (params or {}).items() if v is not None and v != ""}
        try:
            response = await self.http.request(
                method,
                self.base_url + path,
                params=clean,
                json=json_body,
                data=data,
                files=files,
                headers=self._headers(headers),
            )
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.name, type(exc).__name__) from exc
        if response.status_code in UNAVAILABLE_STATUSES:
            raise ApiUnavailable(self.name, f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise ApiProblem.from_response(response)
        return response

    async def get_model(self, path: str, model: type[Model], **params: Any) -> Model:
        return await self._get(path, params, lambda r: model.model_validate_json(r.content))

    async def _get(
        self, path: str, params: dict[str, Any], parse: Callable[[httpx.Response], Parsed]
    ) -> Parsed:
        """A GET's answer, parsed; revalidated when the client `revalidates`."""
        if not self.revalidates:
            return parse(await self.request("GET", path, params=params))
        key = (path, tuple(sorted((k, str(v)) for k, v in params.items() if v not in (None, ""))))
        kept = self._kept.get(key)
        condition = {"If-None-Match": kept[0]} if kept else None
        response = await self.request("GET", path, params=params, headers=condition)
        if response.status_code == 304 and kept is not None:
            self._kept.move_to_end(key)
            return kept[1]  # type: ignore[no-any-return]  # what `parse` gave for this key
        value = parse(response)
        etag = response.headers.get("etag")
        if etag:
            self._kept[key] = (etag, value)
            self._kept.move_to_end(key)
            if len(self._kept) > KEPT_ANSWERS:
                self._kept.popitem(last=False)
        return value

    async def get_all(self, path: str, model: type[Model], **params: Any) -> list[Model]:
        """Every item of a list the API answers in pages (`{"items", "total", …}`), reading
        large pages; a plain JSON array is taken as it is."""
        items: list[Model] = []
        page = 1
        while True:
            body = await self._get(
                path, {**params, "page": page, "page_size": ALL_PAGE_SIZE}, _list_parser(model)
            )
            if isinstance(body, tuple):
                return list(body)
            items += body.items
            if not body.items or len(items) >= body.total:
                return items
            page += 1

    async def stream(
        self,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """A GET whose body the caller streams on (a file); the caller closes it. `headers`:
        e.g. the person's token, for a file only its owner may read."""
        request = self.http.build_request(
            "GET", self.base_url + path, headers=self._headers(headers), params=params
        )
        try:
            response = await self.http.send(request, stream=True)
        except httpx.TransportError as exc:
            raise ApiUnavailable(self.name, type(exc).__name__) from exc
        if response.status_code >= 400:
            await response.aread()
            await response.aclose()
            if response.status_code in UNAVAILABLE_STATUSES:
                raise ApiUnavailable(self.name, f"HTTP {response.status_code}")
            raise ApiProblem.from_response(response)
        return response
