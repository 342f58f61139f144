"""A form as a page shows it, and the API's refusals turned into it: a Vietnamese message next
to each field the problem names, an error summary at the top linking to those fields, the values
the person typed put back — passwords and files excepted, and the page says so."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from starlette.datastructures import FormData, UploadFile

from web.clients.base import ApiProblem

REQUIRED = "Vui lòng nhập {label}."


def field_id(name: str) -> str:
    """The HTML id of a field (`applicant.full_name` → `f-applicant-full_name`): what the
    summary's links and the input's `aria-describedby` point at."""
    return "f-" + "".join(c if c.isalnum() or c == "_" else "-" for c in name)


@dataclass(frozen=True)
class SummaryItem:
    message: str
    field: str | None = None

    @property
    def anchor(self) -> str | None:
        return "#" + field_id(self.field) if self.field else None


@dataclass
class FormState:
    """What a form page needs to show a form again: values, errors by field, the summary."""

    values: dict[str, str] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    general: list[str] = field(default_factory=list)
    not_kept: list[str] = field(default_factory=list)
    """Labels of what was typed but is not shown again (passwords, files)."""
    secret_fields: set[str] = field(default_factory=set)
    """Fields of the form whose values are not kept: errors still go next to them."""

    @classmethod
    def from_form(cls, form: FormData, *, secret: Iterable[str] = ()) -> FormState:
        """The submitted text values, without the CSRF token and without `secret` fields."""
        hidden = set(secret) | {"csrf_token"}
        values = {
            key: value.strip()
            for key, value in form.multi_items()
            if isinstance(value, str) and key not in hidden
        }
        return cls(values=values, secret_fields=set(secret))

    def value(self, name: str) -> str:
        return self.values.get(name, "")

    def error(self, name: str) -> str | None:
        return self.errors.get(name)

    def add(self, name: str | None, message: str) -> None:
        if name is None:
            self.general.append(message)
        else:
            self.errors.setdefault(name, message)

    def require(self, labels: Mapping[str, str], secrets: Mapping[str, str] | None = None) -> None:
        """Empty required fields, checked here first so the person need not wait for the API.
        `secrets` are the values not kept in `values` (passwords), by field name."""
        for name, label in labels.items():
            value = secrets[name] if secrets and name in secrets else self.value(name)
            if not value:
                self.add(name, REQUIRED.format(label=label.lower()))

    def keep_out(self, *labels: str) -> None:
        """Say that these were not kept (only when something was refused)."""
        self.not_kept.extend(labels)

    @property
    def invalid(self) -> bool:
        return bool(self.errors or self.general)

    @property
    def summary(self) -> list[SummaryItem]:
        return [SummaryItem(m) for m in self.general] + [
            SummaryItem(message, name) for name, message in self.errors.items()
        ]

    def apply(
        self,
        problem: ApiProblem,
        *,
        fields: Mapping[str, str] | None = None,
        messages: Mapping[str | int, str] | None = None,
        at: Mapping[str | int, str] | None = None,
    ) -> FormState:
        """Put an API refusal on the form. `fields` maps the API's field paths to the form's
        names when they differ; an error on a field the form does not show goes to the summary.
        A refusal without field errors goes to the summary, or to the field `at` names for its
        code or status; `messages` replaces the API's detail for a code or status."""
        names = set(self.values) | self.secret_fields | set(fields.values() if fields else ())
        for problem_field in problem.errors:
            name = (fields or {}).get(problem_field.field, problem_field.field)
            message = problem_field.message or problem.detail
            self.add(name if name in names else None, message)
        if not problem.errors:
            chosen = (messages or {}).get(problem.code) or (messages or {}).get(problem.status)
            target = (at or {}).get(problem.code) or (at or {}).get(problem.status)
            self.add(target, chosen or problem.detail or problem.title or DEFAULT_REFUSAL)
        return self


DEFAULT_REFUSAL = "Yêu cầu chưa được thực hiện. Vui lòng kiểm tra lại thông tin."


def secret(form: FormData, name: str) -> str:
    """A field whose value is never shown again (a password): read, not kept."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def uploaded(form: FormData, name: str) -> UploadFile | None:
    """A file field with a file in it (an empty file input sends a nameless, empty part)."""
    value = form.get(name)
    if isinstance(value, UploadFile) and value.filename:
        return value
    return None
