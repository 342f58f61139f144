"""The authorisation matrix: every endpoint x every kind of caller, the expected status, in one
table to check against /work/shared/api.md. Real dossiers filed through the API: a citizen's
dossier of a province-tier procedure of Sở Tư pháp (HT-STP, 1.002181) in each status, and an
accountless dossier of the commune procedure 1.001193 at Phường Thành Sen (X18073).

Columns (who calls):
  anon     nobody signed in (no token)
  owner    the citizen who filed the dossier
  citizen  another citizen
  holder   the holder of an accountless dossier's token (X-Dossier-Token), for another dossier
  officer  an officer of the dossier's agency (HT-STP)
  stranger an officer of another agency (X18073)
  admin    an administrator
  forged   a bearer token whose signature does not verify

api.md: 401 without or with a bad token, 403 when the caller may not do it, 404 when the object
does not exist or the caller may not know it exists. A citizen or the token holder asking for
another's dossier gets 404; a citizen (or admin) asking for an officer's action gets 403, an
officer of another agency 404; an officer trying the filer's actions gets 403.
Cells that succeed on a write run on a fresh object, so every cell sees the state it names."""

# ruff: noqa: E501 - the matrix is a table, one line per endpoint, read column by column

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from string import Formatter
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.accounts_flow import bearer, registered_citizen
from tests.dossiers_flow import (
    admin_tokens,
    attach_required,
    officer_of,
    pdf,
    wait_for_catalogue_copy,
)
from tests.support import SmtpSink, Stack

PROBLEM = "application/problem+json"
LAWYERS_BRANCH = "1.002181"  # province tier, Sở Tư pháp (HT-STP)
BIRTH = "1.001193"  # commune tier
COMMUNE = "X18073"  # Phường Thành Sen
APPLICANT = {"full_name": "Nguyễn Thị Hà", "address": "Phường Thành Sen, Hà Tĩnh"}
BRANCH_DECLARATION = {"request": "Đề nghị đăng ký hoạt động chi nhánh tại Hà Tĩnh."}
BIRTH_DECLARATION = {
    "request": "Đăng ký khai sinh cho con.",
    "child_full_name": "Nguyễn Minh An",
    "child_date_of_birth": "2026-10-02",
    "child_gender": "Nam",
    "place_of_birth": "Bệnh viện Đa khoa tỉnh Hà Tĩnh",
}
ROLES = ("anon", "owner", "citizen", "holder", "officer", "stranger", "admin", "forged")

