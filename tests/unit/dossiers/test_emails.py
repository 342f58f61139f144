"""The e-mail of every change, as the service stages it and the notifier renders it: one per
transition of the lifecycle, each readable in both parts (text and HTML)."""

from __future__ import annotations

from pathlib import Path

from services.dossiers.lifecycle import TRANSITIONS, Status
from services.dossiers.schemas import DossierIn
from services.dossiers.service import Actor
from services.notifier.mailer import render
from tests.unit.factories import citizen, dossiers_service, officer, pdf, published, run, sent

FULL = {"full_name": "Lê Thị Cúc", "email": "cuc@example.vn"}


def test_every_change_renders_its_email(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            filer, clerk = citizen(), officer()
            procedure = await published(world)
            first = await sent(world, filer, procedure, applicant=FULL)
            await world.do(lambda s: s.receive(first.id, clerk))
            await world.do(lambda s: s.request_supplement(first.id, clerk, "Bổ sung bản sao"))
            await world.do(lambda s: s.send_supplement(first.id, filer))
            await world.do(lambda s: s.reject(first.id, clerk, "Không thuộc thẩm quyền"))
            second = await sent(world, filer, procedure, applicant=FULL)
            await world.do(lambda s: s.receive(second.id, clerk))
            files = [("ket-qua.pdf", pdf("kq"))]
            await world.do(lambda s: s.return_result(second.id, clerk, "Đã xong", files))

            emails = await world.emails()
            assert {e["template"] for e in emails} == {t.email for t in TRANSITIONS.values()}
            for email in emails:
                context = email["context"]
                rendered = render(email["template"], context)
                assert context["dossier_code"] in rendered.subject
                for part in (rendered.text, rendered.html):
                    assert context["dossier_code"] in part
                    assert "Lê Thị Cúc" in part
                assert Status(context["status"]).label == context["status_label"]
            by_template = {e["template"]: render(e["template"], e["context"]) for e in emails}
            assert "Không thuộc thẩm quyền" in by_template["dossier_rejected"].text
            assert "Bổ sung bản sao" in by_template["dossier_supplement_requested"].text
            assert "ket-qua.pdf" in by_template["dossier_result_returned"].text

    run(main)


def test_an_accountless_filers_email_carries_none_of_the_filers_text(tmp_path: Path) -> None:
    async def main() -> None:
        async with dossiers_service(tmp_path) as world:
            procedure = await published(world)
            body = DossierIn(procedure_id=procedure.procedure_id, applicant=FULL,
                             declaration={"reason": "Xin việc"})  # fmt: skip
            dossier, token = await world.do(lambda s: s.create(Actor(role="accountless"), body))
            assert token is not None
            holder = await world.do(lambda s: s.actor_for_token(token))
            assert holder is not None
            await world.do(lambda s: s.attach(dossier.id, "c1", holder, "a.pdf", pdf()))
            await world.do(lambda s: s.submit(dossier.id, holder))
            (email,) = await world.emails()
            rendered = render(email["template"], email["context"])
            assert "Lê Thị Cúc" not in rendered.text + rendered.html
            assert "/theo-doi-ho-so?code=" in rendered.text

    run(main)
