"""The declaration form (web/declarations.py) as a table over schemas: the form values a JSON
value renders to read back as that value (`read ∘ flatten` is the identity on canonical values),
the values a form sends read to JSON that renders back to those values (`flatten ∘ read`), and
what cannot be read (not a number, not in the list) is said at its input."""

from __future__ import annotations

from typing import Any

import pytest

from web import declarations
from web.declarations import fields, flatten, problems, read, shown_rows

TEXT = {"type": "string", "title": "Họ và tên", "maxLength": 200}
DATE = {"type": "string", "format": "date", "title": "Ngày sinh"}
EMAIL = {"type": "string", "format": "email", "title": "Thư điện tử"}
GENDER = {"type": "string", "title": "Giới tính", "enum": ["Nam", "Nữ"]}
DELIVERY = {
    "type": "string",
    "title": "Hình thức nhận kết quả",
    "enum": ["Trực tiếp", "Dịch vụ bưu chính", "Trực tuyến", "Khác", "Qua Zalo"],
}
COUNT = {"type": "integer", "title": "Số bản sao", "minimum": 0, "maximum": 10}
AREA = {"type": "number", "title": "Diện tích (m²)"}
LEVEL = {"type": "integer", "title": "Mức", "enum": [1, 2, 3]}
AGREE = {"type": "boolean", "title": "Cam đoan"}
LONG = {"type": "string", "title": "Nội dung", "maxLength": 4000}
PERSON = {
    "type": "object",
    "title": "Người cha",
    "properties": {"full_name": TEXT, "date_of_birth": DATE},
    "required": ["full_name"],
}
CHILDREN = {
    "type": "array",
    "title": "Con",
    "items": {
        "type": "object",
        "properties": {"full_name": TEXT, "age": COUNT, "twin": AGREE},
        "required": ["full_name"],
    },
}
PHONES = {"type": "array", "title": "Số điện thoại", "items": {"type": "string"}}


def obj(required: list[str] | None = None, **properties: Any) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or []}


TABLE: list[tuple[str, dict[str, Any], dict[str, Any], dict[str, str]]] = [
    (
        "strings, date, e-mail, long text",
        obj(name=TEXT, born=DATE, mail=EMAIL, request=LONG),
        {"name": "Nguyễn Văn An", "born": "2024-02-29", "mail": "an@example.vn", "request": "a\nb"},
        {
            "d.name": "Nguyễn Văn An",
            "d.born": "2024-02-29",
            "d.mail": "an@example.vn",
            "d.request": "a\nb",
        },
    ),
    ("empty strings are absent", obj(name=TEXT, born=DATE), {}, {}),
    (
        "enums: radios, select, integers",
        obj(gender=GENDER, delivery=DELIVERY, level=LEVEL),
        {"gender": "Nữ", "delivery": "Qua Zalo", "level": 2},
        {"d.gender": "Nữ", "d.delivery": "Qua Zalo", "d.level": "2"},
    ),
    (
        "integers and numbers",
        obj(count=COUNT, area=AREA, whole=AREA),
        {"count": 3, "area": 12.5, "whole": 40},
        {"d.count": "3", "d.area": "12.5", "d.whole": "40"},
    ),
    (
        "booleans: ticked and not",
        obj(agree=AGREE, other=AGREE),
        {"agree": True, "other": False},
        {"d.agree": "true"},
    ),
    (
        "a nested object as a fieldset",
        obj(father=PERSON, mother=PERSON),
        {"father": {"full_name": "Trần Văn Bình", "date_of_birth": "1980-01-02"}},
        {"d.father.full_name": "Trần Văn Bình", "d.father.date_of_birth": "1980-01-02"},
    ),
    (
        "an array of objects as rows",
        obj(children=CHILDREN),
        {
            "children": [
                {"full_name": "An", "age": 4, "twin": True},
                {"full_name": "Bình", "twin": False},
            ]
        },
        {
            "d.children.0.full_name": "An",
            "d.children.0.age": "4",
            "d.children.0.twin": "true",
            "d.children.1.full_name": "Bình",
        },
    ),
    (
        "an array of strings; a required empty array stays",
        obj(["phones"], phones=PHONES, others=PHONES),
        {"phones": []},
        {},
    ),
    (
        "arrays in objects in arrays",
        obj(
            families=obj(children=CHILDREN) | {"title": "Gia đình"} | {"type": "object"},
        ),
        {"families": {"children": [{"full_name": "Cường", "twin": False}]}},
        {"d.families.children.0.full_name": "Cường"},
    ),
]


