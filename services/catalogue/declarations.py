"""The declaration (tờ khai) of each procedure as a JSON Schema: the applicant's common fields,
plus fields specific to the kinds of procedure whose forms are known. Dossiers validate against
the schema of the version they were filed with."""

from __future__ import annotations

from typing import Any

from services.catalogue.search import term_string


def _text(title: str, max_length: int = 300, **extra: Any) -> dict[str, Any]:
    return {"type": "string", "title": title, "minLength": 1, "maxLength": max_length, **extra}


def _date(title: str) -> dict[str, Any]:
    return {"type": "string", "format": "date", "title": title}


def _gender(title: str = "Giới tính") -> dict[str, Any]:
    return {"type": "string", "title": title, "enum": ["Nam", "Nữ"]}


APPLICANT: dict[str, Any] = {
    "type": "object",
    "title": "Thông tin người nộp hồ sơ",
    "properties": {
        "full_name": _text("Họ và tên", 200),
        "date_of_birth": _date("Ngày sinh"),
        "gender": _gender(),
        "id_number": {"type": "string", "title": "Số định danh cá nhân", "pattern": "^[0-9]{12}$"},
        "phone": {"type": "string", "title": "Số điện thoại", "pattern": "^[0-9 +().-]{8,20}$"},
        "email": {"type": "string", "title": "Thư điện tử", "format": "email", "maxLength": 320},
        "address": _text("Địa chỉ", 500),
    },
    "required": ["full_name", "address"],
}
"""The applicant's common fields, the same for every procedure (`$defs.applicant`)."""

COMMON: dict[str, dict[str, Any]] = {
    "request": _text("Nội dung yêu cầu giải quyết", 4000),
    "delivery": {
        "type": "string",
        "title": "Hình thức nhận kết quả",
        "enum": ["Trực tiếp", "Dịch vụ bưu chính", "Trực tuyến"],
        "default": "Trực tiếp",
    },
}

# (words that must all appear in the folded name, extra properties, required ones)
SPECIFIC: list[tuple[str, dict[str, dict[str, Any]], list[str]]] = [
    (
        "khai sinh",
        {
            "child_full_name": _text("Họ, chữ đệm, tên người được khai sinh"),
            "child_date_of_birth": _date("Ngày, tháng, năm sinh"),
            "child_gender": _gender(),
            "place_of_birth": _text("Nơi sinh"),
            "mother_full_name": _text("Họ, chữ đệm, tên người mẹ"),
            "father_full_name": _text("Họ, chữ đệm, tên người cha"),
        },
        ["child_full_name", "child_date_of_birth", "child_gender", "place_of_birth"],
    ),
    (
        "ket hon",
        {
            "wife_full_name": _text("Họ, chữ đệm, tên bên nữ"),
            "wife_date_of_birth": _date("Ngày, tháng, năm sinh bên nữ"),
            "husband_full_name": _text("Họ, chữ đệm, tên bên nam"),
            "husband_date_of_birth": _date("Ngày, tháng, năm sinh bên nam"),
        },
        ["wife_full_name", "wife_date_of_birth", "husband_full_name", "husband_date_of_birth"],
    ),
    (
        "khai tu",
        {
            "deceased_full_name": _text("Họ, chữ đệm, tên người đã chết"),
            "date_of_death": _date("Ngày chết"),
            "place_of_death": _text("Nơi chết"),
            "cause_of_death": _text("Nguyên nhân chết"),
        },
        ["deceased_full_name", "date_of_death", "place_of_death"],
    ),
    (
        "cu tru",
        {"residence_address": _text("Địa chỉ nơi cư trú", 500)},
        ["residence_address"],
    ),
    (
        "ho kinh doanh",
        {
            "business_name": _text("Tên hộ kinh doanh"),
            "business_address": _text("Địa chỉ trụ sở", 500),
            "business_lines": _text("Ngành, nghề kinh doanh", 2000),
            "capital_vnd": {"type": "integer", "title": "Vốn kinh doanh (đồng)", "minimum": 0},
        },
        ["business_name", "business_address", "business_lines"],
    ),
    (
        "dat dai",
        {
            "parcel_number": _text("Thửa đất số"),
            "map_sheet_number": _text("Tờ bản đồ số"),
            "parcel_address": _text("Địa chỉ thửa đất", 500),
        },
        ["parcel_number", "map_sheet_number", "parcel_address"],
    ),
]


def declaration_schema(name: str, field_name: str) -> dict[str, Any]:
    """The schema a procedure gets from the importer; admins may replace it."""
    haystack = f" {term_string(name)} {term_string(field_name)} "
    properties = dict(COMMON)
    required = ["request"]
    for words, extra, needed in SPECIFIC:
        if f" {term_string(words)} " in haystack:
            properties.update(extra)
            required += needed
            break
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Tờ khai",
        "type": "object",
        "properties": properties,
        "required": required,
        "additionalProperties": False,
        "$defs": {"applicant": APPLICANT},
    }
