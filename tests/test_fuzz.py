"""Property-based fuzzing of every public operation, from the OpenAPI schemas the gateway serves
(`/api/v1/<service>/openapi.json`), with schemathesis: schema-valid and schema-violating requests
for each role (anonymous, citizen, officer, admin). Whatever arrives, the answer is never a 5xx,
and every 4xx is RFC 9457 problem+json with `type`, `title`, `status` and `detail`.

The fuzzer writes (admins create agencies, procedures and officers; failed sign-ins feed the
per-address throttle), so it runs its own portal: fresh databases and a private Redis.
`FUZZ_EXAMPLES` (default 5) is the number of examples per operation, role and generation mode;
the default keeps the run under about three minutes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import Case, GenerationMode

from services.kernel.registry import PUBLIC_APIS
from tests.accounts_flow import bearer, registered_citizen
from tests.dossiers_flow import admin_tokens, officer_of, pdf, wait_for_catalogue_copy
from tests.support import RedisServer, SmtpSink, Stack

pytestmark = pytest.mark.fuzz

PROBLEM = "application/problem+json"
PROBLEM_FIELDS = ("type", "title", "status", "detail")
SERVICES = PUBLIC_APIS
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
LAWYERS_BRANCH = "1.002181"  # a province-tier procedure of Sở Tư pháp (HT-STP)
HTML_BY_DESIGN = {
    ("GET", "/activate"),
    ("POST", "/activate/confirm"),
    ("GET", "/password-reset/confirm"),
    ("POST", "/password-reset/confirm/form"),
}
"""The links of the e-mails (activation, reset, invitation) open small HTML pages whose forms
answer pages too, also when they fail (api.md; services/accounts/pages.py)."""


@dataclass
class Finding:
    role: str
    mode: str
    method: str
    path: str
    status: int
    content_type: str
    body: str
    curl: str

    def __str__(self) -> str:
        return (
            f"[{self.role}/{self.mode}] {self.method} {self.path} -> {self.status} "
            f"{self.content_type}\n  {self.body[:300]}\n  {self.curl[:600]}"
        )


@pytest.fixture(scope="module")
def fuzz_stack(
    database_url: str, smtp: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    if shutil.which("redis-server") is None:
        pytest.skip("the fuzz run starts a private redis-server, which is not installed")
    workdir = tmp_path_factory.mktemp("fuzz")
    redis_server = RedisServer(workdir)
    redis_server.start()
    portal = Stack(database_url, redis_server.url, smtp, workdir / "stack")
    try:
        portal.start()
        yield portal
    finally:
        portal.stop()
        redis_server.stop()


@pytest.fixture(scope="module")
def role_headers(fuzz_stack: Stack, smtp: SmtpSink) -> dict[str, dict[str, str]]:
    """Every token is taken before fuzzing: the fuzzer's failed sign-ins throttle the address."""
    wait_for_catalogue_copy(fuzz_stack, [LAWYERS_BRANCH])
    accounts = f"{fuzz_stack.base_url}/api/v1/accounts"
    with httpx.Client(base_url=accounts, timeout=30) as client:
        email = f"fuzz.{uuid.uuid4().hex[:10]}@example.vn"
        citizen = bearer(registered_citizen(client, smtp, email))
    return {
        "anonymous": {},
        "citizen": citizen,
        "officer": officer_of(fuzz_stack, smtp, "HT-STP"),
        "admin": bearer(admin_tokens(fuzz_stack)),
    }


