"""The dossiers API (`/api/v1/dossiers`). Above the officers' line: the citizen's calls —
the folders and their counts, a draft ("Lưu lại"), its files, "Gửi hồ sơ", "Gửi bổ sung",
the history, result files — and the accountless filer's (a dossier opened by its capability
token, the tracking link). Every call names who is acting (`Credential`): the signed-in
person's access token, or the capability token of one accountless dossier; the page keeps
either on the server, never in the browser."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import IO, Any, Literal, get_args

import httpx

from web.clients.base import ApiClient, ApiModel, path_segment

Status = Literal[
    "draft", "submitted", "supplement_requested", "processing", "result_returned", "rejected"
]
STATUSES: tuple[Status, ...] = get_args(Status)


@dataclass(frozen=True)
class Credential:
    """Who asks the API: a signed-in person (`bearer`) or an accountless dossier's holder."""

    headers: dict[str, str]

    @classmethod
    def bearer(cls, access_token: str) -> Credential:
        return cls({"Authorization": f"Bearer {access_token}"})

    @classmethod
    def dossier_token(cls, token: str) -> Credential:
        return cls({"X-Dossier-Token": token})


class StoredFile(ApiModel):
    id: str
    filename: str
    content_type: str
    size: int


class DossierComponent(ApiModel):
    id: str
    name: str
    required: bool
    form_id: str | None = None
    files: list[StoredFile] = []


class ProcedureRef(ApiModel):
    id: str
    code: str | None = None
    name: str | None = None
    version: int
    processing_days: int | None = None


class AgencyRef(ApiModel):
    id: str
    name: str | None = None


class DossierSummary(ApiModel):
    """A row of a folder."""

    id: str
    code: str | None = None
    status: Status
    procedure: ProcedureRef
    agency: AgencyRef
    applicant_name: str | None = None
    submitted_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    deadline_note: str | None = None
    overdue: bool = False
    updated_at: dt.datetime


class Dossier(DossierSummary):
    applicant: dict[str, Any] = {}
    declaration: dict[str, Any] = {}
    components: list[DossierComponent] = []
    received_at: dt.datetime | None = None
    supplement_request: str | None = None
    rejection_reason: str | None = None
    results: list[StoredFile] = []
    accountless: bool = False

    @property
    def editable(self) -> bool:
        return self.status in ("draft", "supplement_requested")


class AccountlessDossier(Dossier):
    token: str
    """`X-Dossier-Token`: attaches files to and sends this one dossier, nothing else."""


class DossierPage(ApiModel):
    items: list[DossierSummary]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.page_size))


class HistoryEntry(ApiModel):
    at: dt.datetime
    status: Status
    action: str
    actor_role: str
    note: str | None = None


class Tracked(ApiModel):
    """What the tracking link shows: status and history, minimal personal data."""

    id: str
    code: str
    status: Status
    procedure: ProcedureRef
    agency: AgencyRef
    submitted_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    deadline_note: str | None = None
    supplement_request: str | None = None
    rejection_reason: str | None = None
    results: list[StoredFile] = []
    history: list[HistoryEntry] = []
    overdue: bool = False
    """Not said to the tracking link's holder."""


@dataclass(frozen=True)
class Upload:
    """A file a page passes on: its name, its bytes as the browser sent them (a spooled file,
    read as httpx sends it), the type the browser named."""

    filename: str
    content: IO[bytes]
    content_type: str


