"""A dossier's lifecycle, in one place: its statuses and their labels, the transitions, who may
do what in which status, when it is late, and the e-mail each change sends. Pure: no database,
no I/O — the service asks `refusal(action, status, party)` and applies `TRANSITIONS[action]`;
tests/unit/dossiers/test_lifecycle.py checks every status × action × party.

The API's status strings are the values of `Status` (`schemas.Status` lists the same strings for
the OpenAPI document; a unit test keeps the two equal)."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING

from services.dossiers.deadlines import is_overdue
from services.dossiers.errors import (
    DossierNotFound,
    FilerOnly,
    OfficersOnly,
    StatusConflict,
    TokenLimits,
)
from services.kernel.contracts import EmailTemplate
from services.kernel.errors import ProblemError, Text

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement
    from sqlalchemy.orm import InstrumentedAttribute


class Status(enum.StrEnum):
    """Where a dossier is (the order is the API's: lists and counts follow it)."""

    DRAFT = "draft"
    SUBMITTED = "submitted"
    SUPPLEMENT_REQUESTED = "supplement_requested"
    PROCESSING = "processing"
    RESULT_RETURNED = "result_returned"
    REJECTED = "rejected"

    @property
    def label(self) -> str:
        """The Vietnamese label citizens and officers read (the API's `status_label`)."""
        return _LABELS[self].vi

    @property
    def label_en(self) -> str:
        return _LABELS[self].en


_LABELS: dict[Status, Text] = {
    Status.DRAFT: Text("Hồ sơ chưa gửi", "Not sent"),
    Status.SUBMITTED: Text("Hồ sơ đã gửi", "Sent"),
    Status.SUPPLEMENT_REQUESTED: Text("Hồ sơ yêu cầu bổ sung", "Supplement requested"),
    Status.PROCESSING: Text("Hồ sơ đang xử lý", "Being processed"),
    Status.RESULT_RETURNED: Text("Hồ sơ đã trả kết quả", "Result returned"),
    Status.REJECTED: Text("Hồ sơ bị trả lại", "Rejected"),
}


def label(status: str) -> str:
    """The Vietnamese label of a stored status string."""
    return Status(status).label


class Action(enum.StrEnum):
    """What can be done to a dossier. The transitions' and `STEP`'s values are also the
    history's `action` (with "created" for the draft's creation)."""

    # reading
    VIEW = "view"
    HISTORY = "history"
    READ_FILE = "read_file"
    READ_RESULT = "read_result"
    # the filer
    UPDATE = "update"
    DISCARD = "discard"
    ATTACH = "attach"
    DETACH = "detach"
    SUBMIT = "submit"
    SUPPLEMENT = "supplement"
    # an officer of the competent agency
    RECEIVE = "receive"
    REQUEST_SUPPLEMENT = "request_supplement"
    REJECT = "reject"
    STEP = "step"
    RETURN_RESULT = "return_result"


CREATED = "created"
"""The history's action for a new draft (not an action on an existing dossier)."""

ACTION_LABELS: dict[str, str] = {
    CREATED: "Tạo hồ sơ",
    Action.SUBMIT: "Gửi hồ sơ",
    Action.SUPPLEMENT: "Gửi bổ sung",
    Action.RECEIVE: "Tiếp nhận hồ sơ",
    Action.REQUEST_SUPPLEMENT: "Yêu cầu bổ sung",
    Action.REJECT: "Trả lại hồ sơ",
    Action.STEP: "Xử lý",
    Action.RETURN_RESULT: "Trả kết quả",
}
"""Vietnamese names of the history's actions."""


class Party(enum.StrEnum):
    """Who is acting, relative to one dossier (`party_of` in the service decides it)."""

    OWNER = "owner"
    """The citizen whose account filed it."""
    ACCOUNTLESS_FILER = "accountless_filer"
    """Whoever holds the capability token of a dossier filed without an account."""
    OFFICER = "officer"
    """An officer of the competent agency (the dossier's `agency_id`)."""
    OTHER_OFFICER = "other_officer"
    """An officer of another agency."""
    ADMIN = "admin"
    STRANGER = "stranger"
    """Any other citizen, or the token of another dossier."""


OFFICERS = frozenset({Party.OFFICER, Party.OTHER_OFFICER})
"""Parties with the officer role: they never act as filers."""


# -- the state machine ------------------------------------------------------------------------


@dataclass(frozen=True)
class Transition:
    sources: frozenset[Status]
    target: Status
    email: EmailTemplate
    """The notifier's template (message kind) the change e-mails to the filer."""


TRANSITIONS: dict[Action, Transition] = {
    Action.SUBMIT: Transition(frozenset({Status.DRAFT}), Status.SUBMITTED, "dossier_submitted"),
    Action.SUPPLEMENT: Transition(
        frozenset({Status.SUPPLEMENT_REQUESTED}), Status.SUBMITTED, "dossier_submitted"
    ),
    Action.RECEIVE: Transition(
        frozenset({Status.SUBMITTED}), Status.PROCESSING, "dossier_processing"
    ),
    Action.REQUEST_SUPPLEMENT: Transition(
        frozenset({Status.SUBMITTED, Status.PROCESSING}),
        Status.SUPPLEMENT_REQUESTED,
        "dossier_supplement_requested",
    ),
    Action.REJECT: Transition(
        frozenset({Status.SUBMITTED, Status.PROCESSING}), Status.REJECTED, "dossier_rejected"
    ),
    Action.RETURN_RESULT: Transition(
        frozenset({Status.PROCESSING}), Status.RESULT_RETURNED, "dossier_result_returned"
    ),
}

FILER_ACTIONS = frozenset(
    {
        Action.UPDATE,
        Action.DISCARD,
        Action.ATTACH,
        Action.DETACH,
        Action.SUBMIT,
        Action.SUPPLEMENT,
    }
)
OFFICER_ACTIONS = frozenset(
    {
        Action.RECEIVE,
        Action.REQUEST_SUPPLEMENT,
        Action.REJECT,
        Action.STEP,
        Action.RETURN_RESULT,
    }
)

EDITABLE_BY: dict[Party, frozenset[Status]] = {
    Party.OWNER: frozenset({Status.DRAFT, Status.SUPPLEMENT_REQUESTED}),
    Party.ACCOUNTLESS_FILER: frozenset({Status.DRAFT}),
}
"""Who may edit (change its data, attach and detach files) in which status."""

STEP_STATUSES = frozenset({Status.PROCESSING})
"""Where an officer may note a processing step (no change of status)."""

CLOCK_RUNS = frozenset({Status.SUBMITTED, Status.PROCESSING})
"""Where a dossier can be late: sent and not yet answered (the clock pauses while a supplement
is requested; see `deadlines.working_days_between`)."""


# -- refusals ---------------------------------------------------------------------------------


class Refusal(enum.Enum):
    """Why an action is refused; `problem` turns it into the client's problem+json."""

    NOT_FOUND = "not_found"
    """404: the party may not see the dossier (no hint that it exists)."""
    FILER_ONLY = "filer_only"
    """403: only the filer may do this."""
    OFFICER_ONLY = "officer_only"
    """403: only an officer of the competent agency may do this."""
    TOKEN_LIMITS = "token_limits"
    """403: an accountless dossier's token only attaches files and sends it."""
    NOT_EDITABLE = "not_editable"
    """409: the dossier cannot be changed in its status."""
    WRONG_STATUS = "wrong_status"
    """409: the state machine forbids this transition from the status."""
    NOT_PROCESSING = "not_processing"
    """409: a processing step, outside processing."""


ACCOUNTLESS_LIMITS: dict[Action, tuple[frozenset[Status], Refusal]] = {
    Action.VIEW: (frozenset({Status.DRAFT}), Refusal.NOT_FOUND),
    Action.READ_FILE: (frozenset({Status.DRAFT}), Refusal.NOT_FOUND),
    Action.UPDATE: (frozenset(), Refusal.TOKEN_LIMITS),
    Action.DISCARD: (frozenset(), Refusal.TOKEN_LIMITS),
    Action.SUPPLEMENT: (frozenset(), Refusal.FILER_ONLY),
}
"""What the token of an accountless dossier does not open, beyond the general rules: its holder
sees the dossier and its files only until it is sent (then the tracking link takes over),
never changes its data or discards it, and sends no supplement. Attaching follows
`EDITABLE_BY`; history and submitting are open."""


def sees(party: Party, status: Status) -> bool:
    """Whether the party may know the dossier exists: its filer always, the competent agency's
    officers once it is sent, nobody else."""
    if party in (Party.OWNER, Party.ACCOUNTLESS_FILER):
        return True
    return party is Party.OFFICER and status is not Status.DRAFT


def role_refusal(action: Action, officer: bool) -> Refusal | None:
    """The check made before the dossier is even looked up: filers' actions are not for
    officers, officers' actions only for them."""
    if action in FILER_ACTIONS and officer:
        return Refusal.FILER_ONLY
    if action in OFFICER_ACTIONS and not officer:
        return Refusal.OFFICER_ONLY
    return None


def allowed_statuses(action: Action, party: Party) -> tuple[frozenset[Status], Refusal] | None:
    """Where `action` may be taken by `party` (by status), and the refusal elsewhere; None when
    the status does not matter."""
    if action in TRANSITIONS:
        return TRANSITIONS[action].sources, Refusal.WRONG_STATUS
    if action in (Action.UPDATE, Action.ATTACH, Action.DETACH):
        return EDITABLE_BY.get(party, frozenset()), Refusal.NOT_EDITABLE
    if action is Action.DISCARD:
        return frozenset({Status.DRAFT}), Refusal.NOT_EDITABLE
    if action is Action.STEP:
        return STEP_STATUSES, Refusal.NOT_PROCESSING
    return None


def refusal(action: Action, status: Status | str, party: Party) -> Refusal | None:
    """Why `party` may not take `action` on a dossier in `status`; None when it may. The
    checks run in the order clients see them: the role, then whether the party sees the
    dossier, then the accountless token's limits, then the status."""
    status = Status(status)
    refused = role_refusal(action, party in OFFICERS)
    if refused is not None:
        return refused
    if not sees(party, status):
        return Refusal.NOT_FOUND
    if party is Party.ACCOUNTLESS_FILER and action in ACCOUNTLESS_LIMITS:
        statuses, refused = ACCOUNTLESS_LIMITS[action]
        if status not in statuses:
            return refused
    rule = allowed_statuses(action, party)
    if rule is not None and status not in rule[0]:
        return rule[1]
    return None


def problem(refused: Refusal, action: Action, status: Status | str | None = None) -> ProblemError:
    """The problem+json of a refusal, in both languages (the 409s name the `status`)."""
    if refused is Refusal.NOT_FOUND:
        return DossierNotFound()
    if refused is Refusal.FILER_ONLY:
        return FilerOnly()
    if refused is Refusal.OFFICER_ONLY:
        return OfficersOnly()
    if refused is Refusal.TOKEN_LIMITS:
        return TokenLimits()
    if status is None:
        raise ValueError(f"{refused} needs the dossier's status")
    status = Status(status)
    if refused is Refusal.NOT_EDITABLE:
        detail = Text(
            f"Hồ sơ ở trạng thái “{status.label}” không sửa được.",
            f"A dossier that is {status} cannot be changed.",
        )
    elif refused is Refusal.NOT_PROCESSING:
        detail = Text(
            "Chỉ ghi bước xử lý khi hồ sơ đang xử lý.",
            "Processing steps can be added only while the dossier is processing.",
        )
    else:
        detail = Text(
            f"Không thể {ACTION_LABELS[action].lower()} khi hồ sơ ở trạng thái “{status.label}”.",
            f"Cannot {action.replace('_', ' ')} a dossier that is {status}.",
        )
    return StatusConflict(detail, str(status))


def require(action: Action, status: Status | str, party: Party) -> None:
    """Raise the refusal's problem+json when `party` may not take `action`."""
    refused = refusal(action, status, party)
    if refused is not None:
        raise problem(refused, action, status)


# -- late dossiers: one rule, in Python and in SQL ---------------------------------------------


def is_late(status: str, due_at: dt.datetime | None, now: dt.datetime) -> bool:
    """A sent dossier whose due moment has passed (on time until the due moment inclusive)."""
    return status in CLOCK_RUNS and due_at is not None and is_overdue(due_at, now)


def late_clause(
    status: InstrumentedAttribute[str],
    due_at: InstrumentedAttribute[dt.datetime | None],
    now: dt.datetime,
) -> ColumnElement[bool]:
    """`is_late` as a SQL condition on the dossier's columns (the inbox's `overdue` filter and
    count); tests/unit/dossiers/test_lifecycle.py checks the two agree."""
    return status.in_(sorted(CLOCK_RUNS)) & due_at.is_not(None) & (due_at < now)