@pytest.fixture(scope="module")
def known_ids(fuzz_stack: Stack, role_headers: dict[str, dict[str, str]]) -> dict[str, str]:
    """Real ids for the path parameters: the citizen's draft with a file, a procedure with a
    form, its agency and field."""
    base = fuzz_stack.base_url
    procedure = httpx.get(f"{base}/api/v1/catalogue/procedures/{LAWYERS_BRANCH}").json()
    with httpx.Client(base_url=f"{base}/api/v1/dossiers", timeout=30) as dossiers:
        created = dossiers.post(
            "/",
            json={"procedure_id": LAWYERS_BRANCH, "applicant": {"full_name": "Lê Văn Thử"}},
            headers=role_headers["citizen"],
        )
        assert created.status_code == 201, created.text
        dossier = created.json()
        component = dossier["components"][0]["id"]
        attached = dossiers.post(
            f"/{dossier['id']}/components/{component}/files",
            files={"file": ("ban-sao.pdf", pdf(), "application/pdf")},
            headers=role_headers["citizen"],
        )
        assert attached.status_code == 201, attached.text
    known = {
        "dossier_id": dossier["id"],
        "component_id": component,
        "file_id": attached.json()["id"],
        "id_or_code": LAWYERS_BRANCH,
        "agency_id": procedure["agency"]["id"],
        "field_id": procedure["field"]["id"],
    }
    form = httpx.post(
        f"{base}/api/v1/catalogue/procedures/{LAWYERS_BRANCH}/forms",
        data={"name": "Tờ khai thử"},
        files={"file": ("to-khai.pdf", pdf("To khai"), "application/pdf")},
        headers=role_headers["admin"],
    )
    assert form.status_code == 201, form.text
    known["form_id"] = form.json()["id"]
    return known


def problems_of(response: Any, method: str, path: str) -> str | None:
    """Why an answer breaks the error contract, or None when it keeps it."""
    status = response.status_code
    if status >= 500:
        return "server error"
    if status < 400 or (method, path) in HTML_BY_DESIGN:
        return None
    content_type = response.headers.get("content-type", "")
    if isinstance(content_type, list):
        content_type = content_type[0] if content_type else ""
    if not content_type.startswith(PROBLEM):
        return f"4xx not problem+json ({content_type!r})"
    try:
        body = json.loads(response.content)
    except ValueError:
        return "problem+json body is not JSON"
    missing = [name for name in PROBLEM_FIELDS if name not in body]
    if missing:
        return f"problem+json without {missing}"
    if body["status"] != status:
        return f"problem status {body['status']} on a {status} answer"
    if not all(isinstance(body[name], str) and body[name] for name in ("type", "title", "detail")):
        return "empty type/title/detail"
    return None


def fuzz_operation(
    operation: Any,
    *,
    base_url: str,
    role: str,
    headers: dict[str, str],
    mode: GenerationMode,
    examples: int,
    session: requests.Session,
    record: Callable[[Finding], None],
    path_parameters: dict[str, Any] | None = None,
) -> int:
    """Run `examples` generated cases of one operation; returns how many requests were sent."""
    sent = 0

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        derandomize=os.environ.get("FUZZ_SEEDED", "") == "1",
    )
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=path_parameters))
    def run(case: Case) -> None:
        nonlocal sent
        if headers:  # the role's token replaces whatever Authorization was generated
            generated = {
                k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
            }
            case.headers = {**generated, **headers}
        try:
            response = case.call(base_url=base_url, session=session, timeout=30)
        except requests.RequestException as error:
            # The request could not even be sent as generated (e.g. a header requests refuses).
            if isinstance(error, (requests.ConnectionError, requests.Timeout)):
                record(Finding(role, mode.value, case.method, case.path, 0, "", repr(error), ""))
            return
        sent += 1
        why = problems_of(response, case.method.upper(), operation.path)
        if why is not None:
            content_type = response.headers.get("content-type", [""])
            record(
                Finding(
                    role,
                    mode.value,
                    case.method.upper(),
                    operation.path,
                    response.status_code,
                    f"{why}; {content_type}",
                    response.content[:400].decode("utf-8", "replace"),
                    case.as_curl_command(),
                )
            )

    with contextlib.suppress(Unsatisfiable):  # e.g. no negative case without parameters
        run()
    return sent


