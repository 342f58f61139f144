"""The dossiers API (`/api/v1/dossiers`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import httpx

from web.clients.base import ApiClient, ApiModel, path_segment

# -- officers (processing) --
# The agency's inbox, the dossier as its officers read it, its files, and the actions of
# processing: receive ("Tiếp nhận"), ask a supplement, a processing step, return the result,
# reject. Every call carries the officer's access token; a transition the dossier's status no
# longer allows (another officer acted first) is the API's 409, raised as `ApiProblem`.

DossierStatus = Literal[
    "draft", "submitted", "supplement_requested", "processing", "result_returned", "rejected"
]
INBOX_STATUSES: tuple[DossierStatus, ...] = (
    "submitted",
    "processing",
    "supplement_requested",
    "result_returned",
    "rejected",
)
"""The statuses a dossier can have in an agency's inbox (drafts never reach it)."""


class InboxProcedure(ApiModel):
    id: str
    code: str | None = None
    name: str | None = None
    version: int
    processing_days: int | None = None
    processing_time_source: str | None = None


class InboxAgency(ApiModel):
    id: str
    name: str | None = None


class InboxItem(ApiModel):
    """One line of the inbox (the API's `DossierSummary`)."""

    id: str
    code: str | None = None
    status: DossierStatus
    status_label: str
    procedure: InboxProcedure
    agency: InboxAgency
    applicant_name: str | None = None
    submitted_at: datetime | None = None
    due_at: datetime | None = None
    deadline_note: str | None = None
    """The API's words when the procedure publishes no processing time."""
    overdue: bool = False
    updated_at: datetime


class InboxPage(ApiModel):
    items: list[InboxItem]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class CaseFile(ApiModel):
    """A file of a dossier: an attachment of a component, or a result."""

    id: str
    filename: str
    content_type: str
    size: int


class CaseComponent(ApiModel):
    id: str
    name: str
    required: bool
    form_id: str | None = None
    files: list[CaseFile] = []


class CaseDossier(InboxItem):
    """A dossier as its agency's officers read it (the API's `DossierOut`)."""

    applicant: dict[str, Any] = {}
    declaration: dict[str, Any] = {}
    components: list[CaseComponent] = []
    received_at: datetime | None = None
    supplement_request: str | None = None
    rejection_reason: str | None = None
    results: list[CaseFile] = []
    accountless: bool = False
    created_at: datetime | None = None


class CaseHistoryEntry(ApiModel):
    at: datetime
    status: DossierStatus
    status_label: str
    action: str
    actor_role: str
    note: str | None = None


class ProcessingClient(ApiClient):
    """The officers' calls of the dossiers API."""

    name = "dossiers"

    @staticmethod
    def _auth(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    async def inbox(
        self,
        token: str,
        *,
        status: DossierStatus | None = None,
        overdue: bool | None = None,
        page: int = 1,
        page_size: int = 20,
    ) -> InboxPage:
        """The agency's dossiers, oldest first."""
        response = await self.request(
            "GET",
            "/inbox",
            params={
                "status": status,
                "overdue": "true" if overdue else None,
                "page": page,
                "page_size": page_size,
            },
            headers=self._auth(token),
        )
        return InboxPage.model_validate_json(response.content)

    async def inbox_counts(self, token: str) -> dict[str, int]:
        """How many dossiers the inbox holds in each status, and how many are overdue (key
        `overdue`)."""
        response = await self.request("GET", "/inbox/summary", headers=self._auth(token))
        counts = response.json()
        return {key: int(counts.get(key, 0)) for key in (*INBOX_STATUSES, "overdue")}

    async def dossier(self, token: str, dossier_id: str) -> CaseDossier:
        response = await self.request(
            "GET", f"/{path_segment(dossier_id)}", headers=self._auth(token)
        )
        return CaseDossier.model_validate_json(response.content)

    async def history(self, token: str, dossier_id: str) -> list[CaseHistoryEntry]:
        response = await self.request(
            "GET", f"/{path_segment(dossier_id)}/history", headers=self._auth(token)
        )
        return [CaseHistoryEntry.model_validate(entry) for entry in response.json()]

    async def _act(self, token: str, dossier_id: str, action: str, **kwargs: Any) -> CaseDossier:
        response = await self.request(
            "POST", f"/{path_segment(dossier_id)}/{action}", headers=self._auth(token), **kwargs
        )
        return CaseDossier.model_validate_json(response.content)

    async def receive(self, token: str, dossier_id: str) -> CaseDossier:
        """ "Tiếp nhận": submitted → processing; the deadline starts."""
        return await self._act(token, dossier_id, "receive")

    async def request_supplement(self, token: str, dossier_id: str, content: str) -> CaseDossier:
        return await self._act(
            token, dossier_id, "request-supplement", json_body={"content": content}
        )

    async def add_step(self, token: str, dossier_id: str, note: str) -> CaseDossier:
        return await self._act(token, dossier_id, "steps", json_body={"note": note})

    async def return_result(
        self,
        token: str,
        dossier_id: str,
        files: list[tuple[str, Any, str]],
        note: str | None,
    ) -> CaseDossier:
        """ "Trả kết quả": `files` as `(filename, file object, content type)`, sent as one
        multipart request with the note."""
        return await self._act(
            token,
            dossier_id,
            "result",
            data={"note": note} if note else None,
            files=[("files", part) for part in files],
        )

    async def reject(self, token: str, dossier_id: str, reason: str) -> CaseDossier:
        return await self._act(token, dossier_id, "reject", json_body={"reason": reason})

    async def attachment(self, token: str, dossier_id: str, file_id: str) -> httpx.Response:
        """A component's file, streamed: the caller passes it on and closes it."""
        return await self.stream(
            f"/{path_segment(dossier_id)}/files/{path_segment(file_id)}", self._auth(token)
        )

    async def result_file(self, token: str, dossier_id: str, file_id: str) -> httpx.Response:
        return await self.stream(
            f"/{path_segment(dossier_id)}/results/{path_segment(file_id)}", self._auth(token)
        )
