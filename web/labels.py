"""The Vietnamese words and formats of the pages: tiers, online levels, channels, times, fees,
file sizes, dossier statuses (api.md's labels)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

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

# -- dossiers: the history's words and local times (added with the filing pages) -------------------

ACTIONS = {
    "created": "Tạo hồ sơ",
    "submit": "Gửi hồ sơ",
    "supplement": "Gửi bổ sung",
    "receive": "Tiếp nhận hồ sơ",
    "request_supplement": "Yêu cầu bổ sung",
    "reject": "Trả lại hồ sơ",
    "step": "Xử lý",
    "return_result": "Trả kết quả",
}
ACTOR_ROLES = {
    "citizen": "Người nộp hồ sơ",
    "accountless": "Người nộp hồ sơ",
    "officer": "Cán bộ xử lý",
    "admin": "Quản trị viên",
    "system": "Hệ thống",
}
LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")


def local_time(moment: datetime | None) -> str:
    """`dd/mm/yyyy hh:mm`, Vietnam's time."""
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y %H:%M") if moment else ""


def local_date(moment: datetime | None) -> str:
    return moment.astimezone(LOCAL_TZ).strftime("%d/%m/%Y") if moment else ""


FILTERS.update(
    {
        "action_label": lambda a: ACTIONS.get(a, a),
        "actor_label": lambda r: ACTOR_ROLES.get(r, r),
        "local_time": local_time,
        "local_date": local_date,
    }
)