# fmt: off
# Placeholders: {draft} {submitted} {processing} {supplement} {returned} — the owner's dossiers
# in that status; {component}, {draft_file}, {sub_file}, {result} files of them; {code},
# {tracking} the accountless dossier's code and tracking token after submission; {form} a form
# template of 1.002181; {agency}, {fieldid}, {procedure} catalogue objects made for the test.
MATRIX: list[tuple[str, str, str | None, tuple[int, ...]]] = [
    # method   path                                                 body          anon owner citz hold offi stra admn forg
    # -- accounts
    ("GET",    "/accounts/captcha",                                 None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/accounts/.well-known/jwks.json",                   None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/accounts/me",                                      None,         (401, 200, 200, 401, 200, 200, 200, 401)),
    ("PATCH",  "/accounts/me",                                      "profile",    (401, 200, 200, 401, 200, 200, 200, 401)),
    ("POST",   "/accounts/me/password",                             "password",   (401, 400, 400, 401, 400, 400, 400, 401)),
    ("POST",   "/accounts/logout",                                  "refresh",    (401, 204, 204, 401, 204, 204, 204, 401)),
    ("POST",   "/accounts/officers",                                "officer",    (401, 403, 403, 401, 403, 403, 201, 401)),
    # -- catalogue: reads for anyone, writes for admins
    ("GET",    "/catalogue/agencies",                               None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/catalogue/agencies/HT-STP",                        None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/catalogue/fields",                                 None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/catalogue/procedures?q=khai+sinh",                 None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    f"/catalogue/procedures/{LAWYERS_BRANCH}",           None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    f"/catalogue/procedures/{LAWYERS_BRANCH}/forms/{{form}}", None,    (200, 200, 200, 200, 200, 200, 200, 200)),
    ("POST",   "/catalogue/agencies",                               "agency",     (401, 403, 403, 401, 403, 403, 201, 401)),
    ("PUT",    "/catalogue/agencies/{agency}",                      "rename",     (401, 403, 403, 401, 403, 403, 200, 401)),
    ("DELETE", "/catalogue/agencies/{agency}",                      None,         (401, 403, 403, 401, 403, 403, 204, 401)),
    ("POST",   "/catalogue/fields",                                 "field",      (401, 403, 403, 401, 403, 403, 201, 401)),
    ("PUT",    "/catalogue/fields/{fieldid}",                       "field",      (401, 403, 403, 401, 403, 403, 200, 401)),
    ("DELETE", "/catalogue/fields/{fieldid}",                       None,         (401, 403, 403, 401, 403, 403, 204, 401)),
    ("POST",   "/catalogue/procedures",                             "procedure",  (401, 403, 403, 401, 403, 403, 201, 401)),
    ("PUT",    "/catalogue/procedures/{procedure}",                 "rename",     (401, 403, 403, 401, 403, 403, 200, 401)),
    ("DELETE", "/catalogue/procedures/{procedure}",                 None,         (401, 403, 403, 401, 403, 403, 204, 401)),
    ("POST",   "/catalogue/procedures/{procedure}/forms",           "form",       (401, 403, 403, 401, 403, 403, 201, 401)),
    ("DELETE", "/catalogue/procedures/{procedure}/forms/{pform}",   None,         (401, 403, 403, 401, 403, 403, 204, 401)),
    # -- dossiers: the citizen's folders and the officer's inbox
    ("POST",   "/dossiers/",                                        "dossier",    (401, 201, 201, 403, 403, 403, 403, 401)),
    ("GET",    "/dossiers/",                                        None,         (401, 200, 200, 403, 403, 403, 403, 401)),
    ("GET",    "/dossiers/summary",                                 None,         (401, 200, 200, 403, 403, 403, 403, 401)),
    ("GET",    "/dossiers/inbox",                                   None,         (401, 403, 403, 403, 200, 200, 403, 401)),
    ("GET",    "/dossiers/inbox/summary",                           None,         (401, 403, 403, 403, 200, 200, 403, 401)),
    ("POST",   "/dossiers/accountless",                             "accountless", (201, 201, 201, 201, 201, 201, 201, 201)),
    # -- one dossier: a draft is the filer's alone (officers see it once sent)
    ("GET",    "/dossiers/{draft}",                                 None,         (401, 200, 404, 404, 404, 404, 404, 401)),
    ("PATCH",  "/dossiers/{draft}",                                 "declare",    (401, 200, 404, 404, 403, 403, 404, 401)),
    ("DELETE", "/dossiers/{draft}",                                 None,         (401, 204, 404, 404, 403, 403, 404, 401)),
    ("POST",   "/dossiers/{draft}/components/{component}/files",    "file",       (401, 201, 404, 404, 403, 403, 404, 401)),
    ("GET",    "/dossiers/{draft}/files/{draft_file}",              None,         (401, 200, 404, 404, 404, 404, 404, 401)),
    ("DELETE", "/dossiers/{draft}/components/{component}/files/{draft_file}", None, (401, 204, 404, 404, 403, 403, 404, 401)),
    ("POST",   "/dossiers/{draft}/submit",                          None,         (401, 200, 404, 404, 403, 403, 404, 401)),
    ("GET",    "/dossiers/{draft}/history",                         None,         (401, 200, 404, 404, 404, 404, 404, 401)),
    ("GET",    "/dossiers/{submitted}",                             None,         (401, 200, 404, 404, 200, 404, 404, 401)),
    ("GET",    "/dossiers/{submitted}/files/{sub_file}",            None,         (401, 200, 404, 404, 200, 404, 404, 401)),
    ("GET",    "/dossiers/{submitted}/history",                     None,         (401, 200, 404, 404, 200, 404, 404, 401)),
    ("POST",   "/dossiers/{supplement}/supplement",                 None,         (401, 200, 404, 404, 403, 403, 404, 401)),
    # -- officers' actions: 403 for anyone not an officer, 404 for another agency's officer
    ("POST",   "/dossiers/{submitted}/receive",                     None,         (401, 403, 403, 403, 200, 404, 403, 401)),
    ("POST",   "/dossiers/{submitted}/request-supplement",          "content",    (401, 403, 403, 403, 200, 404, 403, 401)),
    ("POST",   "/dossiers/{submitted}/reject",                      "reason",     (401, 403, 403, 403, 200, 404, 403, 401)),
    ("POST",   "/dossiers/{processing}/steps",                      "note",       (401, 403, 403, 403, 200, 404, 403, 401)),
    ("POST",   "/dossiers/{processing}/result",                     "result",     (401, 403, 403, 403, 200, 404, 403, 401)),
    # -- results and tracking
    ("GET",    "/dossiers/{returned}/results/{result}",             None,         (401, 200, 404, 401, 200, 404, 404, 401)),
    ("GET",    "/dossiers/{returned}/results/{result}?token=wrong", None,         (404, 200, 404, 404, 200, 404, 404, 401)),
    ("GET",    "/dossiers/track?code={code}&token={tracking}",      None,         (200, 200, 200, 200, 200, 200, 200, 200)),
    ("GET",    "/dossiers/track?code={code}&token=wrong-token",     None,         (404, 404, 404, 404, 404, 404, 404, 404)),
    ("GET",    "/dossiers/track?code={code}&token={other_tracking}", None,        (404, 404, 404, 404, 404, 404, 404, 404)),
]
"""`holder` is the token of an accountless draft (not the dossiers above): a capability for that
one dossier, never a sign-in, so everywhere else it is answered as nobody (401) or, where a
citizen account is needed, 403 (a recognised caller without the right)."""

HOLDER_OWN: list[tuple[str, str, str | None, int]] = [
    # what the token lets its holder do to its own dossier (api.md: attach files and submit)
    ("GET",    "/dossiers/{own}",                                   None,         200),
    ("POST",   "/dossiers/{own}/components/{own_component}/files",  "file",       201),
    ("GET",    "/dossiers/{own}/files/{own_file}",                  None,         200),
    ("PATCH",  "/dossiers/{own}",                                   "declare",    403),
    ("DELETE", "/dossiers/{own}",                                   None,         403),
    ("POST",   "/dossiers/{own}/supplement",                        None,         403),
    ("POST",   "/dossiers/{own}/receive",                           None,         403),
    ("GET",    "/dossiers/summary",                                 None,         403),
    ("POST",   "/dossiers/{own}/submit",                            None,         200),
    ("GET",    "/dossiers/{own}",                                   None,         404),  # sent: tracking only
]
# fmt: on


@dataclass
class World:
    """The callers and the objects the table's placeholders name."""

    stack: Stack
    smtp: SmtpSink
    client: httpx.Client
    dossiers: httpx.Client
    headers: dict[str, dict[str, str]]
    ids: dict[str, str] = field(default_factory=dict)
    fresh: dict[str, Callable[[], dict[str, str]]] = field(default_factory=dict)

    def captcha(self) -> str:
        return str(self.client.get("/accounts/captcha").json()["captcha_id"])

    def body(self, kind: str | None) -> dict[str, Any]:
        """Request arguments (json, data, files) of each kind of body in the table."""
        unique = uuid.uuid4().hex[:8]
        bodies: dict[str, dict[str, Any]] = {
            "profile": {"json": {"address": "Phường Thành Sen, Hà Tĩnh"}},
            "password": {
                "json": {
                    "current_password": "not-the-password",
                    "new_password": "Mat-khau-moi-2025",
                }
            },
            "refresh": {"json": {"refresh_token": "not-a-refresh-token"}},
            "officer": {
                "json": {
                    "email": f"can.bo.{unique}@hatinh.gov.vn",
                    "full_name": "Trần Văn Mới",
                    "agency_id": "HT-STP",
                }
            },
            "agency": {
                "json": {
                    "id": f"T-{unique}",
                    "name": "Cơ quan thử",
                    "tier": "department",
                    "parent_id": "HT",
                }
            },
            "rename": {"json": {"name": "Tên mới của cơ quan hoặc thủ tục"}},
            "field": {"json": {"name": f"Lĩnh vực thử {unique}"}},
            "procedure": {
                "json": {
                    "code": f"T.{unique}",
                    "name": "Thủ tục thử nghiệm phân quyền",
                    "field_id": "luat-su",
                    "tier": ["province"],
                    "agency_id": "HT-STP",
                }
            },
            "form": {
                "data": {"name": "Mẫu thử"},
                "files": {"file": ("mau.pdf", pdf("Mau"), "application/pdf")},
            },
            "dossier": {
                "json": {"procedure_id": LAWYERS_BRANCH, "applicant": APPLICANT, "declaration": {}}
            },
            "accountless": {
                "json": {
                    "procedure_id": BIRTH,
                    "agency_id": COMMUNE,
                    "applicant": {**APPLICANT, "email": f"khong.tk.{unique}@example.vn"},
                    "declaration": BIRTH_DECLARATION,
                    "captcha_id": self.captcha() if kind == "accountless" else "",
                    "captcha_answer": "test",
                }
            },
            "declare": {"json": {"declaration": BRANCH_DECLARATION}},
            "file": {"files": {"file": ("ban-sao.pdf", pdf("Ban sao"), "application/pdf")}},
            "content": {"json": {"content": "Bổ sung bản sao có chứng thực."}},
            "reason": {"json": {"reason": "Hồ sơ không thuộc thẩm quyền."}},
            "note": {"json": {"note": "Đã thẩm định hồ sơ."}},
            "result": {
                "data": {"note": "Đã cấp giấy."},
                "files": [("files", ("ket-qua.pdf", pdf("Ket qua"), "application/pdf"))],
            },
        }
        return bodies[kind] if kind else {}

    def call(
        self, method: str, template: str, body: str | None, role: str, ids: dict[str, str]
    ) -> httpx.Response:
        path = template.format(**ids)
        return self.client.request(method, path, headers=self.headers[role], **self.body(body))


def _ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json()) if response.content else {}