def fuzz_portal(
    gateway: str,
    role_headers: dict[str, dict[str, str]],
    examples: int,
    known: dict[str, str],
) -> tuple[list[Finding], dict[str, int]]:
    """Every operation of every public service, for every role, schema-valid and not; then
    the operations naming a known object again with its real id (e.g. the citizen's own draft),
    so the fuzzer also gets past the 404 of made-up ids."""
    findings: list[Finding] = []
    counts: dict[str, int] = {}
    for service in SERVICES:
        schema = schemathesis.openapi.from_url(
            f"{gateway}/api/v1/{service}/openapi.json", timeout=30
        )
        base_url = f"{gateway}/api/v1/{service}"
        operations = [result.ok() for result in schema.get_all_operations()]
        # Deletions last (the longest paths first), so the known objects live through the rest.
        operations.sort(key=lambda op: (op.method.upper() == "DELETE", -len(op.path)))
        for operation in operations:
            if operation.path in ("/healthz", "/readyz"):
                continue
            names = {p.name for p in operation.path_parameters}
            passes: list[dict[str, Any] | None] = [None]
            if names & known.keys():
                passes.append({name: known[name] for name in names & known.keys()})
            key = f"{service} {operation.method.upper()} {operation.path}"
            for role, headers in role_headers.items():
                with requests.Session() as session:
                    for path_parameters in passes:
                        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
                            sent = fuzz_operation(
                                operation,
                                base_url=base_url,
                                role=role,
                                headers=headers,
                                mode=mode,
                                examples=examples,
                                session=session,
                                record=findings.append,
                                path_parameters=path_parameters,
                            )
                            counts[key] = counts.get(key, 0) + sent
    return findings, counts


def test_a_path_no_service_takes_is_answered_with_problem_json(fuzz_stack: Stack) -> None:
    """Found by the fuzzer: an id with a newline (%0A) matched no mount of the local gateway,
    whose own 404 was FastAPI's plain `{"detail": "Not Found"}`."""
    for path in ("/api/v1/dossiers/%0A", "/api/v1/catalogue/procedures/a%0Ab", "/api/v1/nowhere"):
        response = httpx.get(f"{fuzz_stack.base_url}{path}", headers={"Accept-Language": "en"})
        assert response.status_code == 404, path
        assert response.headers["content-type"] == PROBLEM, path
        body = response.json()
        assert body["status"] == 404 and body["title"] == "Not found" and body["detail"], body


def test_nul_characters_are_refused_with_a_problem(
    fuzz_stack: Stack, role_headers: dict[str, dict[str, str]]
) -> None:
    """Found by the fuzzer: a NUL character (PostgreSQL stores none) in a path, a query or a
    form reached the database and answered 500."""
    api = f"{fuzz_stack.base_url}/api/v1"
    sent = [
        httpx.get(f"{api}/dossiers/track", params={"code": "HT\x00", "token": "x"}),
        httpx.get(f"{api}/catalogue/procedures/1.00%002181"),
        httpx.get(f"{api}/catalogue/procedures", params={"q": "khai\x00sinh"}),
        httpx.get(f"{api}/catalogue/agencies", params={"parent_id": "\x00"}),
        httpx.get(f"{api}/dossiers/a%00b", headers=role_headers["citizen"]),
        httpx.post(
            f"{api}/accounts/token", data={"username": "a\x00@example.vn", "password": "x" * 9}
        ),
    ]
    for response in sent:
        assert response.status_code == 422, (response.request.url, response.text)
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["status"] == 422


def test_a_conflict_keeps_the_problem_status_member(
    fuzz_stack: Stack, role_headers: dict[str, dict[str, str]], known_ids: dict[str, str]
) -> None:
    """Found by the fuzzer: the dossier's status, sent along with a 409, replaced the problem's
    own `status` member ("status": "draft"); it is `dossier_status` now."""
    response = httpx.post(
        f"{fuzz_stack.base_url}/api/v1/dossiers/{known_ids['dossier_id']}/supplement",
        headers=role_headers["citizen"],
    )
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["status"] == 409 and body["dossier_status"] == "draft", body


