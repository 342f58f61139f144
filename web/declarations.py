"""The declaration ("Tờ khai") as a form, from the procedure version's JSON Schema, and the
form back to JSON: `fields()` builds what the template renders, `flatten()` gives a JSON value's
form values, `read()` turns submitted form values into JSON. `read` is the exact inverse of
`flatten` on canonical values, and `flatten(read(v))` gives back canonical form values (unit-
tested as a table over schemas in tests/web/test_declarations.py).

Form names are the API's own field paths (`declaration.child_full_name`,
`declaration.children.0.name`, `applicant.full_name`): a refusal's `errors[].field` lands at its
input as it is.

Canonical values (what `read` can give): strings stripped and not empty (an empty input is an
absent member); a boolean inside a present object always present (an unticked box is false);
an object or array whose inputs are all empty is absent unless the schema requires it (then
`{}`/`[]`); array rows left empty are dropped and the rest renumbered.

Types: string (`maxLength`, `pattern`, `format` date/email; a long `maxLength` is a text
area), number/integer (`minimum`/`maximum`), enums (radios up to `RADIO_LIMIT` options, a select
beyond), boolean (a checkbox), object (a fieldset), array (repeatable rows: without JavaScript,
`rows` empty rows and a "Thêm dòng" submit button that shows the form again with one more)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

RADIO_LIMIT = 4
TEXTAREA_FROM = 1000
"""A string whose `maxLength` is at least this is a text area."""
EMPTY_ROWS = 1
"""Rows shown beyond those filled in (at least `minItems`, and at least one)."""
MAX_ROWS = 50
"""The most rows "Thêm dòng" adds up to: a page is not a place for a thousand."""

NOT_A_NUMBER = "Vui lòng nhập một số."
NOT_AN_INTEGER = "Vui lòng nhập một số nguyên."
NOT_IN_LIST = "Vui lòng chọn một giá trị trong danh sách."


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""No value: the member is left out of the JSON."""


@dataclass
class Field:
    """One input, group or list of the form, as the template draws it."""

    kind: str
    """text, textarea, date, email, number, select, radios, checkbox, group, rows"""
    name: str
    label: str
    required: bool = False
    hint: str | None = None
    options: list[tuple[str, str]] = field(default_factory=list)
    children: list[Field] = field(default_factory=list)
    """A group's members; a list's rows (each a group, or one input)."""
    input_type: str = "text"
    inputmode: str | None = None
    maxlength: int | None = None

    @property
    def is_group(self) -> bool:
        return self.kind in ("group", "rows")


def _type(schema: Mapping[str, Any]) -> str:
    """The schema's type (the first that is not null); an enum alone is a string's."""
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if not kind:
        if "properties" in schema:
            return "object"
        if "items" in schema:
            return "array"
        return "string"
    return str(kind)


def _title(schema: Mapping[str, Any], name: str) -> str:
    title = schema.get("title")
    return str(title) if title else name.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def _option_value(member: Any) -> str:
    """An enum member as an option's value: a string as it is, anything else as JSON."""
    return member if isinstance(member, str) else json.dumps(member, ensure_ascii=False)


def _option_label(member: Any) -> str:
    if member is True:
        return "Có"
    if member is False:
        return "Không"
    return str(member) if not isinstance(member, str) else member


