"""Who an actor is to a dossier (the lifecycle's `Party`), and the completeness rule alone."""

from __future__ import annotations

import pytest

from services.dossiers.lifecycle import Party
from services.dossiers.models import Dossier
from services.dossiers.service.access import Actor, party_of
from services.dossiers.service.completeness import check_complete
from services.kernel.errors import ProblemError
from tests.unit.factories import DECLARATION_SCHEMA

DOSSIER = Dossier(id="d1", owner_id="u1", agency_id="a1", status="submitted")
ANONYMOUS = Dossier(id="d2", owner_id=None, agency_id="a1", status="draft")


@pytest.mark.parametrize(
    ("actor", "dossier", "party"),
    [
        (Actor("citizen", user_id="u1"), DOSSIER, Party.OWNER),
        (Actor("citizen", user_id="u2"), DOSSIER, Party.STRANGER),
        (Actor("accountless", dossier_id="d2"), ANONYMOUS, Party.ACCOUNTLESS_FILER),
        (Actor("accountless", dossier_id="d2"), DOSSIER, Party.STRANGER),
        (Actor("officer", user_id="o1", agency_id="a1"), DOSSIER, Party.OFFICER),
        (Actor("officer", user_id="o1", agency_id="a2"), DOSSIER, Party.OTHER_OFFICER),
        (Actor("admin", user_id="x"), DOSSIER, Party.ADMIN),
        (Actor("citizen", user_id=None), ANONYMOUS, Party.STRANGER),
    ],
)
def test_party_of(actor: Actor, dossier: Dossier, party: Party) -> None:
    assert party_of(actor, dossier) is party


PROCEDURE = {
    "components": [
        {"id": "c1", "name": "Tờ khai", "required": True},
        {"id": "c2", "name": "Khác", "required": False},
    ],
    "declaration_schema": DECLARATION_SCHEMA,
}
APPLICANT = {"full_name": "Trần Thị Bình", "email": "binh@example.vn"}


def test_complete() -> None:
    check_complete(PROCEDURE, APPLICANT, {"reason": "Học tập"}, {"c1"})


def test_no_form_no_declaration_rules() -> None:
    check_complete({"components": []}, {}, {"anything": 1}, set())


@pytest.mark.parametrize(
    ("applicant", "declaration", "with_files", "fields"),
    [
        (APPLICANT, {"reason": "Học tập"}, {"c2"}, {"components.c1"}),
        ({"full_name": "B"}, {"reason": "Học tập"}, {"c1"}, {"applicant.email"}),
        (APPLICANT, {}, {"c1"}, {"declaration.reason"}),
        (APPLICANT, {"reason": 5}, {"c1"}, {"declaration.reason"}),
        ({}, {}, set(), {"components.c1", "applicant.full_name", "applicant.email",
                         "declaration.reason"}),
    ],
)  # fmt: skip
def test_what_is_missing(
    applicant: dict[str, object],
    declaration: dict[str, object],
    with_files: set[str | None],
    fields: set[str],
) -> None:
    with pytest.raises(ProblemError) as refused:
        check_complete(PROCEDURE, applicant, declaration, with_files)
    assert refused.value.status == 422
    assert refused.value.detail("en").startswith("The dossier is incomplete")
    assert {e.field for e in refused.value.errors or []} == fields
