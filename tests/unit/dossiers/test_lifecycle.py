"""The dossier's lifecycle as a table: every action × party × status, allowed or the refusal
the client sees — and the labels, transitions, e-mails and the lateness rule."""

from __future__ import annotations

import datetime as dt
import typing
from typing import Any

import pytest
from sqlalchemy import create_engine, insert, select

from services.dossiers import lifecycle, schemas
from services.dossiers.lifecycle import (
    TRANSITIONS,
    Action,
    Party,
    Refusal,
    Status,
    is_late,
    late_clause,
    problem,
    refusal,
)
from services.dossiers.models import Dossier

# One letter per status, in this order: draft, submitted, supplement_requested, processing,
# result_returned, rejected. "." allowed; N 404 not found; F 403 only the filer; O 403 only an
# officer; T 403 the accountless token's limits; E 409 not editable; W 409 the state machine
# forbids it; P 409 a step outside processing.
ORDER = (
    Status.DRAFT,
    Status.SUBMITTED,
    Status.SUPPLEMENT_REQUESTED,
    Status.PROCESSING,
    Status.RESULT_RETURNED,
    Status.REJECTED,
)
LETTERS = {
    ".": None,
    "N": Refusal.NOT_FOUND,
    "F": Refusal.FILER_ONLY,
    "O": Refusal.OFFICER_ONLY,
    "T": Refusal.TOKEN_LIMITS,
    "E": Refusal.NOT_EDITABLE,
    "W": Refusal.WRONG_STATUS,
    "P": Refusal.NOT_PROCESSING,
}
P = Party
UNSEEN = {P.OTHER_OFFICER: "NNNNNN", P.ADMIN: "NNNNNN", P.STRANGER: "NNNNNN"}
FILERS_ONLY = {P.OFFICER: "FFFFFF", P.OTHER_OFFICER: "FFFFFF", P.ADMIN: "NNNNNN",
               P.STRANGER: "NNNNNN"}  # fmt: skip
OFFICERS_ONLY = {P.OWNER: "OOOOOO", P.ACCOUNTLESS_FILER: "OOOOOO", P.OTHER_OFFICER: "NNNNNN",
                 P.ADMIN: "OOOOOO", P.STRANGER: "OOOOOO"}  # fmt: skip
READ = {P.OWNER: "......", P.ACCOUNTLESS_FILER: ".NNNNN", P.OFFICER: "N.....", **UNSEEN}
READ_ALWAYS = {P.OWNER: "......", P.ACCOUNTLESS_FILER: "......", P.OFFICER: "N.....", **UNSEEN}
EDIT = {P.OWNER: ".E.EEE", P.ACCOUNTLESS_FILER: ".EEEEE", **FILERS_ONLY}

TABLE: dict[Action, dict[Party, str]] = {
    Action.VIEW: READ,
    Action.READ_FILE: READ,
    Action.HISTORY: READ_ALWAYS,
    Action.READ_RESULT: READ_ALWAYS,
    Action.UPDATE: {P.OWNER: ".E.EEE", P.ACCOUNTLESS_FILER: "TTTTTT", **FILERS_ONLY},
    Action.DISCARD: {P.OWNER: ".EEEEE", P.ACCOUNTLESS_FILER: "TTTTTT", **FILERS_ONLY},
    Action.ATTACH: EDIT,
    Action.DETACH: EDIT,
    Action.SUBMIT: {P.OWNER: ".WWWWW", P.ACCOUNTLESS_FILER: ".WWWWW", **FILERS_ONLY},
    Action.SUPPLEMENT: {P.OWNER: "WW.WWW", P.ACCOUNTLESS_FILER: "FFFFFF", **FILERS_ONLY},
    Action.RECEIVE: {P.OFFICER: "N.WWWW", **OFFICERS_ONLY},
    Action.REQUEST_SUPPLEMENT: {P.OFFICER: "N.W.WW", **OFFICERS_ONLY},
    Action.REJECT: {P.OFFICER: "N.W.WW", **OFFICERS_ONLY},
    Action.STEP: {P.OFFICER: "NPP.PP", **OFFICERS_ONLY},
    Action.RETURN_RESULT: {P.OFFICER: "NWW.WW", **OFFICERS_ONLY},
}

CASES = [
    pytest.param(action, party, status, LETTERS[row[i]], id=f"{action}-{party}-{status}")
    for action, rows in TABLE.items()
    for party, row in rows.items()
    for i, status in enumerate(ORDER)
]


def test_the_table_covers_every_action_party_and_status() -> None:
    assert set(TABLE) == set(Action)
    assert all(set(rows) == set(Party) for rows in TABLE.values())
    assert all(len(row) == len(Status) for rows in TABLE.values() for row in rows.values())
    assert len(CASES) == len(Action) * len(Party) * len(Status)


@pytest.mark.parametrize(("action", "party", "status", "expected"), CASES)
def test_who_may_do_what_in_which_status(
    action: Action, party: Party, status: Status, expected: Refusal | None
) -> None:
    assert refusal(action, status, party) is expected
    assert refusal(action, status.value, party) is expected  # stored strings read the same


def test_the_statuses_are_the_apis() -> None:
    assert tuple(Status) == ORDER
    assert typing.get_args(schemas.Status) == tuple(s.value for s in Status)


