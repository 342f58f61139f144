"""The Vietnamese words and formats of the pages: tiers, online levels, channels, times, fees,
file sizes, dossier statuses (api.md's labels)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from web.clients.catalogue import Tier

TIERS = {
    "province": "Cấp tỉnh",
    "department": "Cấp Sở",
    "district": "Cấp huyện",
    "commune": "Cấp xã/phường",
}
TIER_SLUGS: dict[str, Tier] = {"so": "department", "huyen": "district", "xa": "commune"}
"""`/co-quan?cap=so|huyen|xa` → the API's agency tiers."""
SLUG_OF_TIER = {tier: slug for slug, tier in TIER_SLUGS.items()}
PROCEDURE_TIERS = {"province": "Cấp tỉnh", "commune": "Cấp xã/phường"}
ONLINE = {
    "full": "Dịch vụ công trực tuyến toàn trình",
    "partial": "Dịch vụ công trực tuyến một phần",
}
CHANNELS = {"online": "Nộp trực tuyến", "direct": "Nộp trực tiếp", "postal": "Nộp qua bưu chính"}
TIME_UNITS = {
    "working_day": "ngày làm việc",
    "day": "ngày",
    "hour": "giờ",
    "month": "tháng",
    "year": "năm",
}
STATUSES = {
    "draft": "Hồ sơ chưa gửi",
    "submitted": "Hồ sơ đã gửi",
    "supplement_requested": "Hồ sơ yêu cầu bổ sung",
    "processing": "Hồ sơ đang xử lý",
    "result_returned": "Hồ sơ đã trả kết quả",
    "rejected": "Hồ sơ bị trả lại",
}


def number(value: float | int) -> str:
    """Vietnamese grouping: 1.500.000; decimals with a comma: 0,5."""
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.1f}".replace(",", " ").replace(".", ",").replace(" ", ".")
    return f"{int(value):,}".replace(",", ".")


def duration(value: float | None, unit: str | None) -> str | None:
    """A channel's time; the national catalogue sometimes gives a number without its unit."""
    if value is None:
        return None
    if not unit:
        return f"{number(value)} (danh mục không ghi đơn vị thời gian)"
    return f"{number(value)} {TIME_UNITS.get(unit, unit)}"


def fee(fee_vnd: int | None, fee_text: str) -> str:
    if fee_text:
        return fee_text
    if fee_vnd is None:
        return "Không quy định"
    return "Miễn phí" if fee_vnd == 0 else f"{number(fee_vnd)} đồng"


def file_size(size: int | None) -> str:
    if size is None:
        return ""
    if size < 1024:
        return f"{size} B"
    if size < 1024 * 1024:
        return f"{number(round(size / 1024))} KB"
    return f"{number(round(size / 1024 / 1024, 1))} MB"


FILTERS: dict[str, Any] = {
    "number": number,
    "file_size": file_size,
    "tier_label": lambda t: TIERS.get(t, t),
    "procedure_tier": lambda t: PROCEDURE_TIERS.get(t, t),
    "online_label": lambda o: ONLINE.get(o, o),
    "channel_label": lambda c: CHANNELS.get(c, c),
    "status_label": lambda s: STATUSES.get(s, s),
}
GLOBALS: dict[str, Any] = {"duration": duration, "fee": fee, "tier_slug": SLUG_OF_TIER}


# -- dossiers: the history's words, roles and local times ----------------------------------------

VIETNAM = timezone(timedelta(hours=7), "ICT")
"""Vietnam's time (UTC+7, no daylight saving): every time a page shows."""
ACTIONS = {
    "created": "Tạo hồ sơ",
    "submit": "Gửi hồ sơ",
    "supplement": "Gửi bổ sung",
    "receive": "Tiếp nhận hồ sơ",
    "request_supplement": "Yêu cầu bổ sung",
    "step": "Xử lý",
    "return_result": "Trả kết quả",
    "reject": "Trả lại hồ sơ",
}
"""The history's actions (`GET /dossiers/{id}/history`)."""
ACTORS = {
    "citizen": "Người nộp hồ sơ",
    "accountless": "Người nộp hồ sơ (không tài khoản)",
    "officer": "Cán bộ",
    "admin": "Quản trị viên",
    "system": "Hệ thống",
}
ROLES = {"officer": "Cán bộ", "admin": "Quản trị viên", "citizen": "Công dân"}


def _local(value: datetime) -> datetime:
    return value.astimezone(VIETNAM) if value.tzinfo else value


def local_datetime(value: datetime | None) -> str:
    """`14:05 ngày 03/02/2026`, in Vietnam's time."""
    return f"{_local(value):%H:%M} ngày {_local(value):%d/%m/%Y}" if value else ""


def local_date(value: datetime | None) -> str:
    """`03/02/2026`, in Vietnam's time."""
    return f"{_local(value):%d/%m/%Y}" if value else ""


FILTERS.update(
    {
        "local_datetime": local_datetime,
        "local_time": local_datetime,
        "local_date": local_date,
        "action_label": lambda a: ACTIONS.get(a, a),
        "actor_label": lambda r: ACTORS.get(r, r),
        "role_label": lambda r: ROLES.get(r, r),
    }
)