@pytest.fixture(scope="module")
def world(stack: Stack, smtp: SmtpSink) -> Iterator[World]:
    wait_for_catalogue_copy(stack, [LAWYERS_BRANCH, BIRTH])
    with (
        httpx.Client(base_url=f"{stack.base_url}/api/v1", timeout=30) as client,
        httpx.Client(base_url=f"{stack.base_url}/api/v1/dossiers", timeout=30) as dossiers,
    ):
        accounts = httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30)
        with accounts:
            owner = bearer(registered_citizen(accounts, smtp, f"chu.{uuid.uuid4().hex[:8]}@x.vn"))
            other = bearer(registered_citizen(accounts, smtp, f"khac.{uuid.uuid4().hex[:8]}@x.vn"))
        real = owner["Authorization"].split(".")
        forged = {"Authorization": ".".join([*real[:2], "c2lnbmF0dXJlLWdpYS1tYW8"])}
        headers = {
            "anon": {},
            "owner": owner,
            "citizen": other,
            "officer": officer_of(stack, smtp, "HT-STP"),
            "stranger": officer_of(stack, smtp, COMMUNE),
            "admin": bearer(admin_tokens(stack)),
            "forged": forged,
        }
        world = World(stack, smtp, client, dossiers, headers)
        world.headers["holder"] = {"X-Dossier-Token": "placeholder"}
        own = _accountless(world)
        world.headers["holder"] = {"X-Dossier-Token": own["token"]}
        world.ids.update(own=own["id"], own_component=own["components"][0]["id"])
        world.ids["own_file"] = attach_required(dossiers, own, world.headers["holder"])[0]["id"]
        _build_dossiers(world)
        _build_catalogue(world)
        yield world
        for path in ("procedures/{procedure}", "fields/{fieldid}", "agencies/{agency}"):
            client.delete(f"/catalogue/{path.format(**world.ids)}", headers=headers["admin"])