def _number_text(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def _hint(schema: Mapping[str, Any], kind: str) -> str | None:
    parts = []
    if schema.get("description"):
        parts.append(str(schema["description"]))
    if kind in ("number", "integer"):
        low, high = schema.get("minimum"), schema.get("maximum")
        if low is not None and high is not None:
            parts.append(f"Từ {_number_text(low)} đến {_number_text(high)}.")
        elif low is not None:
            parts.append(f"Không nhỏ hơn {_number_text(low)}.")
        elif high is not None:
            parts.append(f"Không lớn hơn {_number_text(high)}.")
    elif kind == "string" and "enum" not in schema:
        if schema.get("format") == "date":
            parts.append("Ngày/tháng/năm.")
        elif (schema.get("maxLength") or 0) >= TEXTAREA_FROM:
            parts.append(f"Tối đa {schema['maxLength']} ký tự.")
    return " ".join(parts) or None


# -- JSON → form values ----------------------------------------------------------------------------


def flatten(schema: Mapping[str, Any], value: Any, prefix: str) -> dict[str, str]:
    """A JSON value's form values, by input name."""
    kind = _type(schema)
    out: dict[str, str] = {}
    if value is MISSING or value is None:
        return out
    if kind == "object" and isinstance(value, Mapping):
        properties = schema.get("properties") or {}
        for name, sub in properties.items():
            out |= flatten(sub, value.get(name, MISSING), f"{prefix}.{name}")
    elif kind == "array" and isinstance(value, list):
        items = schema.get("items") or {}
        for index, item in enumerate(value):
            out |= flatten(items, item, f"{prefix}.{index}")
    elif kind == "boolean" and "enum" not in schema:
        if value is True:
            out[prefix] = "true"
    elif "enum" in schema:
        out[prefix] = _option_value(value)
    elif kind in ("number", "integer") and isinstance(value, int | float):
        out[prefix] = _number_text(value)
    else:
        out[prefix] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return out


# -- form values → JSON ----------------------------------------------------------------------------


@dataclass
class Reading:
    """What `read` found: the JSON, the form values as they now stand (rows renumbered), and
    the inputs that could not be read (not a number, not in the list), by name."""

    value: Any
    values: dict[str, str]
    errors: dict[str, str]


def filled(values: Mapping[str, str], prefix: str) -> bool:
    """Any input under `prefix` (itself or a member, a row) has something in it."""
    dotted = prefix + "."
    return any(v.strip() for k, v in values.items() if k == prefix or k.startswith(dotted))


def row_indices(values: Mapping[str, str], prefix: str) -> list[int]:
    """The rows a list's inputs were named with, in order."""
    pattern = re.compile(re.escape(prefix) + r"\.(\d{1,4})(?:\.|$)")
    return sorted({int(m.group(1)) for k in values if (m := pattern.match(k))})


def read(schema: Mapping[str, Any], values: Mapping[str, str], prefix: str) -> Reading:
    """The JSON of the inputs under `prefix` (the top is always an object's, even if empty)."""
    reading = Reading(MISSING, {}, {})
    reading.value = _read(schema, values, prefix, prefix, reading, required=True)
    if reading.value is MISSING:
        reading.value = {}
    return reading


def _read(
    schema: Mapping[str, Any],
    values: Mapping[str, str],
    source: str,
    target: str,
    reading: Reading,
    *,
    required: bool,
) -> Any:
    """Reads the inputs named under `source`, recording them under `target` (a list's rows
    are renumbered as empty ones are dropped)."""
    kind = _type(schema)
    if kind == "object" and "enum" not in schema:
        if not required and not filled(values, source):
            return MISSING
        needed = set(schema.get("required") or [])
        result: dict[str, Any] = {}
        for name, sub in (schema.get("properties") or {}).items():
            member = _read(
                sub,
                values,
                f"{source}.{name}",
                f"{target}.{name}",
                reading,
                required=name in needed,
            )
            if member is not MISSING:
                result[name] = member
        return result
    if kind == "array" and "enum" not in schema:
        items = schema.get("items") or {}
        rows: list[Any] = []
        for index in row_indices(values, source):
            if not filled(values, f"{source}.{index}"):
                continue
            row = _read(
                items,
                values,
                f"{source}.{index}",
                f"{target}.{len(rows)}",
                reading,
                required=True,
            )
            rows.append(row if row is not MISSING else None)
        if not rows and not required:
            return MISSING
        return rows
    raw = (values.get(source) or "").strip()
    if kind == "boolean" and "enum" not in schema:
        if raw:
            reading.values[target] = "true"
        return raw == "true"
    if not raw:
        return MISSING
    reading.values[target] = raw
    if "enum" in schema:
        members = {_option_value(m): m for m in schema["enum"]}
        if raw not in members:
            reading.errors[target] = NOT_IN_LIST
            return MISSING
        return members[raw]
    if kind in ("number", "integer"):
        return _number(raw, kind, target, reading)
    return raw


def _number(raw: str, kind: str, target: str, reading: Reading) -> Any:
    text = raw.replace(" ", "")
    if kind == "integer" or re.fullmatch(r"[+-]?\d+", text):
        if re.fullmatch(r"[+-]?\d{1,30}", text):
            return int(text)
        reading.errors[target] = NOT_AN_INTEGER if kind == "integer" else NOT_A_NUMBER
        return MISSING
    try:
        number = float(text)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        reading.errors[target] = NOT_A_NUMBER
        return MISSING
    return number


# -- the form's inputs -----------------------------------------------------------------------------


ROWS_FIELD = "dong:"
"""Hidden inputs `dong:<list name>` say how many rows a list showed, so that rows added with
"Thêm dòng" and not yet filled in stay on the page."""


def shown_rows(values: Mapping[str, str], add: str | None = None) -> dict[str, int]:
    """The rows each list showed (from its hidden input), one more for the list `add` names."""
    rows: dict[str, int] = {}
    for key, value in values.items():
        if key.startswith(ROWS_FIELD) and value.isdigit():
            rows[key.removeprefix(ROWS_FIELD)] = min(int(value), MAX_ROWS)
    if add:
        rows[add] = rows.get(add, 0) + 1
    return rows


def fields(
    schema: Mapping[str, Any],
    values: Mapping[str, str],
    prefix: str,
    *,
    rows: Mapping[str, int] | None = None,
) -> list[Field]:
    """The inputs of an object schema's members, named under `prefix`. A list shows its filled
    rows plus `EMPTY_ROWS` (at least `minItems`), or `rows[name]` when that is more."""
    needed = set(schema.get("required") or [])
    return [
        _field(sub, f"{prefix}.{name}", name in needed, values, rows or {})
        for name, sub in (schema.get("properties") or {}).items()
    ]


def _field(
    schema: Mapping[str, Any],
    name: str,
    required: bool,
    values: Mapping[str, str],
    rows: Mapping[str, int],
) -> Field:
    kind = _type(schema)
    label = _title(schema, name)
    hint = _hint(schema, kind)
    if "enum" in schema:
        options = [(_option_value(m), _option_label(m)) for m in schema["enum"]]
        shape = "radios" if len(options) <= RADIO_LIMIT else "select"
        return Field(shape, name, label, required, hint, options=options)
    if kind == "object":
        members = fields(schema, values, name, rows=rows)
        return Field("group", name, label, required, hint, children=members)
    if kind == "array":
        items = schema.get("items") or {}
        present = row_indices(values, name)
        filled = present[-1] + 1 if present else 0
        count = max(filled + EMPTY_ROWS, int(schema.get("minItems") or 0), rows.get(name, 0))
        shown = []
        for index in range(min(count, MAX_ROWS)):
            row = _field(items, f"{name}.{index}", False, values, rows)
            row.label = f"{label} — dòng {index + 1}"
            shown.append(row)
        return Field("rows", name, label, required, hint, children=shown)
    if kind == "boolean":
        return Field("checkbox", name, label, required, hint)
    if kind in ("number", "integer"):
        mode = "numeric" if kind == "integer" else "decimal"
        return Field("number", name, label, required, hint, inputmode=mode)
    fmt = schema.get("format")
    if fmt == "date":
        return Field("date", name, label, required, hint, input_type="date")
    if fmt == "email":
        return Field("email", name, label, required, hint, input_type="email")
    longest = schema.get("maxLength")
    if isinstance(longest, int) and longest >= TEXTAREA_FROM:
        return Field("textarea", name, label, required, hint, maxlength=longest)
    return Field("text", name, label, required, hint, maxlength=longest)


def names(items: list[Field]) -> set[str]:
    """Every input name (and group name) the fields show: where an error can be put."""
    found: set[str] = set()
    for item in items:
        found.add(item.name)
        found |= names(item.children)
    return found


# -- the schema, checked before an accountless dossier is created ----------------------------------


def problems(schema: Mapping[str, Any], value: Any, prefix: str) -> dict[str, str]:
    """What the schema refuses in `value`, by input name, in the words a page shows. Used
    where the API cannot be asked to correct later: an accountless dossier's declaration
    cannot be changed once created (its token only attaches files and sends)."""
    from jsonschema import Draft202012Validator  # on this path only, not at start (issue 15)

    found: dict[str, str] = {}
    checker = Draft202012Validator(
        {k: v for k, v in schema.items() if k != "$defs"},
        format_checker=Draft202012Validator.FORMAT_CHECKER,
    )
    for error in sorted(checker.iter_errors(value), key=lambda e: [str(p) for p in e.path]):
        path = [prefix, *(str(p) for p in error.path)]
        sub = error.schema if isinstance(error.schema, dict) else {}
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else ""
            title = _title((sub.get("properties") or {}).get(missing) or {}, missing)
            found.setdefault(".".join([*path, missing]), f"Vui lòng nhập {title.lower()}.")
            continue
        title = _title(sub, path[-1])
        message = {
            "pattern": f"{title}: giá trị không đúng định dạng.",
            "format": f"{title}: giá trị không đúng định dạng.",
            "maxLength": f"{title}: quá số ký tự cho phép ({sub.get('maxLength')}).",
            "minLength": f"Vui lòng nhập {title.lower()}.",
            "minimum": f"{title}: không được nhỏ hơn {sub.get('minimum')}.",
            "maximum": f"{title}: không được lớn hơn {sub.get('maximum')}.",
        }.get(str(error.validator), f"{title}: giá trị không hợp lệ.")
        found.setdefault(".".join(path), message)
    return found


def defaults(schema: Mapping[str, Any], prefix: str) -> dict[str, str]:
    """The form values of the schema's `default`s (a new form starts with them)."""
    found: dict[str, str] = {}
    for name, sub in (schema.get("properties") or {}).items():
        if "default" in sub:
            found |= flatten(sub, sub["default"], f"{prefix}.{name}")
        elif _type(sub) == "object":
            found |= defaults(sub, f"{prefix}.{name}")
    return found
