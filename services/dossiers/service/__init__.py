"""The dossiers service's rules, one concern per module; the lifecycle itself (statuses, who
may do what in which status, lateness, the e-mail of each change) is `dossiers.lifecycle`.

- `access`: who is acting (`Actor`), the base with the one way to load a dossier for an action;
- `filing`: drafts, sending and sending back after a supplement (the filer);
- `files`: attachments and result files;
- `completeness`: whether a dossier can be sent (pure);
- `processing`: what officers of the competent agency do;
- `changes`: a change of status — the history entry and the filer's e-mail;
- `views`: what readers see, as the API's schema classes;
- `copies`: the copy of the catalogue, from its messages.

The API layer uses `DossierService`, which is all of them on one request's session."""

from __future__ import annotations

from services.dossiers.deadlines import deadline_note
from services.dossiers.service.access import Actor
from services.dossiers.service.copies import record_published_agencies, record_published_procedure
from services.dossiers.service.filing import Filing
from services.dossiers.service.processing import Processing
from services.dossiers.service.views import Views


class DossierService(Filing, Processing, Views):
    """Everything a request may ask of the dossiers service."""


__all__ = [
    "Actor",
    "DossierService",
    "deadline_note",
    "record_published_agencies",
    "record_published_procedure",
]
