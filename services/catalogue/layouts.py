"""The agency layouts of the province (data/agencies.json beside the admin-unit files): which
agencies exist, and which agency performs a procedure — the one mapping the importer uses."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.catalogue.settings import CatalogueSettings
from services.catalogue.text import clean


@dataclass(frozen=True)
class AgencyRow:
    id: str
    name: str
    tier: str
    parent_id: str | None
    position: int


@dataclass(frozen=True)
class Layout:
    name: str
    agencies: tuple[AgencyRow, ...]
    commune_tiers: tuple[str, ...]
    field_departments: dict[str, str]
    ministry_departments: dict[str, str]
    default_department: str

    def department_for(self, field_name: str, ministry_folder: str | None) -> str:
        """The agency that performs a province-tier procedure of this field."""
        return (
            self.field_departments.get(clean(field_name))
            or self.ministry_departments.get(ministry_folder or "")
            or self.default_department
        )


def _read(path: Path) -> dict[str, Any]:
    layout: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return layout


def load_layout(settings: CatalogueSettings) -> Layout:
    config = _read(settings.agencies_file)
    chosen = config["layouts"][settings.layout]
    units = _read(settings.admin_units_dir / chosen["admin_units"])
    province = config["province"]
    rows = [AgencyRow(province["id"], province["name"], "province", None, 0)]
    rows += [
        AgencyRow(d["id"], clean(d["name"]), "department", province["id"], i)
        for i, d in enumerate(chosen["departments"], 1)
    ]
    districts = {d["code"]: f"H{d['code']}" for d in units.get("districts", [])}
    rows += [
        AgencyRow(f"H{d['code']}", clean(d["name_with_type"]), "district", province["id"], i)
        for i, d in enumerate(units.get("districts", []), 1)
    ]
    for i, commune in enumerate(units["communes"], 1):
        parent = districts.get(commune.get("parent_code", ""), province["id"])
        name = commune.get("name_with_type") or commune["name"]
        rows.append(AgencyRow(f"X{commune['code']}", clean(name), "commune", parent, i))
    return Layout(
        name=settings.layout,
        agencies=tuple(rows),
        commune_tiers=tuple(chosen["commune_tier_agencies"]),
        field_departments={clean(k): v for k, v in chosen["field_departments"].items()},
        ministry_departments=dict(chosen["ministry_departments"]),
        default_department=chosen["default_department"],
    )


def commune_tiers(settings: CatalogueSettings) -> tuple[str, ...]:
    config = _read(settings.agencies_file)
    return tuple(config["layouts"][settings.layout]["commune_tier_agencies"])
