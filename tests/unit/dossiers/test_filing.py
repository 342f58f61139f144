"""The dossiers service in process, on SQLite: completeness rules at sending, codes, deadlines
and their pauses, lateness in the inbox, and the e-mail each change stages."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import update

from services.dossiers.deadlines import LOCAL_TZ, add_working_days, working_days_between
from services.dossiers.models import Dossier
from services.dossiers.service import Actor
from services.kernel.db import utcnow
from services.kernel.errors import ProblemError
from tests.unit.factories import (
    AGENCY,
    citizen,
    dossiers_service,
    draft,
    fetch,
    officer,
    published,
    run,
    sent,
)

FULL = {"full_name": "Nguyễn Văn An", "email": "an@example.vn"}


def test_sending_lists_everything_missing_and_changes_nothing(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer = citizen()
            procedure = await published(world)
            dossier = await draft(world, filer, procedure, applicant={}, declaration={})
            with pytest.raises(ProblemError) as refused:
                await world.do(lambda s: s.submit(dossier.id, filer))
            error = refused.value
            assert (error.status, error.code) == (422, "validation")
            assert {(e.field, e.code) for e in error.errors or []} == {
                ("components.c1", "component_missing"),
                ("applicant.full_name", "required"),
                ("applicant.email", "required"),
                ("declaration.reason", "required"),
            }
            assert "Tờ khai" in next(
                e.message("vi") for e in error.errors or [] if e.field == "components.c1"
            )
            assert (await fetch(world, dossier.id)).status == "draft"
            assert await world.emails() == []

    run(main)


def test_form_errors_in_english_and_the_fields_title(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer = citizen()
            procedure = await published(world)
            declaration = {"reason": "x" * 201, "extra": 1}
            dossier = await draft(
                world, filer, procedure, applicant=FULL, declaration=declaration, files=("c1",)
            )
            with pytest.raises(ProblemError) as refused:
                await world.do(lambda s: s.submit(dossier.id, filer))
            found = {e["field"]: e for e in refused.value.rendered_errors("en") or []}
            assert set(found) == {"declaration.reason", "declaration"}
            assert found["declaration.reason"]["code"] == "maxLength"
            assert found["declaration.reason"]["message"].startswith("Invalid value (Lý do)")
            assert found["declaration"]["code"] == "unknown_field"
            assert found["declaration"]["message"] == "This field is not in the form."

    run(main)


def test_a_complete_dossier_gets_its_code_and_one_email(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer = citizen()
            procedure = await published(world)
            first = await sent(world, filer, procedure, applicant=FULL)
            second = await sent(world, filer, procedure, applicant=FULL)
            today = utcnow().astimezone(LOCAL_TZ).date()
            assert first.status == "submitted" and first.submitted_at is not None
            assert first.code == f"{AGENCY}-{today:%y%m%d}-0001"
            assert second.code == f"{AGENCY}-{today:%y%m%d}-0002"
            emails = await world.emails()
            assert [e["template"] for e in emails] == ["dossier_submitted"] * 2
            context = emails[0]["context"]
            assert emails[0]["to"] == filer.email
            assert context["dossier_code"] == first.code
            assert context["status_label"] == "Hồ sơ đã gửi"
            assert context["full_name"] == "Nguyễn Văn An"
            assert context["dossier_url"] == f"https://dichvucong.example.vn/ho-so/{first.id}"
            assert context["tracking_url"] is None

    run(main)


def test_the_deadline_counts_from_reception_and_pauses_for_a_supplement(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer, clerk = citizen(), officer()
            procedure = await published(world, processing_days=5)
            dossier = await sent(world, filer, procedure, applicant=FULL)
            received = await world.do(lambda s: s.receive(dossier.id, clerk))
            assert received.received_at is not None
            assert received.due_at == add_working_days(received.received_at, 5)

            await world.do(lambda s: s.request_supplement(dossier.id, clerk, "Thiếu bản sao"))
            asked = await fetch(world, dossier.id)
            assert asked.status == "supplement_requested" and asked.paused_at is not None
            paused_at = asked.paused_at - dt.timedelta(days=9)  # the filer took nine days
            async with world.db.sessionmaker() as session:
                await session.execute(
                    update(Dossier).where(Dossier.id == dossier.id).values(paused_at=paused_at)
                )
                await session.commit()
            back = await world.do(lambda s: s.send_supplement(dossier.id, filer))
            paused = working_days_between(paused_at, utcnow())
            assert paused >= 5
            assert back.status == "submitted" and back.paused_at is None
            assert back.paused_working_days == paused
            assert back.due_at == add_working_days(received.received_at, 5 + paused)

            again = await world.do(lambda s: s.receive(dossier.id, clerk))
            assert again.received_at == received.received_at  # counted from the first
            templates = [e["template"] for e in await world.emails()]
            assert templates == [
                "dossier_submitted",
                "dossier_processing",
                "dossier_supplement_requested",
                "dossier_submitted",
                "dossier_processing",
            ]

    run(main)


def test_no_processing_time_no_due_date(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer, clerk = citizen(), officer()
            procedure = await published(world, processing_days=None)
            dossier = await sent(world, filer, procedure, applicant=FULL)
            received = await world.do(lambda s: s.receive(dossier.id, clerk))
            assert received.due_at is None
            view = await world.do(lambda s: s.view(dossier.id, filer))
            assert view.overdue is False
            assert view.deadline_note and "chưa được công bố" in view.deadline_note

    run(main)


def test_late_dossiers_in_the_inbox(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer, clerk = citizen(), officer()
            procedure = await published(world)
            late, on_time, answered = [
                await sent(world, filer, procedure, applicant=FULL) for _ in range(3)
            ]
            for d in (late, on_time, answered):
                async with world.service() as service:
                    await service.receive(d.id, clerk)
            await world.do(lambda s: s.reject(answered.id, clerk, "Không đủ điều kiện"))
            past = utcnow() - dt.timedelta(hours=1)
            async with world.db.sessionmaker() as session:
                await session.execute(
                    update(Dossier)
                    .where(Dossier.id.in_([late.id, answered.id]))
                    .values(due_at=past)
                )
                await session.commit()
            overdue = await world.do(lambda s: s.inbox(clerk, None, True, 1, 20))
            assert [i.id for i in overdue.items] == [late.id]
            assert overdue.items[0].overdue is True
            rest = await world.do(lambda s: s.inbox(clerk, None, False, 1, 20))
            assert {i.id for i in rest.items} == {on_time.id, answered.id}
            assert not any(i.overdue for i in rest.items)
            counts = await world.do(lambda s: s.inbox_counts(clerk))
            assert counts == {
                "submitted": 0,
                "supplement_requested": 0,
                "processing": 2,
                "result_returned": 0,
                "rejected": 1,
                "overdue": 1,
            }
            assert list(counts) == [
                "submitted",
                "supplement_requested",
                "processing",
                "result_returned",
                "rejected",
                "overdue",
            ]
            elsewhere = await world.do(lambda s: s.inbox_counts(officer("OTHER")))
            assert sum(elsewhere.values()) == 0

    run(main)


def test_without_an_account_the_token_attaches_and_sends_only(tmp_path: Path) -> None:
    async def main() -> None:
        from services.dossiers.schemas import DossierIn, DossierUpdate
        from tests.unit.factories import pdf

        async with dossiers_service(tmp_path) as world:
            procedure = await published(world)
            body = DossierIn(procedure_id=procedure.procedure_id, applicant=FULL,
                             declaration={"reason": "Xin việc"})  # fmt: skip
            dossier, token = await world.do(lambda s: s.create(Actor(role="accountless"), body))
            assert token and dossier.owner_id is None and dossier.email == "an@example.vn"
            holder = await world.do(lambda s: s.actor_for_token(token))
            assert holder is not None and holder.dossier_id == dossier.id
            with pytest.raises(ProblemError) as refused:
                await world.do(lambda s: s.update(dossier.id, holder, DossierUpdate()))
            assert refused.value.status == 403
            await world.do(lambda s: s.attach(dossier.id, "c1", holder, "a.pdf", pdf()))
            done = await world.do(lambda s: s.submit(dossier.id, holder))
            assert done.status == "submitted" and done.tracking_hash
            (email,) = await world.emails()
            assert email["context"]["full_name"] is None  # nobody confirmed the address
            assert email["context"]["dossier_url"] is None
            assert email["context"]["tracking_url"].startswith(
                "https://dichvucong.example.vn/theo-doi-ho-so?code="
            )
            with pytest.raises(ProblemError) as hidden:
                await world.do(lambda s: s.view(dossier.id, holder))
            assert hidden.value.status == 404
            history = await world.do(lambda s: s.history(dossier.id, holder))
            assert [h.action for h in history] == ["created", "submit"]

    run(main)


def test_a_result_by_e_mail_and_by_the_tracking_link(tmp_path: Path) -> None:
    async def main() -> None:
        from services.dossiers.schemas import DossierIn
        from tests.unit.factories import pdf

        async with dossiers_service(tmp_path) as world:
            clerk = officer()
            procedure = await published(world)
            body = DossierIn(procedure_id=procedure.procedure_id, applicant=FULL,
                             declaration={"reason": "Xin việc"})  # fmt: skip
            dossier, token = await world.do(lambda s: s.create(Actor(role="accountless"), body))
            assert token is not None
            holder = await world.do(lambda s: s.actor_for_token(token))
            assert holder is not None
            await world.do(lambda s: s.attach(dossier.id, "c1", holder, "a.pdf", pdf()))
            await world.do(lambda s: s.submit(dossier.id, holder))
            await world.do(lambda s: s.receive(dossier.id, clerk))
            await world.do(lambda s: s.add_step(dossier.id, clerk, "Đã thẩm định"))
            files = [("Phiếu lý lịch.pdf", pdf("kq"))]
            done = await world.do(lambda s: s.return_result(dossier.id, clerk, "Xong", files))
            assert done.status == "result_returned"

            emails = await world.emails()
            assert [e["template"] for e in emails] == [
                "dossier_submitted",
                "dossier_processing",
                "dossier_result_returned",
            ]
            tracking_url = emails[0]["context"]["tracking_url"]
            query = parse_qs(urlsplit(tracking_url).query)
            code, tracking = query["code"][0], query["token"][0]
            assert code == done.code
            assert emails[2]["context"]["results"] == ["Phiếu lý lịch.pdf"]
            assert emails[2]["context"]["note"] == "Xong"
            assert emails[2]["context"]["status_label"] == "Hồ sơ đã trả kết quả"

            tracked = await world.do(lambda s: s.track(code, tracking))
            assert tracked.status == "result_returned" and tracked.code == done.code
            assert [h.action for h in tracked.history] == [
                "created",
                "submit",
                "receive",
                "step",
                "return_result",
            ]
            (result,) = tracked.results
            stored, data = await world.do(
                lambda s: s.result_file(done.id, result.id, None, tracking)
            )
            assert stored.filename == "Phiếu lý lịch.pdf" and data.startswith(b"%PDF")
            with pytest.raises(ProblemError) as wrong:
                await world.do(lambda s: s.track(code, "not-the-token"))
            assert wrong.value.status == 404
            with pytest.raises(ProblemError) as late:
                await world.do(lambda s: s.reject(dossier.id, clerk, "Muộn"))
            assert late.value.status == 409
            assert late.value.detail("en") == "Cannot reject a dossier that is result_returned."

    run(main)