class DossiersClient(ApiClient):
    name = "dossiers"

    @staticmethod
    def _path(dossier_id: str, *rest: str) -> str:
        return "/" + "/".join(path_segment(part) for part in (dossier_id, *rest))

    # -- the folders ---------------------------------------------------------------------------

    async def summary(self, who: Credential) -> dict[str, int]:
        response = await self.request("GET", "/summary", headers=who.headers)
        counts = response.json()
        return {status: int(counts.get(status, 0)) for status in STATUSES}

    async def own(
        self, who: Credential, status: Status | None, page: int, page_size: int
    ) -> DossierPage:
        response = await self.request(
            "GET",
            "/",
            params={"status": status, "page": page, "page_size": page_size},
            headers=who.headers,
        )
        return DossierPage.model_validate_json(response.content)

    # -- a dossier -----------------------------------------------------------------------------

    async def create(
        self,
        who: Credential,
        procedure_id: str,
        applicant: dict[str, Any],
        declaration: dict[str, Any],
        agency_id: str | None = None,
    ) -> Dossier:
        """ "Lưu lại" the first time: a draft in "Hồ sơ chưa gửi"."""
        body = {"procedure_id": procedure_id, "applicant": applicant, "declaration": declaration}
        if agency_id:
            body["agency_id"] = agency_id
        response = await self.request("POST", "/", json_body=body, headers=who.headers)
        return Dossier.model_validate_json(response.content)

    async def create_accountless(
        self,
        procedure_id: str,
        applicant: dict[str, Any],
        declaration: dict[str, Any],
        captcha_id: str,
        captcha_answer: str,
        agency_id: str | None = None,
    ) -> AccountlessDossier:
        body: dict[str, Any] = {
            "procedure_id": procedure_id,
            "applicant": applicant,
            "declaration": declaration,
            "captcha_id": captcha_id,
            "captcha_answer": captcha_answer,
        }
        if agency_id:
            body["agency_id"] = agency_id
        response = await self.request("POST", "/accountless", json_body=body)
        return AccountlessDossier.model_validate_json(response.content)

    async def get(self, who: Credential, dossier_id: str) -> Dossier:
        response = await self.request("GET", self._path(dossier_id), headers=who.headers)
        return Dossier.model_validate_json(response.content)

    async def update(
        self,
        who: Credential,
        dossier_id: str,
        applicant: dict[str, Any],
        declaration: dict[str, Any],
    ) -> Dossier:
        response = await self.request(
            "PATCH",
            self._path(dossier_id),
            json_body={"applicant": applicant, "declaration": declaration},
            headers=who.headers,
        )
        return Dossier.model_validate_json(response.content)

    async def discard(self, who: Credential, dossier_id: str) -> None:
        await self.request("DELETE", self._path(dossier_id), headers=who.headers)

    async def attach(
        self, who: Credential, dossier_id: str, component_id: str, upload: Upload
    ) -> StoredFile:
        response = await self.request(
            "POST",
            self._path(dossier_id, "components", component_id, "files"),
            files={"file": (upload.filename, upload.content, upload.content_type)},
            headers=who.headers,
        )
        return StoredFile.model_validate_json(response.content)

    async def detach(
        self, who: Credential, dossier_id: str, component_id: str, file_id: str
    ) -> None:
        await self.request(
            "DELETE",
            self._path(dossier_id, "components", component_id, "files", file_id),
            headers=who.headers,
        )

    async def submit(self, who: Credential, dossier_id: str) -> Dossier:
        """ "Gửi hồ sơ": 422 lists what is missing (`components.<id>`, `declaration.<name>`)."""
        response = await self.request("POST", self._path(dossier_id, "submit"), headers=who.headers)
        return Dossier.model_validate_json(response.content)

    async def send_supplement(self, who: Credential, dossier_id: str) -> Dossier:
        """ "Gửi bổ sung"."""
        response = await self.request(
            "POST", self._path(dossier_id, "supplement"), headers=who.headers
        )
        return Dossier.model_validate_json(response.content)

    async def history(self, who: Credential, dossier_id: str) -> list[HistoryEntry]:
        response = await self.request("GET", self._path(dossier_id, "history"), headers=who.headers)
        return [HistoryEntry.model_validate(item) for item in response.json()]

    async def attachment(self, who: Credential, dossier_id: str, file_id: str) -> httpx.Response:
        """A file of the dossier, streamed: the caller passes it on and closes it."""
        return await self.stream(self._path(dossier_id, "files", file_id), headers=who.headers)

    async def result(
        self,
        dossier_id: str,
        file_id: str,
        *,
        who: Credential | None = None,
        tracking_token: str | None = None,
    ) -> httpx.Response:
        """A result file ("Đính kèm kết quả"), for its owner or the tracking link's holder."""
        return await self.stream(
            self._path(dossier_id, "results", file_id),
            headers=who.headers if who else None,
            params={"token": tracking_token} if tracking_token else None,
        )

    async def track(self, code: str, token: str) -> Tracked:
        return await self.get_model("/track", Tracked, code=code, token=token)


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
    submitted_at: dt.datetime | None = None
    due_at: dt.datetime | None = None
    deadline_note: str | None = None
    """The API's words when the procedure publishes no processing time."""
    overdue: bool = False
    updated_at: dt.datetime


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
    received_at: dt.datetime | None = None
    supplement_request: str | None = None
    rejection_reason: str | None = None
    results: list[CaseFile] = []
    accountless: bool = False
    created_at: dt.datetime | None = None


class CaseHistoryEntry(ApiModel):
    at: dt.datetime
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
            f"/{path_segment(dossier_id)}/files/{path_segment(file_id)}",
            headers=self._auth(token),
        )

    async def result_file(self, token: str, dossier_id: str, file_id: str) -> httpx.Response:
        return await self.stream(
            f"/{path_segment(dossier_id)}/results/{path_segment(file_id)}",
            headers=self._auth(token),
        )
