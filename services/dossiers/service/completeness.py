"""Whether a dossier can be sent: a file for every required component, and the applicant and
the declaration valid against the procedure's form (its JSON Schema). Pure: no database."""

from __future__ import annotations

import functools
import json
from typing import Any

from jsonschema import Draft202012Validator

from services.dossiers.service.access import field_error, validation
from services.kernel.errors import Text


def check_complete(
    procedure: dict[str, Any],
    applicant: dict[str, Any],
    declaration: dict[str, Any],
    with_files: set[str | None],
    lang: str,
) -> None:
    """422 listing everything missing or invalid (each field's message in `lang`), given the
    procedure's snapshot and the components that have a file."""
    errors: list[dict[str, Any]] = []
    for component in procedure.get("components", []):
        if component.get("required") and component["id"] not in with_files:
            message = Text(
                f"Thiếu tệp cho thành phần “{component['name'][:200]}”.",
                f"A file is missing for the component “{component['name'][:200]}”.",
            )
            errors.append(
                field_error(f"components.{component['id']}", "component_missing", message, lang)
            )
    schema = procedure.get("declaration_schema") or {"type": "object"}
    applicant_schema = (schema.get("$defs") or {}).get("applicant")
    if applicant_schema:
        errors += _schema_errors("applicant", applicant_schema, applicant, lang)
    declaration_schema = {k: v for k, v in schema.items() if k != "$defs"}
    errors += _schema_errors("declaration", declaration_schema, declaration, lang)
    if errors:
        raise validation(
            errors,
            Text(
                "Hồ sơ chưa đầy đủ; hãy bổ sung những mục được nêu rồi gửi lại.",
                "The dossier is incomplete; complete the items listed and send again.",
            ),
        )


@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(
        json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _schema_errors(
    prefix: str, schema: dict[str, Any], value: dict[str, Any], lang: str
) -> list[dict[str, Any]]:
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
        errors.append(field_error(".".join([prefix, *path]), code, message, lang))
    return errors
