"""`dossiers.procedure_published` gained `processing_time_source` additively: messages
published before it (still in Redis or an outbox at an upgrade) are read as they were, and a
consumer that does not know the field yet reads the new messages."""

from __future__ import annotations

import uuid
from typing import Any

from services.dossiers.service import deadline_note
from services.kernel.contracts import PROCESSING_TIME_UNKNOWN, ProcedurePublishedV1


def _message(**procedure: Any) -> dict[str, Any]:
    return {
        "message_id": uuid.uuid4().hex,
        "version": 1,
        "procedure": {
            "id": "p1",
            "code": "1.001303",
            "name": "Thủ tục thử",
            "version": 3,
            "tier": ["province"],
            "agency_id": "HT-STP",
            "agency_name": "Sở Tư pháp",
            "field_id": "ho-tich",
            "field_name": "Hộ tịch",
            "online": "partial",
            "components": [{"id": "c1", "name": "Đơn", "required": True}],
            "declaration_schema": {"type": "object"},
            **procedure,
        },
    }


def test_a_message_published_before_the_source_existed_is_read_as_before() -> None:
    old = ProcedurePublishedV1.model_validate(_message(processing_days=None))
    snapshot = old.procedure.model_dump(mode="json")
    assert snapshot["processing_time_source"] is None
    assert deadline_note(snapshot["processing_days"]) == PROCESSING_TIME_UNKNOWN
    stated = ProcedurePublishedV1.model_validate(_message(processing_days=7))
    assert deadline_note(stated.procedure.processing_days) is None


def test_a_new_message_carries_the_source_and_unknown_fields_are_ignored() -> None:
    new = ProcedurePublishedV1.model_validate(
        _message(processing_days=20, processing_time_source="admin", added_later="ignored")
    )
    procedure = new.procedure
    assert (procedure.processing_days, procedure.processing_time_source) == (20, "admin")
    assert "added_later" not in procedure.model_dump()