def _accountless(world: World) -> dict[str, Any]:
    response = world.client.post("/dossiers/accountless", **world.body("accountless"))
    return _ok(response, 201)


def _build_dossiers(world: World) -> None:
    """A dossier of the owner in each status; `fresh` makes another one on demand."""
    client, owner, officer = world.client, world.headers["owner"], world.headers["officer"]
    dossiers = world.dossiers

    def draft() -> dict[str, str]:
        created = _ok(client.post("/dossiers/", headers=owner, **world.body("dossier")), 201)
        dossier_id = created["id"]
        _ok(client.patch(f"/dossiers/{dossier_id}", headers=owner, **world.body("declare")))
        stored = attach_required(dossiers, created, owner)
        component = created["components"][0]["id"]
        return {"draft": dossier_id, "component": component, "draft_file": stored[0]["id"]}

    def submitted() -> dict[str, str]:
        made = draft()
        _ok(client.post(f"/dossiers/{made['draft']}/submit", headers=owner))
        return {"submitted": made["draft"], "sub_file": made["draft_file"]}

    def processing() -> dict[str, str]:
        dossier_id = submitted()["submitted"]
        _ok(client.post(f"/dossiers/{dossier_id}/receive", headers=officer))
        return {"processing": dossier_id}

    def supplement() -> dict[str, str]:
        dossier_id = submitted()["submitted"]
        asked = client.post(
            f"/dossiers/{dossier_id}/request-supplement", headers=officer, **world.body("content")
        )
        _ok(asked)
        return {"supplement": dossier_id}

    def returned() -> dict[str, str]:
        dossier_id = processing()["processing"]
        view = _ok(
            client.post(f"/dossiers/{dossier_id}/result", headers=officer, **world.body("result"))
        )
        return {"returned": dossier_id, "result": view["results"][0]["id"]}

    for make in (draft, submitted, processing, supplement, returned):
        world.ids.update(make())
    world.fresh.update(
        draft=draft,
        submitted=submitted,
        processing=processing,
        supplement=supplement,
        returned=returned,
    )
    # the tracking link of a submitted accountless dossier, and of another one
    for key in ("", "other_"):
        filed = _accountless(world)
        holder = {"X-Dossier-Token": filed["token"]}
        attach_required(dossiers, filed, holder)
        sent = _ok(client.post(f"/dossiers/{filed['id']}/submit", headers=holder))
        world.ids[f"{key}code"] = sent["code"]
        tracking = _tracking_token(world, filed["applicant"]["email"], sent["code"])
        world.ids[f"{key}tracking"] = tracking