@pytest.mark.parametrize(("case", "schema", "value", "form"), TABLE, ids=[c[0] for c in TABLE])
def test_reading_is_the_inverse_of_rendering(
    case: str, schema: dict[str, Any], value: dict[str, Any], form: dict[str, str]
) -> None:
    assert flatten(schema, value, "d") == form
    reading = read(schema, form, "d")
    assert reading.value == value and reading.errors == {}
    assert flatten(schema, reading.value, "d") == reading.values == form


def test_empty_rows_are_dropped_and_the_rest_renumbered() -> None:
    schema = obj(children=CHILDREN)
    sent = {
        "d.children.0.full_name": "",
        "d.children.0.age": "",
        "d.children.1.full_name": " Dung ",
        "d.children.2.full_name": "",
        "d.children.3.age": "7",
    }
    reading = read(schema, sent, "d")
    assert reading.value == {
        "children": [{"full_name": "Dung", "twin": False}, {"age": 7, "twin": False}]
    }
    assert reading.values == {"d.children.0.full_name": "Dung", "d.children.1.age": "7"}


@pytest.mark.parametrize(
    ("schema", "typed", "message"),
    [
        (COUNT, "ba", declarations.NOT_AN_INTEGER),
        (COUNT, "2.5", declarations.NOT_AN_INTEGER),
        (AREA, "12,5m", declarations.NOT_A_NUMBER),
        (AREA, "inf", declarations.NOT_A_NUMBER),
        (DELIVERY, "Bồ câu", declarations.NOT_IN_LIST),
    ],
)
def test_what_cannot_be_read_is_said_at_its_input_and_kept(
    schema: dict[str, Any], typed: str, message: str
) -> None:
    reading = read(obj(x=schema), {"d.x": typed}, "d")
    assert reading.value == {}
    assert reading.errors == {"d.x": message}
    assert reading.values == {"d.x": typed}  # shown again as typed


def test_inputs_are_named_by_the_api_paths_and_lists_grow_by_a_row() -> None:
    schema = obj(["children"], father=PERSON, children=CHILDREN, gender=GENDER, mode=DELIVERY)
    drawn = fields(schema, {"d.children.0.full_name": "An"}, "d")
    kinds = {f.name: f.kind for f in drawn}
    assert kinds == {
        "d.father": "group",
        "d.children": "rows",
        "d.gender": "radios",
        "d.mode": "select",
    }
    children = next(f for f in drawn if f.name == "d.children")
    assert children.required and len(children.children) == 2  # the filled one and an empty one
    assert [c.name for c in children.children[1].children] == [
        "d.children.1.full_name",
        "d.children.1.age",
        "d.children.1.twin",
    ]
    father = next(f for f in drawn if f.name == "d.father")
    assert [(c.name, c.required, c.kind) for c in father.children] == [
        ("d.father.full_name", True, "text"),
        ("d.father.date_of_birth", False, "date"),
    ]
    # "Thêm dòng" on the list: the rows it showed (a hidden input) plus one
    rows = shown_rows({"dong:d.children": "2"}, add="d.children")
    assert (
        len(next(f for f in fields(schema, {}, "d", rows=rows) if f.kind == "rows").children) == 3
    )


def test_the_schema_check_names_the_inputs() -> None:
    schema = obj(
        ["name", "count"],
        name=TEXT,
        count=COUNT,
        id={"type": "string", "pattern": "^[0-9]{12}$", "title": "Số định danh"},
    )
    found = problems(schema, {"count": 11, "id": "12"}, "d")
    assert found == {
        "d.name": "Vui lòng nhập họ và tên.",
        "d.count": "Số bản sao: không được lớn hơn 10.",
        "d.id": "Số định danh: giá trị không đúng định dạng.",
    }
