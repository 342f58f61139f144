"""What every service refuses at the edge, before anything is stored: JSON nested too deep, text
that is not valid Unicode (a lone surrogate such as ``"\\ud800"``, which no later read can encode)
and the NUL character (which PostgreSQL cannot store and e-mails would carry); and the bounds of
free-form JSON objects (a dossier's applicant and declaration). A value refused here is never
stored, so no later read, list or e-mail meets it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from services.kernel.errors import Text, register_field_messages

MAX_JSON_DEPTH = 16
"""Nesting of any JSON body: objects and arrays inside each other. The deepest the API needs is
a declaration's array of objects inside an object (4); 16 leaves room and stays far below what
breaks a parser or a serializer (hundreds)."""

PROBLEMS: dict[str, Text] = {
    "nul_character": Text(
        "Giá trị chứa ký tự không hợp lệ (NUL, \\u0000).",
        "The value holds a character that is not accepted (NUL, \\u0000).",
    ),
    "unicode_invalid": Text(
        "Giá trị chứa ký tự Unicode không hợp lệ.",
        "The value holds text that is not valid Unicode (a lone surrogate, or bytes that are "
        "not UTF-8).",
    ),
    "too_deep": Text(
        f"Dữ liệu lồng nhau quá sâu (tối đa {MAX_JSON_DEPTH} cấp).",
        f"The value is nested too deeply (at most {MAX_JSON_DEPTH} levels).",
    ),
    "control_character": Text(
        "Giá trị phải nằm trên một dòng, không chứa ký tự điều khiển.",
        "The value must be one line, without control characters.",
    ),
    "json_too_large": Text(
        "Dữ liệu vượt quá giới hạn cho phép.", "The value is larger than allowed."
    ),
}
"""Field messages of these codes (registered with the kernel's error mapping)."""
register_field_messages(PROBLEMS)


class InputRefused(ValueError):
    """A value the edge refuses; `loc` is where in the body, `code` a key of PROBLEMS."""

    def __init__(self, code: str, loc: list[str | int]) -> None:
        super().__init__(PROBLEMS[code].en)
        self.code = code
        self.loc = loc


def text_problem(value: str) -> str | None:
    """The code of what is wrong with `value` as stored text, or None."""
    if "\x00" in value:
        return "nul_character"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "unicode_invalid"
    return None


def check_json_value(value: Any, *, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Walk a parsed JSON value (without recursion: a deep value is what is being refused) and
    raise InputRefused at the first string or key that cannot be stored, or past `max_depth`."""
    pending: list[tuple[Any, list[str | int], int]] = [(value, [], 0)]
    while pending:
        item, loc, depth = pending.pop()
        if isinstance(item, str):
            if problem := text_problem(item):
                raise InputRefused(problem, loc)
        elif isinstance(item, dict | list):
            if depth >= max_depth:
                raise InputRefused("too_deep", loc)
            if isinstance(item, dict):
                for key, child in item.items():
                    if problem := text_problem(key):
                        raise InputRefused(problem, [*loc, key])
                    pending.append((child, [*loc, key], depth + 1))
            else:
                pending.extend((child, [*loc, i], depth + 1) for i, child in enumerate(item))


def parse_json_body(body: bytes) -> Any:
    """The JSON body, checked (InputRefused); json.JSONDecodeError when it is not JSON. Python's
    parser refuses nesting past its recursion limit with RecursionError: that is too deep too."""
    try:
        value = json.loads(body)
    except RecursionError:
        raise InputRefused("too_deep", []) from None
    except UnicodeDecodeError:  # bytes that are not UTF-8 (nor UTF-16/32, which JSON allows)
        raise InputRefused("unicode_invalid", []) from None
    check_json_value(value)
    return value


def readable(value: Any) -> Any:
    """`value` with every string made safe to encode: lone surrogates become "?" and NUL is
    dropped. For reads of what was stored before the edge refused such text, so that one old row
    cannot break a page, a list or an e-mail."""
    if isinstance(value, str):
        if text_problem(value) is None:
            return value
        return value.replace("\x00", "").encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {readable(k): readable(v) for k, v in value.items()}
    if isinstance(value, list):
        return [readable(v) for v in value]
    return value


# -- bounds of free-form JSON objects -------------------------------------------------------------


def _too_large(why: str) -> PydanticCustomError:
    return PydanticCustomError("json_too_large", "The value is too large: {why}", {"why": why})


def _json_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode())


def bounded_json(
    *, max_bytes: int, max_string: int, max_depth: int, max_items: int
) -> Callable[[Any], Any]:
    """A pydantic after-validator for a free-form JSON value: at most `max_bytes` as compact
    UTF-8 JSON, no string longer than `max_string` characters, at most `max_depth` levels and
    `max_items` members in any one object or array."""

    def check(value: Any) -> Any:
        pending: list[tuple[Any, int]] = [(value, 0)]
        while pending:
            item, depth = pending.pop()
            if isinstance(item, str):
                if len(item) > max_string:
                    raise _too_large(f"a text is longer than {max_string} characters")
            elif isinstance(item, dict | list):
                if depth >= max_depth:
                    raise _too_large(f"nested more than {max_depth} levels")
                if len(item) > max_items:
                    raise _too_large(f"more than {max_items} members in one object or list")
                children = list(item.values()) if isinstance(item, dict) else item
                if isinstance(item, dict):
                    children += list(item.keys())
                pending.extend((child, depth + 1) for child in children)
        if _json_size(value) > max_bytes:
            raise _too_large(f"larger than {max_bytes // 1024} KB as JSON")
        return value

    return check


def _one_line(value: Any) -> Any:
    """Before validation: trim, and refuse line breaks and other control characters."""
    if isinstance(value, str):
        value = value.strip()
        if any(ch < " " or "\x7f" <= ch <= "\x9f" or ch in "\u2028\u2029" for ch in value):
            raise PydanticCustomError("control_character", PROBLEMS["control_character"].en)
    return value


OneLine = BeforeValidator(_one_line)
"""For names and other short texts that e-mails and lists show on one line:
`Annotated[str, OneLine, StringConstraints(max_length=...)]`."""


def _no_surrogates(value: Any) -> Any:
    if isinstance(value, str) and (problem := text_problem(value)):
        raise PydanticCustomError(problem, PROBLEMS[problem].en)
    return value


StorableText = AfterValidator(_no_surrogates)
"""For text that arrives outside a JSON body (form fields, query strings)."""

__all__ = [
    "MAX_JSON_DEPTH",
    "PROBLEMS",
    "InputRefused",
    "OneLine",
    "StorableText",
    "bounded_json",
    "check_json_value",
    "parse_json_body",
    "readable",
    "text_problem",
]
