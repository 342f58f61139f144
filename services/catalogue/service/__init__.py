"""The catalogue's rules, one concern per module:

- `base`: the request's session, repository, settings and storage; stable ids; shared errors;
- `views`: what readers see (an agency, the fields, a page of procedures, a procedure), as the
  API's schema classes;
- `publishing`: every change becomes a new published version (recorded, sent to the dossiers
  service through the outbox) and is indexed for search; the stored document's shape;
- `reference`: admins' writes of agencies and fields;
- `procedures`: admins' writes of procedures;
- `forms`: a procedure's forms — the download, and admins' uploads and removals.

Search itself is `catalogue.search` (queries), `catalogue.repository` (ranking, both databases),
`catalogue.lexicon` with `catalogue.lexicon_service` (what citizens type) and
`catalogue.search_log`. The API layer and the importer use `CatalogueService`, which is all of
the above on one request's session."""

from __future__ import annotations

from services.catalogue.service.base import field_id_for
from services.catalogue.service.forms import FormFile, Forms
from services.catalogue.service.procedures import ADMIN, Procedures
from services.catalogue.service.reference import Agencies, Fields


class CatalogueService(Agencies, Fields, Procedures, Forms):
    """Everything a request (or the importer) may ask of the catalogue service."""


__all__ = ["ADMIN", "CatalogueService", "FormFile", "field_id_for"]