def _tracking_token(world: World, email: str, code: str) -> str:
    [mail] = world.smtp.wait_for(email, 1)
    match = re.search(r"/theo-doi-ho-so\?(\S+)", mail.text)  # the pages' tracking page
    assert match and code in mail.text, mail.text
    query = parse_qs(urlsplit("/?" + match.group(1).rstrip(".,)")).query)
    return query["token"][0]


def _build_catalogue(world: World) -> None:
    client, admin = world.client, world.headers["admin"]

    def agency() -> dict[str, str]:
        made = _ok(client.post("/catalogue/agencies", headers=admin, **world.body("agency")), 201)
        return {"agency": made["id"]}

    def field_() -> dict[str, str]:
        made = _ok(client.post("/catalogue/fields", headers=admin, **world.body("field")), 201)
        return {"fieldid": made["id"]}

    def procedure() -> dict[str, str]:
        body = world.body("procedure")
        _ok(client.post("/catalogue/procedures", headers=admin, **body), 201)
        return {"procedure": body["json"]["code"]}

    def pform() -> dict[str, str]:
        code = procedure()["procedure"]
        form = client.post(
            f"/catalogue/procedures/{code}/forms", headers=admin, **world.body("form")
        )
        return {"procedure": code, "pform": _ok(form, 201)["id"]}

    branch_form = client.post(
        f"/catalogue/procedures/{LAWYERS_BRANCH}/forms", headers=admin, **world.body("form")
    )
    world.ids["form"] = _ok(branch_form, 201)["id"]
    for make in (agency, field_, pform):
        world.ids.update(make())
    world.fresh.update(agency=agency, fieldid=field_, procedure=procedure, pform=pform)


def _ids_for(world: World, template: str, fresh: bool) -> dict[str, str]:
    """The shared objects, or for a write meant to succeed new ones of the named kinds."""
    ids = dict(world.ids)
    if fresh:
        named = [name for _, name, _, _ in Formatter().parse(template) if name]
        for name in named:
            if name in world.fresh:
                ids.update(world.fresh[name]())
    return ids


def _check(response: httpx.Response, expected: int) -> str | None:
    if response.status_code != expected:
        return f"got {response.status_code}: {response.text[:200]}"
    if response.status_code >= 400:
        if response.headers.get("content-type") != PROBLEM:
            return f"{response.status_code} is not problem+json"
        body = response.json()
        if body.get("status") != expected or not all(
            k in body for k in ("type", "title", "detail")
        ):
            return f"bad problem body {body}"
    return None


@pytest.mark.parametrize(
    ("method", "template", "body", "expected"),
    MATRIX,
    ids=[f"{method} {template}" for method, template, _, _ in MATRIX],
)
def test_authorisation_matrix(
    world: World, method: str, template: str, body: str | None, expected: tuple[int, ...]
) -> None:
    assert len(expected) == len(ROLES)
    wrong = []
    for role, status in zip(ROLES, expected, strict=True):
        fresh = method != "GET" and status < 300
        ids = _ids_for(world, template, fresh)
        response = world.call(method, template, body, role, ids)
        why = _check(response, status)
        if why:
            wrong.append(f"{role}: expected {status}, {why}")
    assert not wrong, "\n".join(wrong)


def test_what_an_accountless_token_lets_its_holder_do(world: World) -> None:
    wrong = []
    for method, template, body, status in HOLDER_OWN:
        response = world.call(method, template, body, "holder", world.ids)
        why = _check(response, status)
        if why:
            wrong.append(f"{method} {template}: expected {status}, {why}")
    assert not wrong, "\n".join(wrong)


def test_file_downloads_carry_no_sniffing_and_no_caching(world: World) -> None:
    """Attachments and results go back as attachments, never rendered by the browser."""
    owner = world.headers["owner"]
    for path in (
        "/dossiers/{draft}/files/{draft_file}".format(**world.ids),
        "/dossiers/{returned}/results/{result}".format(**world.ids),
    ):
        response = world.client.get(path, headers=owner)
        assert response.status_code == 200, response.text
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-disposition"].startswith("attachment;")
        assert "no-store" in response.headers["cache-control"]
        assert response.content.startswith(b"%PDF")
