"""Whether a dossier can be sent: a file for every required component, and the applicant and
the declaration valid against the procedure's form (its JSON Schema). Pure: no database."""

from __future__ import annotations

import functools
import json
from typing import TYPE_CHECKING, Any

from services.dossiers.errors import INCOMPLETE
from services.kernel.errors import FieldError, Invalid, Text

if TYPE_CHECKING:  # imported by the first dossier sent, not at start (issue 15)
    from jsonschema import Draft202012Validator


def check_complete(
    procedure: dict[str, Any],
    applicant: dict[str, Any],
    declaration: dict[str, Any],
    with_files: set[str | None],
) -> None:
    """422 listing everything missing or invalid (each message in both languages), given the
    procedure's snapshot and the components that have a file."""
    errors: list[FieldError] = []
    for component in procedure.get("components", []):
        if component.get("required") and component["id"] not in with_files:
            message = Text(
                f"Thiếu tệp cho thành phần “{component['name'][:200]}”.",
                f"A file is missing for the component “{component['name'][:200]}”.",
            )
            errors.append(FieldError(f"components.{component['id']}", "component_missing", message))
    schema = procedure.get("declaration_schema") or {"type": "object"}
    applicant_schema = (schema.get("$defs") or {}).get("applicant")
    if applicant_schema:
        errors += _schema_errors("applicant", applicant_schema, applicant)
    declaration_schema = {k: v for k, v in schema.items() if k != "$defs"}
    errors += _schema_errors("declaration", declaration_schema, declaration)
    if errors:
        raise Invalid(*errors, detail=INCOMPLETE)


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator

    return Draft202012Validator(
        json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_errors(prefix: str, schema: dict[str, Any], value: dict[str, Any]) -> list[FieldError]:
    validator = _validator(json.dumps(schema, sort_keys=True))
    errors = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(e.path)):
        path = [str(p) for p in error.path]
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            path.append(missing)
            message = Text("Trường này là bắt buộc.", "This field is required.")
            code = "required"
        elif error.validator == "additionalProperties":
            message = Text("Trường này không có trong tờ khai.", "This field is not in the form.")
            code = "unknown_field"
        else:
            title = (error.schema or {}).get("title") if isinstance(error.schema, dict) else None
            message = Text(
                f"Giá trị không hợp lệ{f' ({title})' if title else ''}.",
                f"Invalid value{f' ({title})' if title else ''}: {error.message[:200]}",
            )
            code = str(error.validator)
        errors.append(FieldError([prefix, *path], code, message))
    return errors