def test_labels_in_vietnamese_and_english() -> None:
    assert {s.value: s.label for s in Status} == {
        "draft": "Hồ sơ chưa gửi",
        "submitted": "Hồ sơ đã gửi",
        "supplement_requested": "Hồ sơ yêu cầu bổ sung",
        "processing": "Hồ sơ đang xử lý",
        "result_returned": "Hồ sơ đã trả kết quả",
        "rejected": "Hồ sơ bị trả lại",
    }
    assert all(s.label_en and s.label_en != s.label for s in Status)
    assert lifecycle.label("processing") == "Hồ sơ đang xử lý"


def test_each_transition_and_the_email_it_sends() -> None:
    found = {
        (action.value, source.value, t.target.value, t.email)
        for action, t in TRANSITIONS.items()
        for source in t.sources
    }
    asked = "dossier_supplement_requested"
    assert found == {
        ("submit", "draft", "submitted", "dossier_submitted"),
        ("supplement", "supplement_requested", "submitted", "dossier_submitted"),
        ("receive", "submitted", "processing", "dossier_processing"),
        ("request_supplement", "submitted", "supplement_requested", asked),
        ("request_supplement", "processing", "supplement_requested", asked),
        ("reject", "submitted", "rejected", "dossier_rejected"),
        ("reject", "processing", "rejected", "dossier_rejected"),
        ("return_result", "processing", "result_returned", "dossier_result_returned"),
    }
    assert all(action in lifecycle.ACTION_LABELS for action in TRANSITIONS)


def test_no_way_out_of_the_final_statuses() -> None:
    for final in (Status.RESULT_RETURNED, Status.REJECTED):
        assert not any(final in t.sources for t in TRANSITIONS.values())


@pytest.mark.parametrize(
    ("refused", "status", "code", "vi", "en"),
    [
        (Refusal.NOT_FOUND, 404, "not-found", "Không tìm thấy hồ sơ.", "No such dossier."),
        (Refusal.FILER_ONLY, 403, "forbidden", "Chỉ người nộp", "Only the filer"),
        (Refusal.OFFICER_ONLY, 403, "forbidden", "Chỉ cán bộ", "Only an officer"),
        (Refusal.TOKEN_LIMITS, 403, "forbidden", "không tài khoản", "without an account"),
        (Refusal.NOT_EDITABLE, 409, "conflict", "“Hồ sơ đã gửi” không sửa được",
         "A dossier that is submitted cannot be changed."),
        (Refusal.WRONG_STATUS, 409, "conflict",
         "Không thể tiếp nhận hồ sơ khi hồ sơ ở trạng thái “Hồ sơ đã gửi”.",
         "Cannot receive a dossier that is submitted."),
        (Refusal.NOT_PROCESSING, 409, "conflict", "Chỉ ghi bước xử lý", "only while"),
    ],
)  # fmt: skip
def test_each_refusal_reads_in_both_languages(
    refused: Refusal, status: int, code: str, vi: str, en: str
) -> None:
    error = problem(refused, Action.RECEIVE, "submitted")
    assert (error.status, error.code) == (status, code)
    assert vi in error.detail("vi") and en in error.detail("en")
    if status == 409:
        assert error.extra == {"dossier_status": "submitted"}


NOW = dt.datetime(2026, 3, 2, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize("status", list(Status))
@pytest.mark.parametrize(
    "due_at",
    [None, NOW - dt.timedelta(seconds=1), NOW, NOW + dt.timedelta(seconds=1)],
    ids=["no-due-date", "past", "due-now", "future"],
)
def test_late_only_while_the_clock_runs(status: Status, due_at: dt.datetime | None) -> None:
    late = is_late(status, due_at, NOW)
    assert late == (
        status in (Status.SUBMITTED, Status.PROCESSING) and due_at is not None and due_at < NOW
    )


def test_the_sql_lateness_agrees_with_the_python_rule() -> None:
    engine = create_engine("sqlite://")
    Dossier.__table__.create(engine)  # type: ignore[attr-defined]
    dues = [None, NOW - dt.timedelta(days=3), NOW - dt.timedelta(seconds=1), NOW,
            NOW + dt.timedelta(seconds=1), NOW + dt.timedelta(days=3)]  # fmt: skip
    rows: list[dict[str, Any]] = [
        {
            "id": f"{status.value}-{i}",
            "status": status.value,
            "procedure_id": "p",
            "procedure_version": 1,
            "procedure": {},
            "agency_id": "a",
            "email": "a@example.vn",
            "applicant": {},
            "declaration": {},
            "due_at": due,
            "paused_working_days": 0,
            "history_count": 0,
        }
        for status in Status
        for i, due in enumerate(dues)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Dossier), rows)
        late_in_sql = set(
            conn.scalars(select(Dossier.id).where(late_clause(Dossier.status, Dossier.due_at, NOW)))
        )
        on_time_in_sql = set(
            conn.scalars(
                select(Dossier.id).where(~late_clause(Dossier.status, Dossier.due_at, NOW))
            )
        )
    late_in_python = {r["id"] for r in rows if is_late(r["status"], r["due_at"], NOW)}
    assert late_in_sql == late_in_python
    assert late_in_python  # the grid has late ones
    assert on_time_in_sql | late_in_sql == {r["id"] for r in rows}
