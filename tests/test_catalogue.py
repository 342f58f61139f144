"""The catalogue end to end on PostgreSQL: the real national catalogue imported by `portal run`,
browsed and searched through the gateway, edited by an admin, each version reaching the dossiers
service; and the same searches on the SQLite default giving the same answers."""

from __future__ import annotations

import asyncio
import io
import json
import unicodedata
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.catalogue.settings import SHARED_DATA, CatalogueSettings
from tests.accounts_flow import bearer, registered_citizen
from tests.search_cases import BIRTH_REGISTRATION, MUST_BE_FIRST, QUERIES
from tests.search_everyday import EVERYDAY
from tests.support import SmtpSink, Stack, wait_until

PROBLEM = "application/problem+json"
SOURCE = SHARED_DATA / "procedures" / "national-catalogue.jsonl"
SEARCH_REPORT: dict[str, Any] = {}

pytestmark = pytest.mark.skipif(not SOURCE.exists(), reason=f"no national catalogue at {SOURCE}")


@pytest.fixture(scope="module")
def catalogue(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/catalogue", timeout=30) as c:
        yield c


@pytest.fixture(scope="module")
def admin(stack: Stack) -> dict[str, str]:
    response = httpx.post(
        f"{stack.base_url}/api/v1/accounts/token",
        data={"username": stack.admin_email, "password": stack.admin_password},
    )
    assert response.status_code == 200, response.text
    return bearer(response.json())


def top_codes(client: httpx.Client, q: str, n: int = 5, **params: Any) -> list[str]:
    response = client.get("/procedures", params={"q": q, "page_size": n, **params})
    assert response.status_code == 200, response.text
    return [item["code"] for item in response.json()["items"]]


# -- import --------------------------------------------------------------------------------------


def source_codes() -> list[str]:
    return [
        json.loads(line)["ma_thu_tuc"] for line in SOURCE.open(encoding="utf-8") if line.strip()
    ]


def test_the_whole_national_catalogue_is_imported(stack: Stack, catalogue: httpx.Client) -> None:
    """Other tests of the session may have added procedures of their own: count the source's."""
    codes = source_codes()
    [row] = stack.query(
        "catalogue",
        "SELECT count(*) AS n, count(DISTINCT code) AS codes FROM procedures "
        "WHERE code = ANY($1::text[])",
        codes,
    )
    assert row["n"] == row["codes"] == len(codes) == 1601
    names = stack.query(
        "catalogue", "SELECT name FROM procedures WHERE code = ANY($1::text[])", codes
    )
    assert all(unicodedata.is_normalized("NFC", r["name"]) for r in names)
    assert not any("\u00a0" in r["name"] or "  " in r["name"] for r in names)
    page = catalogue.get("/procedures", params={"page_size": 1}).json()
    assert page["total"] >= 1601


def test_birth_registration_detail_is_what_the_citizen_reads(catalogue: httpx.Client) -> None:
    response = catalogue.get(f"/procedures/{BIRTH_REGISTRATION}")
    assert response.status_code == 200
    detail = response.json()
    assert detail["name"] == "Thủ tục đăng ký khai sinh"
    assert detail["tier"] == ["commune"] and detail["agency"] is None
    assert detail["field"]["name"] == "Hộ tịch"
    channels = {fee["channel"]: fee for fee in detail["fees"]}
    assert set(channels) == {"online", "postal", "direct"}
    assert all(fee["fee_vnd"] == 0 and fee["fee_text"] == "Miễn phí" for fee in detail["fees"])
    names = [c["name"] for c in detail["components"]]
    assert any(name.startswith("Giấy chứng sinh") for name in names)
    assert not any((c["group"] or "").startswith("Lưu ý") for c in detail["components"])
    assert detail["notes"] and detail["present_at_counter"]
    required = [c for c in detail["components"] if c["required"]]
    assert required and all(c["id"] for c in detail["components"])
    assert detail["result"].startswith("Giấy khai sinh")
    assert any(doc["code"] == "123/2015/NĐ-CP" for doc in detail["legal_basis"])
    schema = detail["declaration_schema"]
    assert {"child_full_name", "child_date_of_birth", "place_of_birth"} <= set(schema["properties"])
    assert "full_name" in schema["$defs"]["applicant"]["properties"]
    assert detail["version"] >= 1
    by_id = catalogue.get(f"/procedures/{detail['id']}").json()
    assert by_id["code"] == BIRTH_REGISTRATION


def test_named_forms_are_listed_and_say_when_they_have_no_file(catalogue: httpx.Client) -> None:
    detail = catalogue.get("/procedures/1.000253").json()
    [form] = [f for f in detail["forms"] if "A17" in f["name"]]
    assert form["available"] is False and form["filename"] is None
    assert any(c["form_id"] == form["id"] for c in detail["components"])
    response = catalogue.get(f"/procedures/1.000253/forms/{form['id']}")
    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM
    assert "chưa có tệp" in response.json()["detail"]


def test_reimport_updates_nothing_and_duplicates_nothing(stack: Stack) -> None:
    from services.catalogue.importer import run_import

    def counts() -> tuple[int, int]:
        [row] = stack.query(
            "catalogue",
            "SELECT (SELECT count(*) FROM procedures) AS procedures, "
            "(SELECT count(*) FROM procedure_versions) AS versions",
        )
        return row["procedures"], row["versions"]

    before = counts()
    settings = CatalogueSettings(
        database_url=stack.db_url("catalogue"), data_dir=stack.workdir / "var"
    )
    report = asyncio.run(run_import(settings, SOURCE, show_progress=False))
    assert report is not None
    assert (report.created, report.updated, report.unchanged) == (0, 0, 1601)
    assert counts() == before
    # How each processing time was obtained, in the report and on each procedure.
    by_source = report.processing_time
    assert sum(by_source.values()) == 1601
    assert set(by_source) <= {
        "stated",
        "inferred_unit_from_channel",
        "inferred_unit_from_text",
        "assumed_working_days",
        "unknown",
    }
    not_stated = report.processing_time_not_stated
    assert len(not_stated) == 1601 - by_source["stated"] and by_source["unknown"] > 0
    assert all(entry["basis"] for entry in not_stated.values())
    assert all((e["days"] is None) == (e["source"] == "unknown") for e in not_stated.values())
    stored = stack.query(
        "catalogue",
        "SELECT code, processing_days, processing_time_source FROM procedures "
        "WHERE code = ANY($1::text[])",
        source_codes(),
    )
    for row in stored:
        entry = not_stated.get(row["code"], {"source": "stated"})
        if row["processing_time_source"] != "admin":  # an admin's correction (test below)
            assert row["processing_time_source"] == entry["source"], row["code"]
    assert f"{by_source['unknown']} unknown" in report.summary()


@pytest.mark.parametrize(
    ("code", "days", "source"),
    [
        ("1.000253", 7, "stated"),  # "Trực tiếp7 NgàyKhông có thông tin"
        ("1.003586", 2, "inferred_unit_from_text"),  # "…2Miễn phí" + "02 ngày làm việc, kể từ…"
        ("1.004359", 5, "assumed_working_days"),  # "…5Miễn phí", no unit anywhere
        ("1.009824", None, "unknown"),  # a text where the time should be
    ],
)
def test_the_procedure_says_how_its_processing_time_was_obtained(
    catalogue: httpx.Client, code: str, days: int | None, source: str
) -> None:
    detail = catalogue.get(f"/procedures/{code}").json()
    assert (detail["processing_days"], detail["processing_time_source"]) == (days, source)
    if source == "stated":
        assert detail["processing_time_basis"] is None
    else:
        assert detail["processing_time_basis"]
    # No number at all: the citizen and the officer read so, rather than nothing.
    expected = (
        "Thời hạn giải quyết: chưa được công bố; vui lòng liên hệ cơ quan thực hiện"
        if days is None
        else None
    )
    assert detail["processing_time_note"] == expected
    listed = catalogue.get("/procedures", params={"q": code, "page_size": 5}).json()["items"]
    [item] = [i for i in listed if i["code"] == code]
    assert item["processing_time_source"] == source


def test_importer_reports_what_it_cannot_read(tmp_path: Path) -> None:
    from services.catalogue.importer import run_import
    from services.kernel.migrations import upgrade

    good = json.loads(next(iter(SOURCE.open(encoding="utf-8"))))
    decomposed = unicodedata.normalize("NFD", "Thủ tục thử  nghiệm\u00a0hoà giải")
    odd = {**good, "ma_thu_tuc": "9.999001", "ten_thu_tuc": decomposed, "cach_thuc_thuc_hien": ""}
    source = tmp_path / "catalogue.jsonl"
    source.write_text(
        "\n".join(
            [
                json.dumps(odd, ensure_ascii=False),
                "{not json",
                json.dumps({"ten_thu_tuc": "không có mã"}, ensure_ascii=False),
            ]
        ),
        encoding="utf-8",
    )
    settings = CatalogueSettings(data_dir=tmp_path, database_url="")
    upgrade("catalogue", settings.resolved_database_url())
    report = asyncio.run(run_import(settings, source, show_progress=False))
    assert report is not None and report.created == 1
    assert [f["line"] for f in report.failed_lines] == [2, 3]
    assert any(p.startswith("cach_thuc_thuc_hien") for p in report.problems["9.999001"])

    async def stored_name() -> str:
        from services.catalogue.service import CatalogueService
        from services.kernel.db import database_for
        from services.kernel.storage import LocalStorage

        db = database_for(settings.resolved_database_url())
        async with db.sessionmaker() as session:
            service = CatalogueService(session, settings, LocalStorage(tmp_path), ("commune",))
            return (await service.detail("9.999001")).name

    assert asyncio.run(stored_name()) == "Thủ tục thử nghiệm hoà giải"


# -- browse --------------------------------------------------------------------------------------


def _all(catalogue: httpx.Client, path: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a reference list, in one page (they hold a few hundred at most)."""
    page = catalogue.get(path, params={**params, "page_size": 500}).json()
    assert page["total"] == len(page["items"]) and page["page"] == 1
    return list(page["items"])


def test_agencies_of_the_current_layout(catalogue: httpx.Client) -> None:
    communes = _all(catalogue, "/agencies", tier="commune")
    assert len(communes) == 69
    assert "Phường Thành Sen" in {c["name"] for c in communes}
    assert _all(catalogue, "/agencies", tier="district") == []
    departments = _all(catalogue, "/agencies", tier="department")
    assert {"Sở Tư pháp", "Sở Nông nghiệp và Môi trường", "Sở Xây dựng"} <= {
        d["name"] for d in departments
    }
    province = catalogue.get("/agencies/HT").json()
    assert province["tier"] == "province" and province["parent"] is None
    assert len(province["children"]) == len(departments) + 69
    commune = catalogue.get(f"/agencies/{communes[0]['id']}").json()
    assert commune["parent"]["id"] == "HT"


def test_browse_by_agency_field_and_tier(catalogue: httpx.Client) -> None:
    justice = catalogue.get("/procedures", params={"agency_id": "HT-STP", "page_size": 100}).json()
    assert justice["total"] > 50
    assert all(item["agency"]["id"] == "HT-STP" for item in justice["items"])
    assert all("province" in item["tier"] for item in justice["items"])

    commune = _all(catalogue, "/agencies", tier="commune")[0]
    local = catalogue.get("/procedures", params={"agency_id": commune["id"]}).json()
    assert local["total"] > 300
    fields = _all(catalogue, "/fields", tier="commune")
    civil = next(f for f in fields if f["name"] == "Hộ tịch")
    by_field = catalogue.get(
        "/procedures", params={"field_id": civil["id"], "tier": "commune", "page_size": 100}
    ).json()
    assert by_field["total"] == civil["procedures"]
    assert BIRTH_REGISTRATION in {item["code"] for item in by_field["items"]}
    assert all(item["field"]["id"] == civil["id"] for item in by_field["items"])

    online = catalogue.get("/procedures", params={"online": "full"}).json()["total"]
    partial = catalogue.get("/procedures", params={"online": "partial"}).json()["total"]
    every = catalogue.get("/procedures", params={"page_size": 1}).json()["total"]
    assert online + partial == every and online > 0 and partial > 0

    pages = [
        catalogue.get(
            "/procedures", params={"field_id": civil["id"], "page": n, "page_size": 7}
        ).json()["items"]
        for n in (1, 2)
    ]
    assert not {i["code"] for i in pages[0]} & {i["code"] for i in pages[1]}


def test_bad_browse_parameters_are_problems(catalogue: httpx.Client) -> None:
    for params in ({"page_size": 1000}, {"tier": "village"}, {"online": "yes"}, {"page": 0}):
        response = catalogue.get("/procedures", params=params)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["errors"]
    unknown = catalogue.get("/procedures", params={"agency_id": "HT-NOPE"})
    assert unknown.status_code == 404 and unknown.headers["content-type"] == PROBLEM
    missing = catalogue.get("/procedures/9.123456", headers={"Accept-Language": "en"})
    assert missing.status_code == 404 and missing.json()["detail"] == "No such procedure."
    assert catalogue.get("/agencies/NOPE").status_code == 404


def test_reads_are_cacheable(catalogue: httpx.Client) -> None:
    first = catalogue.get(f"/procedures/{BIRTH_REGISTRATION}")
    etag = first.headers["etag"]
    assert "max-age" in first.headers["cache-control"]
    again = catalogue.get(f"/procedures/{BIRTH_REGISTRATION}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    listing = catalogue.get("/procedures", params={"q": "khai sinh"})
    assert (
        catalogue.get(
            "/procedures",
            params={"q": "khai sinh"},
            headers={"If-None-Match": listing.headers["etag"]},
        ).status_code
        == 304
    )


# -- search --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("query", "expected"), MUST_BE_FIRST)
def test_birth_registration_comes_first(catalogue: httpx.Client, query: str, expected: str) -> None:
    assert top_codes(catalogue, query)[:1] == [expected]


def test_tone_placement_and_accents_do_not_matter(catalogue: httpx.Client) -> None:
    results = [
        top_codes(catalogue, q, 50) for q in ("cộng hòa", "cộng hoà", "cong hoa", "CỘNG HOÀ")
    ]
    assert results[0] and all(r == results[0] for r in results)


def test_exact_accented_matches_rank_above_folded_ones(catalogue: httpx.Client) -> None:
    response = catalogue.get("/procedures", params={"q": "thuê nhà", "page_size": 50}).json()
    exact = ["thuê nhà" in item["name"].lower() for item in response["items"]]
    assert exact[0] and any(not e for e in exact), "query should also find 'thuế nhà…' names"
    assert exact == sorted(exact, reverse=True)


def test_filters_combine_with_the_query(catalogue: httpx.Client) -> None:
    fields = _all(catalogue, "/fields")
    civil = next(f for f in fields if f["name"] == "Hộ tịch")
    anywhere = catalogue.get("/procedures", params={"q": "cấp bản sao", "page_size": 100}).json()
    in_field = catalogue.get(
        "/procedures", params={"q": "cấp bản sao", "field_id": civil["id"], "page_size": 100}
    ).json()
    assert 0 < in_field["total"] < anywhere["total"]
    assert all(item["field"]["id"] == civil["id"] for item in in_field["items"])
    province = catalogue.get("/procedures", params={"q": "khai sinh", "tier": "province"}).json()
    assert all("province" in item["tier"] for item in province["items"])
    assert BIRTH_REGISTRATION not in {item["code"] for item in province["items"]}


def test_query_set_from_real_names(catalogue: httpx.Client) -> None:
    first = top5 = 0
    misses = []
    for query, expected in QUERIES:
        codes = top_codes(catalogue, query)
        first += codes[:1] == [expected]
        top5 += expected in codes
        if codes[:1] != [expected]:
            misses.append((query, expected, codes))
    SEARCH_REPORT.update(
        queries=len(QUERIES), first=first / len(QUERIES), top5=top5 / len(QUERIES), misses=misses
    )
    assert first / len(QUERIES) >= 0.9, misses
    assert top5 == len(QUERIES), misses


def test_sqlite_default_gives_the_same_results(
    catalogue: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    from services.catalogue.app import create_app
    from services.catalogue.importer import run_import

    data_dir = tmp_path_factory.mktemp("sqlite-catalogue")
    settings = CatalogueSettings(data_dir=data_dir, database_url="")
    from services.kernel.migrations import upgrade

    upgrade("catalogue", settings.resolved_database_url())
    asyncio.run(run_import(settings, SOURCE, show_progress=False))
    queries = [q for q, _ in MUST_BE_FIRST + QUERIES] + ["cộng hoà", "thuê nhà", "hộ tịch"]
    queries += [q for q, _ in EVERYDAY]  # citizens' own words, read through the lexicon

    async def sqlite_results() -> list[list[str]]:
        app = create_app(settings)
        results = []
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://catalogue") as c:
                for q in queries:
                    page = (await c.get("/procedures", params={"q": q, "page_size": 5})).json()
                    results.append([item["code"] for item in page["items"]])
        return results

    sqlite = asyncio.run(sqlite_results())
    postgres = [top_codes(catalogue, q) for q in queries]
    differences = [(q, p, s) for q, p, s in zip(queries, postgres, sqlite, strict=True) if p != s]
    assert not differences


# -- admin -----------------------------------------------------------------------------------------


def _docx() -> bytes:
    """A minimal but well-formed Word document."""
    content_types = (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Override PartName="/word/document.xml" ContentType="application/'
        'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("[Content_Types].xml", content_types)
        z.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_admin_edits_publish_versions_that_reach_the_dossiers_service(
    stack: Stack, catalogue: httpx.Client, admin: dict[str, str]
) -> None:
    field = catalogue.post(
        "/fields", json={"name": f"Thử nghiệm {uuid.uuid4().hex[:6]}"}, headers=admin
    )
    assert field.status_code == 201, field.text
    code = f"9.{uuid.uuid4().int % 1_000_000:06d}"
    body = {
        "code": code,
        "name": "Cấp giấy xác nhận thử nghiệm hoạt động",
        "field_id": field.json()["id"],
        "tier": ["province"],
        "agency_id": "HT-STP",
        "online": "full",
        "processing_days": 5,
        "components": [
            {"name": "Đơn đề nghị", "required": True, "form_name": "Mẫu 01.docx"},
            {"name": "Bản sao giấy tờ tùy thân", "required": False},
        ],
    }
    created = catalogue.post("/procedures", json=body, headers=admin)
    assert created.status_code == 201, created.text
    procedure = created.json()
    assert procedure["version"] == 1 and procedure["agency"]["id"] == "HT-STP"
    [form] = procedure["forms"]
    assert procedure["components"][0]["form_id"] == form["id"]
    assert top_codes(catalogue, "xac nhan thu nghiem hoat dong")[:1] == [code]

    edited = catalogue.put(
        f"/procedures/{code}",
        json={"processing_days": 3, "name": "Cấp giấy xác nhận thử nghiệm"},
        headers=admin,
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["version"] == 2 and edited.json()["processing_days"] == 3

    upload = catalogue.post(
        f"/procedures/{code}/forms",
        data={"form_id": form["id"]},
        files={"file": ("../../etc/Mẫu 01.docx", _docx(), "application/octet-stream")},
        headers=admin,
    )
    assert upload.status_code == 201, upload.text
    assert upload.json()["filename"] == "Mẫu 01.docx"
    download = catalogue.get(f"/procedures/{code}/forms/{form['id']}")
    assert download.status_code == 200 and download.content == _docx()
    assert download.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    )
    assert catalogue.get(f"/procedures/{code}").json()["version"] == 3

    def copies() -> list[int]:
        rows = stack.query(
            "dossiers",
            "SELECT version FROM procedure_copies WHERE procedure_id = $1 ORDER BY version",
            procedure["id"],
        )
        return [r["version"] for r in rows]

    wait_until(lambda: copies() == [1, 2, 3], 30, what="versions 1-3 in the dossiers service")
    [latest] = stack.query(
        "dossiers",
        "SELECT snapshot, is_latest FROM procedure_copies WHERE procedure_id = $1 AND version = 3",
        procedure["id"],
    )
    snapshot = (
        json.loads(latest["snapshot"])
        if isinstance(latest["snapshot"], str)
        else latest["snapshot"]
    )
    assert latest["is_latest"] and snapshot["processing_days"] == 3
    assert snapshot["components"][0]["name"] == "Đơn đề nghị"

    removed = catalogue.delete(f"/procedures/{code}/forms/{form['id']}", headers=admin)
    assert removed.status_code == 204
    assert catalogue.get(f"/procedures/{code}/forms/{form['id']}").status_code == 404
    [listed] = catalogue.get(f"/procedures/{code}").json()["forms"]
    assert listed["id"] == form["id"] and listed["available"] is False

    assert catalogue.delete(f"/procedures/{code}", headers=admin).status_code == 204
    assert top_codes(catalogue, "xac nhan thu nghiem hoat dong")[:1] != [code]
    wait_until(lambda: copies() == [1, 2, 3, 4, 5], 30, what="the retirement as version 5")


def test_an_admin_correction_is_published_and_kept_across_a_reimport(
    stack: Stack, catalogue: httpx.Client, admin: dict[str, str]
) -> None:
    from services.catalogue.importer import run_import

    code = "1.001303"  # "Trực tiếpKhông có thông tin…": no processing time in the source
    before = catalogue.get(f"/procedures/{code}").json()
    assert before["processing_days"] is None
    corrected = catalogue.put(f"/procedures/{code}", json={"processing_days": 20}, headers=admin)
    assert corrected.status_code == 200, corrected.text
    body = corrected.json()
    assert (body["processing_days"], body["processing_time_source"]) == (20, "admin")
    assert body["processing_time_note"] is None and body["version"] == before["version"] + 1

    def published() -> dict[str, Any] | None:
        rows = stack.query(
            "dossiers",
            "SELECT snapshot FROM procedure_copies WHERE procedure_id = $1 AND version = $2",
            body["id"],
            body["version"],
        )
        if not rows:
            return None
        snapshot = rows[0]["snapshot"]
        return dict(json.loads(snapshot) if isinstance(snapshot, str) else snapshot)

    snapshot = wait_until(published, 30, what="the corrected version in the dossiers service")
    assert (snapshot["processing_days"], snapshot["processing_time_source"]) == (20, "admin")

    settings = CatalogueSettings(
        database_url=stack.db_url("catalogue"), data_dir=stack.workdir / "var"
    )
    report = asyncio.run(run_import(settings, SOURCE, show_progress=False))
    assert report is not None
    assert report.kept_admin_values[code] == {
        "processing_days": 20,
        "imported": {"days": None, "source": "unknown"},
    }
    after = catalogue.get(f"/procedures/{code}").json()
    assert (after["processing_days"], after["processing_time_source"]) == (20, "admin")
    assert after["version"] == body["version"]  # the re-import changed nothing


def test_admin_validation_and_forbidden_for_others(
    stack: Stack, catalogue: httpx.Client, admin: dict[str, str], smtp: SmtpSink, email_address: str
) -> None:
    anonymous = catalogue.post("/fields", json={"name": "Lĩnh vực mới"})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM
    with httpx.Client(base_url=f"{stack.base_url}/api/v1/accounts", timeout=30) as accounts:
        citizen = bearer(registered_citizen(accounts, smtp, email_address))
    for method, path, body in (
        ("POST", "/fields", {"name": "Lĩnh vực mới"}),
        (
            "POST",
            "/agencies",
            {"id": "HT-X", "name": "Sở Mới", "tier": "department", "parent_id": "HT"},
        ),
        ("PUT", f"/procedures/{BIRTH_REGISTRATION}", {"processing_days": 1}),
        ("DELETE", f"/procedures/{BIRTH_REGISTRATION}", None),
    ):
        response = catalogue.request(method, path, json=body, headers=citizen)
        assert response.status_code == 403, (method, path)
        assert response.headers["content-type"] == PROBLEM

    invalid = catalogue.post(
        "/procedures",
        json={
            "code": "9.000001",
            "name": "Thủ tục không có cơ quan",
            "field_id": "nope",
            "tier": ["province"],
        },
        headers=admin,
    )
    assert invalid.status_code == 422
    assert [e["field"] for e in invalid.json()["errors"]] == ["field_id"]
    duplicate = catalogue.post(
        "/procedures",
        json={
            "code": BIRTH_REGISTRATION,
            "name": "Trùng mã",
            "field_id": "ho-tich",
            "tier": ["commune"],
        },
        headers=admin,
    )
    assert duplicate.status_code == 409
    wrong_type = catalogue.post(
        f"/procedures/{BIRTH_REGISTRATION}/forms",
        data={"name": "Tờ khai"},
        files={"file": ("to-khai.pdf", b"MZ\x90\x00 not a pdf", "application/pdf")},
        headers=admin,
    )
    assert wrong_type.status_code == 415 and wrong_type.headers["content-type"] == PROBLEM
    agency = catalogue.post(
        "/agencies",
        json={"id": "HT-XA-MOI", "name": "Xã Mới", "tier": "commune", "parent_id": "HT-STP"},
        headers=admin,
    )
    assert agency.status_code == 422 and agency.json()["errors"][0]["field"] == "parent_id"
    busy = catalogue.delete("/fields/ho-tich", headers=admin)
    assert busy.status_code == 409


def test_the_former_three_tier_layout_loads(tmp_path: Path) -> None:
    from services.catalogue.layouts import load_layout

    layout = load_layout(CatalogueSettings(layout="2023", data_dir=tmp_path))
    tiers = [a.tier for a in layout.agencies]
    assert (tiers.count("district"), tiers.count("commune")) == (13, 216)
    assert layout.commune_tiers == ("district", "commune")
    by_id = {a.id: a for a in layout.agencies}
    assert all(
        by_id[a.parent_id].tier == "district" for a in layout.agencies if a.tier == "commune"
    )
    assert layout.department_for("Đường bộ", "bo-xay-dung") == "HT-SGTVT"
    assert layout.name == "2023"


def test_python_similarity_matches_pg_trgm(stack: Stack) -> None:
    """SQLite ranks with the Python port; it must give PostgreSQL's numbers."""
    from services.catalogue.search import similarity, term_string

    names = [r["name"] for r in stack.query("catalogue", "SELECT name FROM procedures LIMIT 200")]
    pairs = [(term_string(n), "dang ki khai sinh") for n in names]
    pairs += [("cong hoa", "cong hoa xa hoi"), ("khai", "khia"), ("a", ""), ("x y z", "z")]
    for a, b in pairs:
        [row] = stack.query("catalogue", "SELECT similarity($1, $2) AS s", a, b)
        assert abs(row["s"] - similarity(a, b)) < 1e-6, (a, b)


def test_typos_are_corrected_to_the_term_meant() -> None:
    from services.catalogue.search import Query, edit_distance, near_terms, nearest_term

    vocabulary = {"khai": 90, "khi": 40, "sinh": 80, "vien": 30, "san": 60, "sa": 1}
    assert edit_distance("khia", "khai") == 1  # neighbours swapped: one edit
    assert near_terms("khia", vocabulary)[:2] == ["khi", "khai"]  # the search picks by context
    assert nearest_term("snh", vocabulary) == "sinh"
    assert nearest_term("vein", vocabulary) == "vien"
    assert nearest_term("xyzzy", vocabulary) == "xyzzy"
    assert Query.parse("Đăng KÝ  khai\u00a0sinh").words == ("dang", "ki", "khai", "sinh")
    assert Query.parse("1.001193").code == "1.001193"