def test_a_procedure_changed_with_components_that_omit_defaults(
    fuzz_stack: Stack, role_headers: dict[str, dict[str, str]]
) -> None:
    """Found by the fuzzer: a PUT naming components without `required` dropped the default
    (model_dump(exclude_unset=True) is recursive) and publishing the version answered 500."""
    response = httpx.put(
        f"{fuzz_stack.base_url}/api/v1/catalogue/procedures/1.002032",
        json={"components": [{"name": "Đơn đề nghị thay đổi"}]},
        headers=role_headers["admin"],
    )
    assert response.status_code == 200, response.text
    [component] = response.json()["components"]
    assert component["name"] == "Đơn đề nghị thay đổi" and component["required"] is True
    # and nulls where the procedure must keep a value ("online" is NOT NULL) change nothing
    nulls = dict.fromkeys(("name", "online", "tier", "fees", "steps", "components", "notes"))
    again = httpx.put(
        f"{fuzz_stack.base_url}/api/v1/catalogue/procedures/1.002032",
        json={**nulls, "conditions": ""},
        headers=role_headers["admin"],
    )
    assert again.status_code == 200, again.text
    kept = again.json()
    assert kept["online"] == response.json()["online"] and kept["components"] == [component]


def test_every_public_operation_keeps_the_error_contract(
    fuzz_stack: Stack, role_headers: dict[str, dict[str, str]], known_ids: dict[str, str]
) -> None:
    started = time.monotonic()
    findings, counts = fuzz_portal(fuzz_stack.base_url, role_headers, EXAMPLES, known_ids)
    elapsed = time.monotonic() - started
    print(
        f"\nfuzzed {len(counts)} operations x {len(role_headers)} roles: "
        f"{sum(counts.values())} requests in {elapsed:.0f} s, {len(findings)} findings"
    )
    unique: dict[tuple[str, str, int, str], Finding] = {}
    for finding in findings:
        unique.setdefault((finding.method, finding.path, finding.status, finding.role), finding)
    report = "\n".join(str(f) for f in unique.values())
    print(report)
    assert not findings, f"{len(findings)} answers broke the contract:\n{report}"
    assert len(counts) >= 45, sorted(counts)  # every public operation of the three services
    assert all(sent > 0 for sent in counts.values()), counts
    unreadable = read_everything(fuzz_stack.base_url, role_headers)
    assert not unreadable, "a stored value broke a later read:\n" + "\n".join(unreadable)


def read_everything(gateway: str, role_headers: dict[str, dict[str, str]]) -> list[str]:
    """After the fuzzer stored what it could: every list (folders, summary, inbox and its
    filters, the catalogue's lists) and every dossier they name, read by the roles that may.
    Returns the reads that did not answer 200."""
    api = f"{gateway}/api/v1"
    citizen, officer = role_headers["citizen"], role_headers["officer"]
    statuses = ["draft", "submitted", "supplement_requested", "processing", "result_returned"]
    reads: list[tuple[str, dict[str, Any], dict[str, str]]] = [
        (f"{api}/dossiers/", {}, citizen),
        *((f"{api}/dossiers/", {"status": s}, citizen) for s in statuses),
        (f"{api}/dossiers/summary", {}, citizen),
        (f"{api}/dossiers/inbox", {}, officer),
        (f"{api}/dossiers/inbox", {"overdue": "true"}, officer),
        (f"{api}/dossiers/inbox", {"overdue": "false"}, officer),
        *((f"{api}/dossiers/inbox", {"status": s}, officer) for s in statuses[1:]),
        (f"{api}/catalogue/procedures", {"page_size": 100}, {}),
        (f"{api}/catalogue/agencies", {"page_size": 500}, {}),
        (f"{api}/catalogue/fields", {"page_size": 500}, {}),
        (f"{api}/accounts/me", {}, citizen),
    ]
    failed: list[str] = []
    opened: set[str] = set()
    for url, params, headers in reads:
        response = httpx.get(url, params=params, headers=headers, timeout=30)
        if response.status_code != 200:
            failed.append(f"GET {url} {params} -> {response.status_code} {response.text[:200]}")
            continue
        body = response.json()
        for item in body.get("items", []) if isinstance(body, dict) else []:
            if "/dossiers/" in url and item["id"] not in opened:
                opened.add(item["id"])
                for path in (
                    f"{api}/dossiers/{item['id']}",
                    f"{api}/dossiers/{item['id']}/history",
                ):
                    shown = httpx.get(path, headers=headers, timeout=30)
                    if shown.status_code != 200:
                        failed.append(f"GET {path} -> {shown.status_code} {shown.text[:200]}")
    return failed
