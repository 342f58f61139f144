"""The importer: the province's agencies from the chosen layout, and the procedures of the
national catalogue (JSON lines, as crawled). Re-running it updates what changed — each change a
new published version — and never duplicates. What could not be parsed is reported, not
guessed; a processing time whose unit was lost is inferred by a documented rule
(services/catalogue/parsing.py), marked on the procedure and listed in the report. A
processing time an admin set is kept by a re-import (and reported when the source differs)."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.catalogue.declarations import declaration_schema
from services.catalogue.layouts import Layout, load_layout
from services.catalogue.models import Agency, Field, Procedure
from services.catalogue.parsing import ParsedProcedure, parse_record
from services.catalogue.repository import install_search_functions
from services.catalogue.service import ADMIN, CatalogueService, field_id_for
from services.catalogue.settings import CatalogueSettings
from services.catalogue.text import clean
from services.kernel.db import database_for, new_id
from services.kernel.storage import storage_from_settings

_QUOTED = re.compile(r"'[^']*'")


@dataclass
class ImportReport:
    agencies: int = 0
    fields_created: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    failed_lines: list[dict[str, Any]] = field(default_factory=list)
    problems: dict[str, list[str]] = field(default_factory=dict)
    processing_time: Counter[str] = field(default_factory=Counter)
    """Records by how their processing time was obtained (stated, inferred…, unknown)."""
    processing_time_not_stated: dict[str, dict[str, Any]] = field(default_factory=dict)
    """code -> {source, days, basis} for every record whose time was not stated."""
    kept_admin_values: dict[str, dict[str, Any]] = field(default_factory=dict)
    """code -> {processing_days: the admin's, imported: {...}}: admin corrections kept."""

    def problem_kinds(self) -> Counter[str]:
        """How many records had each kind of problem ("<field>: <what>")."""
        kinds: Counter[str] = Counter()
        for problems in self.problems.values():
            kinds.update({_QUOTED.sub("'…'", p)[:90] for p in problems})
        return kinds

    def summary(self) -> str:
        lines = [
            f"agencies: {self.agencies}",
            f"procedures: {self.created} created, {self.updated} updated, "
            f"{self.unchanged} unchanged, {len(self.failed_lines)} lines unreadable",
            f"fields created: {self.fields_created}",
            f"records with parse problems: {len(self.problems)}",
            "processing time: "
            + ", ".join(f"{n} {source}" for source, n in self.processing_time.most_common()),
            f"processing times set by an admin, kept: {len(self.kept_admin_values)}",
        ]
        for kind, n in self.problem_kinds().most_common(12):
            lines.append(f"  {n:5d}  {kind}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def read_records(path: Path) -> Iterable[tuple[int, dict[str, Any] | None, str | None]]:
    """(line number, record, why unreadable) for every non-empty line."""
    with path.open(encoding="utf-8") as lines:
        for line_no, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, None, f"not JSON: {exc.msg}"
                continue
            if not isinstance(record, dict) or not record.get("ma_thu_tuc"):
                yield line_no, None, "no procedure code (ma_thu_tuc)"
                continue
            if not clean(record.get("ten_thu_tuc")):
                yield line_no, None, "no procedure name (ten_thu_tuc)"
                continue
            yield line_no, record, None


async def import_agencies(session: AsyncSession, layout: Layout) -> int:
    existing = {a.id: a for a in (await CatalogueService.agencies_of(session))}
    for row in layout.agencies:
        agency = existing.get(row.id)
        if agency is None:
            session.add(
                Agency(
                    id=row.id,
                    name=row.name,
                    tier=row.tier,
                    parent_id=row.parent_id,
                    position=row.position,
                    retired=False,
                )
            )
        else:
            agency.name, agency.tier = row.name, row.tier
            agency.parent_id, agency.position = row.parent_id, row.position
        await session.flush()
    return len(layout.agencies)


def _is_note(group: str | None) -> bool:
    """The catalogue puts remarks ("Lưu ý") in the components table; they are not documents."""
    return group is not None and group.casefold().startswith("lưu ý")


def _document(parsed: ParsedProcedure, field_name: str) -> dict[str, Any]:
    components = []
    for c in parsed.components:
        if c.present_only or _is_note(c.group):
            continue
        components.append(
            {
                "name": c.name,
                "group": c.group,
                "quantity": c.quantity,
                "required": c.required,
                "form_names": list(c.form_names),
            }
        )
    return {
        "fees": [
            {
                "channel": ch.kind,
                "time_value": ch.time_value,
                "time_unit": ch.time_unit,
                "fee_vnd": ch.fee_vnd,
                "fee_text": ch.fee_text,
                "description": ch.description,
            }
            for ch in parsed.channels
        ],
        "steps": list(parsed.steps),
        "legal_basis": [{"title": d.title, "code": d.code} for d in parsed.legal_basis],
        "conditions": parsed.conditions,
        "result": parsed.result,
        "subjects": parsed.subjects,
        "components": components,
        "declaration_schema": declaration_schema(parsed.name, field_name),
        "source_url": parsed.source_url or None,
        "problems": list(parsed.problems),
        "processing_time_basis": parsed.processing_time.basis,
        "present_at_counter": [c.name for c in parsed.components if c.present_only],
        "notes": [c.name for c in parsed.components if _is_note(c.group) and not c.present_only],
    }


async def import_catalogue(
    session: AsyncSession,
    service: CatalogueService,
    layout: Layout,
    records: Iterable[tuple[int, dict[str, Any] | None, str | None]],
    *,
    progress: Callable[[int], object] | None = None,
    batch: int = 200,
) -> ImportReport:
    """Import or update every procedure; commits every `batch` records (the command is the
    edge), so a long import makes steady progress and a re-run resumes cheaply."""
    report = ImportReport(agencies=await import_agencies(session, layout))
    fields = {f.name: f for f in await CatalogueService.fields_of(session)}
    pending = 0
    for line_no, raw, failure in records:
        if raw is None:
            report.failed_lines.append({"line": line_no, "reason": failure})
            continue
        parsed = parse_record(raw)
        if parsed.problems:
            report.problems[parsed.code] = list(parsed.problems)
        timing = parsed.processing_time
        report.processing_time[timing.source] += 1
        if timing.source != "stated":
            report.processing_time_not_stated[parsed.code] = {
                "source": timing.source,
                "days": timing.days,
                "basis": timing.basis,
            }
        field_name = clean(parsed.field_name) or "Khác"
        field_row = fields.get(field_name)
        if field_row is None:
            field_row = Field(id=field_id_for(field_name), name=field_name, retired=False)
            session.add(field_row)
            fields[field_name] = field_row
            report.fields_created += 1
            await session.flush()
        outcome = await _upsert(service, layout, parsed, raw, field_row, report)
        setattr(report, outcome, getattr(report, outcome) + 1)
        pending += 1
        if progress:
            progress(1)
        if pending >= batch:
            await session.commit()
            pending = 0
    await service.rebuild_vocabulary()
    await service.publish_agencies()
    await session.commit()
    await service.repo.refresh_statistics()
    await session.commit()
    return report


async def _upsert(
    service: CatalogueService,
    layout: Layout,
    parsed: ParsedProcedure,
    raw: dict[str, Any],
    field_row: Field,
    report: ImportReport,
) -> str:
    on_province = "province" in parsed.tiers
    on_commune = "commune" in parsed.tiers
    agency_id = (
        layout.department_for(field_row.name, raw.get("source_folder")) if on_province else None
    )
    content = _document(parsed, field_row.name)
    procedure = await service.repo.procedure(parsed.code, for_update=True)
    if procedure is None:
        procedure = Procedure(
            id=new_id(),
            code=parsed.code,
            version=1,
            retired=False,
            name=parsed.name,
            field_id=field_row.id,
            agency_id=agency_id,
            on_province=on_province,
            on_commune=on_commune,
            online=parsed.online,
            processing_days=parsed.processing_days,
            processing_time_source=parsed.processing_time.source,
        )
        procedure.document = service.content_of(parsed.code, content)
        service.index_fields(procedure, field_row)
        service.repo.add(procedure)
        await service.session.flush()
        await service.ensure_forms(procedure)
        await service.publish(procedure, first=True)
        return "created"
    wanted = {
        "name": parsed.name,
        "field_id": field_row.id,
        "agency_id": agency_id,
        "on_province": on_province,
        "on_commune": on_commune,
        "online": parsed.online,
        "processing_days": parsed.processing_days,
        "processing_time_source": parsed.processing_time.source,
        "retired": False,
    }
    document = service.content_of(parsed.code, content)
    if procedure.processing_time_source == ADMIN:
        # An admin's correction stands; the source's value is reported for the admin to see.
        del wanted["processing_days"], wanted["processing_time_source"]
        document["processing_time_basis"] = procedure.document.get("processing_time_basis")
        imported = (parsed.processing_days, parsed.processing_time.source)
        if imported != (procedure.processing_days, ADMIN):
            report.kept_admin_values[parsed.code] = {
                "processing_days": procedure.processing_days,
                "imported": {"days": imported[0], "source": imported[1]},
            }
    current = {key: getattr(procedure, key) for key in wanted}
    if current == wanted and procedure.document == document:
        return "unchanged"
    for key, value in wanted.items():
        setattr(procedure, key, value)
    procedure.document = document
    service.index_fields(procedure, field_row)
    await service.ensure_forms(procedure)
    await service.publish(procedure)
    return "updated"


async def run_import(
    settings: CatalogueSettings,
    source: Path,
    *,
    show_progress: bool = True,
    only_if_empty: bool = False,
) -> ImportReport | None:
    """Import `source` into the catalogue database of `settings`; with `only_if_empty`, do
    nothing (and return None) when procedures exist already."""
    from tqdm import tqdm

    db = database_for(settings.resolved_database_url())
    install_search_functions(db.engine)
    layout = load_layout(settings)
    try:
        async with db.sessionmaker() as session:
            if only_if_empty and await session.scalar(select(Procedure.id).limit(1)):
                return None
            storage = storage_from_settings(settings.storage_dir, "catalogue", settings)
            service = CatalogueService(session, settings, storage, layout.commune_tiers)
            with tqdm(
                desc="procedures", unit=" rec", disable=not show_progress, mininterval=0.5
            ) as bar:
                report = await import_catalogue(
                    session, service, layout, read_records(source), progress=bar.update
                )
    finally:
        # The connections belong to this event loop: a later import (another asyncio.run)
        # opens its own.
        await db.dispose()
    return report
