"""Parse the national catalogue's crawled records into typed procedures.

The crawl (see /work/shared/data/README.md) flattened the portal's HTML tables: cells follow each
other with no separator. These functions cut them back into rows by what each cell looks like
(a filing channel's name, a time with its unit, a fee, a count such as "1 bản chính", a legal
document's code such as "123/2015/NĐ-CP"). What cannot be cut without guessing is left unknown
and reported in `ParsedProcedure.problems`, one short English phrase naming the field.

Pure functions, no I/O. Every string that comes out went through `text.clean` (NFC, one space).

Rules worth knowing (the tests pin them on real records):

* Channel time: "Ngày làm việc" is working days, "Ngày" days, "Giờ" hours, "Tháng" months,
  "Năm" years. A bare number ("Trực tuyến1Miễn phí") lost its unit: the value is kept, the unit
  is None and a problem is noted; such a channel does not count for `processing_days`. Digits
  running straight into a fee ("Trực tuyến120 VNĐ": 1 day + 20 VNĐ? 12 + 0?) are not split.
* Fee: "Miễn phí" is 0; "Không có thông tin" is unknown (None); "50,000 VNĐ" or
  "800,000 Việt Nam Đồng" is the amount. An amount under 1,000 VNĐ ("100 VNĐ", which the portal
  sometimes writes for 100,000) and any other currency (USD) are left unknown, with a problem.
* `processing_days`, in working days: the online channel's time if it is known, else the
  shortest known time of the other channels. Working days and days count one for one; hours are
  ceil(hours / 8) (so up to 8 h is 1 day); months count 22 days, years 250.
* When no channel states a time with its unit (`processing_time`, `ProcessingTime.source`):
  a number whose unit was lost takes the unit another channel of the record states
  (`inferred_unit_from_channel`); else the unit the page text gives that number where it says
  how long the agency has from receiving the dossier ("… 03 ngày làm việc kể từ ngày nhận …",
  one unit only; `inferred_unit_from_text`); else working days, the unit of the national
  catalogue almost everywhere (`assumed_working_days`). With no number at all — no time, a
  text, or digits running into the fee — the time is `unknown` (None): the portal says so.
  A stated time is never replaced by an inferred one.
* Component requiredness: required unless every count is 0, it is in a "phải xuất trình" group
  (`present_only`: shown at the counter, not filed), it is in a "Lưu ý" (notes) group, or it is
  conditional: its name, once list markers are dropped, starts with "Trường hợp", "Nếu",
  "Đối với trường hợp", "Riêng", or it contains "(nếu có)", "nếu có", "trong trường hợp",
  "đối với trường hợp"; or its group heading starts with "Trường hợp" / "Nếu".
* `online`: "full" (toàn trình) when there is an online channel and no component is present-only
  (nothing must be shown in person); otherwise "partial" (một phần).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from services.catalogue.text import clean

ChannelKind = Literal["online", "direct", "postal"]
ProcessingTimeSource = Literal[
    "stated",
    "inferred_unit_from_channel",
    "inferred_unit_from_text",
    "assumed_working_days",
    "unknown",
]
TimeUnit = Literal["working_day", "day", "hour", "month", "year"]
OnlineLevel = Literal["full", "partial"]

NO_INFO = "Không có thông tin"


@dataclass(frozen=True)
class Channel:
    """One row of "Cách thức thực hiện": how to file, how long it takes, what it costs."""

    kind: ChannelKind
    time_value: float | None
    time_unit: TimeUnit | None
    fee_vnd: int | None
    """0 when free ("Miễn phí"); None when unknown."""
    fee_text: str
    description: str


@dataclass(frozen=True)
class ProcessingTime:
    """The processing time (thời hạn giải quyết) in working days, and how it was obtained."""

    days: int | None
    source: ProcessingTimeSource
    basis: str | None = None
    """Why, for anything not stated: the channel or the words the unit came from, or what the
    record has instead of a number."""


@dataclass(frozen=True)
class Component:
    """One document of the dossier (thành phần hồ sơ)."""

    name: str
    group: str | None
    quantity: str
    required: bool
    present_only: bool
    form_names: tuple[str, ...]


@dataclass(frozen=True)
class LegalDocument:
    title: str
    code: str | None


@dataclass(frozen=True)
class ParsedProcedure:
    code: str
    name: str
    tiers: tuple[str, ...]
    """"province" (Cấp tỉnh) and/or "commune" (Cấp xã)."""
    other_tiers: tuple[str, ...]
    """Other tiers as written, e.g. "Cấp bộ", "Cơ quan khác"."""
    field_name: str
    decision: str | None
    kind: str | None
    subjects: str | None
    performing_agency: str | None
    competent_agency: str | None
    channels: tuple[Channel, ...]
    processing_time: ProcessingTime
    steps: tuple[str, ...]
    legal_basis: tuple[LegalDocument, ...]
    conditions: str | None
    result: str | None
    components: tuple[Component, ...]
    online: OnlineLevel
    source_url: str
    problems: tuple[str, ...]

    @property
    def processing_days(self) -> int | None:
        return self.processing_time.days

    @property
    def fees(self) -> tuple[tuple[ChannelKind, int | None, str], ...]:
        """(channel, fee in VNĐ or None, fee as written) for each channel."""
        return tuple((c.kind, c.fee_vnd, c.fee_text) for c in self.channels)


# --------------------------------------------------------------------------- helpers


def _text(raw: Mapping[str, Any], key: str) -> str:
    value = raw.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        value = str(value)
    return clean(value)


def _optional(value: str) -> str | None:
    """None for an empty cell or the portal's "Không có thông tin"."""
    value = clean(value)
    if not value or value.casefold() in {NO_INFO.casefold(), "không", "không có"}:
        return None
    return value


def _short(value: str, limit: int = 60) -> str:
    value = clean(value)
    return value if len(value) <= limit else value[: limit - 1] + "…"


# --------------------------------------------------------------------------- channels

_CHANNEL_NAMES: dict[str, ChannelKind] = {
    "Trực tuyến": "online",
    "Trực tiếp": "direct",
    "Dịch vụ bưu chính": "postal",
}
_CHANNEL_HEADER = "Hình thức nộpThời gianPhí, lệ phíMô tả"
_UNITS: dict[str, TimeUnit] = {
    "ngày làm việc": "working_day",
    "ngày": "day",
    "giờ": "hour",
    "tháng": "month",
    "năm": "year",
}
_CURRENCY = r"(?:VNĐ|VND|vnđ|Việt Nam Đồng|đồng|Đồng|USD)"
_NOT_A_CHANNEL = r"(?!Trực tuyến|Trực tiếp|Dịch vụ bưu chính)"
_AMOUNT = rf"\d[\d.,]*\s?{_CURRENCY}"
_FEE = rf"(?:Miễn phí|{NO_INFO}|{_AMOUNT})"
# A row starts with a channel name followed by its time cell and its fee cell. The time cell is a
# number with a unit, "Không có thông tin", a bare number (unit lost), nothing (then the fee's
# digits may carry the time's), or a short free text.
_ROW = re.compile(
    r"(?P<kind>Trực tuyến|Trực tiếp|Dịch vụ bưu chính)"
    r"(?:"
    r"(?P<num>\d+(?:[.,]\d+)?)\s?(?P<unit>Ngày làm việc|Ngày|Giờ|Tháng|Năm)"
    rf"|(?P<noinfo>{NO_INFO}|Không quy định|Không(?=Miễn phí|{NO_INFO}))"
    rf"|(?P<bare>\d+)(?=Miễn phí|{NO_INFO})"
    rf"|(?P<free>(?!\d)(?:{_NOT_A_CHANNEL}[^\n]){{1,200}}?)(?={_FEE})"
    r"|"
    r")"
    rf"(?P<fee>{_FEE})"
)
_FEE_AMOUNT = re.compile(rf"(\d[\d.,]*)\s?({_CURRENCY})")


def _balanced_parenthesis(text: str, start: int) -> int:
    """End (exclusive) of the parenthesised run opening at text[start] == "(", or -1."""
    depth = 0
    for i in range(start, len(text)):
        if text[i] == "(":
            depth += 1
        elif text[i] == ")":
            depth -= 1
            if depth == 0:
                return i + 1
    return -1


def _amount_to_int(digits: str) -> int | None:
    """ "800,000" / "800.000" / "2000" → int; None when the grouping is not a clean one."""
    if re.fullmatch(r"\d{1,3}(?:,\d{3})+", digits) or re.fullmatch(r"\d{1,3}(?:\.\d{3})+", digits):
        return int(re.sub(r"[.,]", "", digits))
    if digits.isdigit():
        return int(digits)
    return None


def _to_days(value: float, unit: TimeUnit) -> int:
    if unit in ("working_day", "day"):
        return math.ceil(value)
    if unit == "hour":
        return max(1, math.ceil(value / 8))
    if unit == "month":
        return math.ceil(value * 22)
    return math.ceil(value * 250)


def parse_channels(text: str) -> tuple[tuple[Channel, ...], list[str]]:
    """The rows of "Cách thức thực hiện" and what could not be parsed in them."""
    field = "cach_thuc_thuc_hien"
    problems: list[str] = []
    body = clean(text)
    if body.startswith(clean(_CHANNEL_HEADER)):
        body = body[len(clean(_CHANNEL_HEADER)) :]
    elif body:
        problems.append(f"{field}: table header missing")
    if not body or body == NO_INFO:
        problems.append(f"{field}: no channel")
        return (), problems

    matches = [m for m in _ROW.finditer(body)]
    # A channel name inside a description ("Trực tuyến qua Cổng ...") does not match _ROW unless
    # followed by a fee; keep only matches that do not start inside the previous row's fee.
    rows: list[re.Match[str]] = []
    for m in matches:
        if rows and m.start() < rows[-1].end():
            continue
        rows.append(m)
    if not rows:
        problems.append(f"{field}: no channel row recognised in '{_short(body)}'")
        return (), problems
    if rows[0].start() > 0:
        problems.append(
            f"{field}: text before the first channel ignored: '{_short(body[: rows[0].start()])}'"
        )

    channels: list[Channel] = []
    for i, m in enumerate(rows):
        kind = _CHANNEL_NAMES[
            next(k for k in _CHANNEL_NAMES if k.casefold() == m["kind"].casefold())
        ]
        label = m["kind"]
        end = rows[i + 1].start() if i + 1 < len(rows) else len(body)
        rest = body[m.end() : end]
        fee_raw = m["fee"]
        time_value: float | None = None
        time_unit: TimeUnit | None = None
        fee_vnd: int | None = None
        fee_text = clean(fee_raw)

        if m["num"] is not None:
            time_value = float(m["num"].replace(",", "."))
            time_unit = _UNITS[m["unit"].casefold()]
        elif m["bare"] is not None:
            value = float(m["bare"])
            if value > 0:
                time_value = value
            problems.append(f"{field}: channel '{label}' time '{m['bare']}' has no unit")
        elif m["free"] is not None:
            problems.append(f"{field}: channel '{label}' time is text: '{_short(m['free'])}'")
        elif m["noinfo"] is None and not fee_raw[:1].isdigit():
            problems.append(f"{field}: channel '{label}' has no time")

        amount = _FEE_AMOUNT.fullmatch(fee_raw)
        if fee_raw.casefold() == "miễn phí":
            fee_vnd = 0
        elif amount is not None:
            digits, currency = amount.group(1), amount.group(2)
            glued = (
                m["num"] is None and m["noinfo"] is None and m["bare"] is None and m["free"] is None
            )
            if glued:
                problems.append(
                    f"{field}: channel '{label}' time and fee digits run together: '{fee_text}'"
                )
            elif currency.upper() == "USD":
                problems.append(f"{field}: channel '{label}' fee not in VNĐ: '{fee_text}'")
            else:
                value_vnd = _amount_to_int(digits)
                if value_vnd is None:
                    problems.append(
                        f"{field}: channel '{label}' fee amount unreadable: '{fee_text}'"
                    )
                elif 0 < value_vnd < 1000:
                    problems.append(
                        f"{field}: channel '{label}' fee implausibly small: '{fee_text}'"
                    )
                else:
                    fee_vnd = value_vnd

        # A parenthesised note right after the fee belongs to the fee ("Miễn phí(Không có)").
        note = ""
        if rest.startswith("("):
            close = _balanced_parenthesis(rest, 0)
            if close > 0:
                note = rest[1 : close - 1]
                rest = rest[close:]
        note = clean(note.strip("() "))
        if note:
            fee_text = f"{fee_text} ({note})"
        channels.append(
            Channel(
                kind=kind,
                time_value=time_value,
                time_unit=time_unit,
                fee_vnd=fee_vnd,
                fee_text=fee_text,
                description=clean(rest),
            )
        )
    return tuple(channels), problems


def processing_days(channels: Iterable[Channel]) -> int | None:
    """Working days: the online channel's if known, else the shortest known (rule above)."""
    known = [
        (c.kind, _to_days(c.time_value, c.time_unit))
        for c in channels
        if c.time_value is not None and c.time_unit is not None and c.time_value > 0
    ]
    online = [days for kind, days in known if kind == "online"]
    if online:
        return min(online)
    return min((days for _, days in known), default=None)


_UNIT_WORDS: dict[TimeUnit, str] = {
    "working_day": "Ngày làm việc",
    "day": "Ngày",
    "hour": "Giờ",
    "month": "Tháng",
    "year": "Năm",
}
_CHANNEL_LABELS = {kind: label for label, kind in _CHANNEL_NAMES.items()}


def _deadline_in_text(number: int) -> re.Pattern[str]:
    """`number` and a unit where the text says how long the agency has from receiving the
    dossier: "Trong thời hạn 03 ngày làm việc, kể từ ngày nhận đủ hồ sơ hợp lệ". Checked on
    the channels that state their unit (2026 crawl): of 1,672 stated times this reading finds
    in the text, 1,579 get the stated unit and 93 days for working days or the reverse (they
    count the same), none another unit. A date ("ngày 04 tháng 6 năm 2021") or a time not
    counted from receiving the dossier is not read."""
    return re.compile(
        rf"(?<![\d.,/])0*{number}\s?(?P<unit>ngày làm việc|ngày|giờ|tháng|năm),?\s?"
        r"(?:\([^)]{0,80}\)\s?)?(?:kể từ|tính từ)\s?(?:ngày|khi|thời điểm|lúc)?\s?"
        r"(?:cơ quan [^,.;]{0,60}\s)?(?:nhận|tiếp nhận)",
        re.IGNORECASE,
    )


def _unit_from_text(numbers: Iterable[int], text: str) -> tuple[TimeUnit, str] | None:
    """The one unit the page text gives these numbers (working days when it writes both days
    and working days: they count the same), and the words it came from."""
    found: dict[TimeUnit, str] = {}
    for number in sorted(set(numbers)):
        for m in _deadline_in_text(number).finditer(text):
            found.setdefault(_UNITS[m["unit"].casefold()], clean(m.group(0)))
    if set(found) == {"working_day", "day"}:
        found.pop("day")
    if len(found) != 1:
        return None
    ((unit, words),) = found.items()
    return unit, words


def processing_time(channels: Iterable[Channel], page_text: str = "") -> ProcessingTime:
    """The processing time by the rule of this module's docstring."""
    channels = tuple(channels)
    stated = processing_days(channels)
    if stated is not None:
        return ProcessingTime(stated, "stated")
    unitless = [c for c in channels if c.time_value and c.time_unit is None]
    if not unitless:  # "Không có thông tin", a text, digits run into the fee, no channel
        return ProcessingTime(None, "unknown", "no channel gives a number")
    numbers = " / ".join(dict.fromkeys(f"{c.time_value:g}" for c in unitless))
    units = {c.time_unit for c in channels if c.time_unit is not None}
    source: ProcessingTimeSource
    if len(units) == 1:
        (unit,) = units
        donor = next(c for c in channels if c.time_unit == unit)
        source = "inferred_unit_from_channel"
        basis = f"{numbers}: the unit of channel '{_CHANNEL_LABELS[donor.kind]}'"
    elif found := _unit_from_text((int(c.time_value or 0) for c in unitless), clean(page_text)):
        unit, words = found
        source, basis = "inferred_unit_from_text", f"{numbers}: the page says '{_short(words)}'"
    else:
        unit, source = "working_day", "assumed_working_days"
        basis = f"{numbers}: no unit anywhere; working days assumed"
    resolved = [
        Channel(c.kind, c.time_value, unit, c.fee_vnd, c.fee_text, c.description)
        if c in unitless
        else c
        for c in channels
    ]
    return ProcessingTime(processing_days(resolved), source, f"{basis} ({_UNIT_WORDS[unit]})")


# --------------------------------------------------------------------------- components

_COMPONENT_HEADER = "Tên giấy tờMẫu đơn, tờ khaiSố lượng"
_COPY = r"\d+\s?bản\s(?:chính|sao|chụp)"
# A count cell ends a row: it is followed by the end or straight by the next cell (no space).
# A count straight before another count ("...: 01 bản chính1 bản chính") is part of the name.
_COUNT = re.compile(rf"{_COPY}(?:\s?,\s?{_COPY})*(?=$|[^\s,.;:)/])(?!{_COPY})")
# The extension may be followed straight by the next file name ("...01.docxPhlcs05...").
_EXTENSION = re.compile(r"\.(?:docx?|pdf|xlsx?|rtf|zip|DOCX?|PDF|XLSX?|RTF|ZIP)(?![a-z0-9])")
_STRONG = ".;:)]"
_LIST_MARKER = re.compile(
    r"^(?:[-+*•]+\s*|\(?[a-zđ]\)\s*|\(?[ivx]+\)\s*|\(?\d+(?:\.\d+)*[.)]\s*)+", re.IGNORECASE
)
_CONDITIONAL_START = ("trường hợp", "nếu", "đối với trường hợp", "riêng")
_CONDITIONAL_ANYWHERE = ("(nếu có)", "nếu có", "trong trường hợp", "đối với trường hợp")


def _is_strong(s: str, p: int) -> bool:
    """A punctuation cell break before s[p]: ". ; : ) ]" with no space on either side."""
    prev, cur = s[p - 1], s[p]
    if cur.isspace() or prev not in _STRONG:
        return False
    if prev == ".":
        nxt = s[p + 1] if p + 1 < len(s) else ""
        before = s[p - 2] if p >= 2 else ""
        return (cur.isupper() and (nxt.islower() or nxt == " ")) or before.islower()
    return True


def _is_weak(s: str, p: int, crossing: bool) -> bool:
    """A case cell break before s[p]: "sảnMau", "2026Mau", "BNNPTNTPhụ" (and "định1." when
    `crossing` spaces back from the file name)."""
    prev, cur = s[p - 1], s[p]
    nxt = s[p + 1] if p + 1 < len(s) else ""
    if prev.isspace() or cur.isspace():
        return False
    if prev.islower() and cur.isupper():
        return True
    if (prev.isdigit() or prev.isupper()) and cur.isupper() and nxt.islower():
        return True
    return crossing and prev.islower() and cur.isdigit()


def _form_start(s: str, lo: int, x: int, after_form: bool) -> int:
    """Where the form file name ending with the extension at s[x] starts, not before lo (the end
    of the previous file name when `after_form`, else the start of the row)."""
    token_start = lo
    for p in range(x - 1, lo - 1, -1):
        if s[p].isspace():
            token_start = p + 1
            break
    strong = [p for p in range(token_start + 1, x) if _is_strong(s, p)]
    if strong:
        return strong[-1]
    weak = [p for p in range(token_start + 1, x) if _is_weak(s, p, crossing=False)]
    if token_start == lo:
        return lo if after_form or not weak else weak[0]
    if weak:
        return weak[0]
    for p in range(token_start - 1, lo, -1):
        if _is_strong(s, p) or _is_weak(s, p, crossing=True):
            return p
    return lo if after_form else token_start


def _split_forms(cell: str) -> tuple[str, tuple[str, ...]]:
    """The document name and the form file names glued after it."""
    forms: list[tuple[int, int]] = []
    lo = 0
    for m in _EXTENSION.finditer(cell):
        start = _form_start(cell, lo, m.start(), after_form=bool(forms))
        if start >= m.start():
            continue
        forms.append((start, m.end()))
        lo = m.end()
    if not forms:
        return cell, ()
    name_parts: list[str] = []
    prev = 0
    for start, end in forms:
        name_parts.append(cell[prev:start])
        prev = end
    name_parts.append(cell[prev:])
    names = tuple(clean(cell[a:b]) for a, b in forms)
    return " ".join(p for p in name_parts if p.strip()), names


def _group_name(heading: str) -> str | None:
    heading = clean(heading).strip("-* ").rstrip(": ").strip()
    return clean(heading) or None


def _is_conditional(name: str, group: str | None) -> bool:
    bare = _LIST_MARKER.sub("", name).casefold()
    if bare.startswith(_CONDITIONAL_START) or any(w in bare for w in _CONDITIONAL_ANYWHERE):
        return True
    return group is not None and group.casefold().startswith(("trường hợp", "nếu"))


def _quantity(count: str) -> tuple[str, bool]:
    """("1 bản chính, 1 bản sao", any non-zero)."""
    parts = [clean(p) for p in count.split(",")]
    parts = [re.sub(r"(\d+)\s?bản", r"\1 bản", p) for p in parts if p]
    # each part is a `_COPY` match, so it starts with its number: re.match finds it
    nonzero = any(int(re.match(r"\d+", p).group(0)) > 0 for p in parts)  # type: ignore[union-attr]
    return ", ".join(parts), nonzero


def parse_components(text: str) -> tuple[tuple[Component, ...], list[str]]:
    field = "thanh_phan_ho_so"
    problems: list[str] = []
    body = clean(text)
    if not body or body == NO_INFO:
        problems.append(f"{field}: no component")
        return (), problems
    header = clean(_COMPONENT_HEADER)
    segments = body.split(header)
    if len(segments) == 1:
        problems.append(f"{field}: table header missing, not parsed")
        return (), problems

    components: list[Component] = []
    heading = segments[0]
    for index, segment in enumerate(segments[1:], start=1):
        group = _group_name(heading)
        present_only = (
            group is not None
            and "xuất trình" in group.casefold()
            and ("nộp" not in group.casefold())
        )
        notes = group is not None and group.casefold().startswith("lưu ý")
        last = index == len(segments) - 1
        counts = list(_COUNT.finditer(segment))
        pos = 0
        for m in counts:
            cell = segment[pos : m.start()]
            pos = m.end()
            name, forms = _split_forms(cell)
            name = clean(name)
            name = clean(re.sub(r"^-\s*", "", name))
            quantity, nonzero = _quantity(m.group(0))
            if not name:
                problems.append(f"{field}: row without a name (count '{quantity}')")
                continue
            components.append(
                Component(
                    name=name,
                    group=group,
                    quantity=quantity,
                    required=nonzero
                    and not present_only
                    and not notes
                    and not _is_conditional(name, group),
                    present_only=present_only,
                    form_names=forms,
                )
            )
        tail = segment[pos:]
        if last:
            if clean(tail).strip("-"):
                problems.append(f"{field}: text after the last count ignored: '{_short(tail)}'")
        else:
            heading = tail
        if not counts and clean(segment[: len(segment) - len(tail)] if not last else tail):
            problems.append(f"{field}: table without any count")
    return tuple(components), problems


# --------------------------------------------------------------------------- legal basis

_LEGAL_HEADER = "Tên văn bản pháp lýMã văn bản"
_LOWER = "a-zàáảãạăằắẳẵặâầấẩẫậèéẻẽẹêềếểễệìíỉĩịòóỏõọôồốổỗộơờớởỡợùúủũụưừứửữựỳýỷỹỵđ"
# A segment of a code's issuer part: "QH13", "TTg", "NĐ", "BTC" — but not the capital that starts
# the next title ("BTCNghị định": the N is the title's).
_CODE_TAIL = rf"(?:QH\d{{2}}|TTg|(?:[A-ZĐ0-9](?![{_LOWER}]))+)"
_CODE = (
    rf"\d+(?:\.\d+)?/(?:\d{{4}}/)?{_CODE_TAIL}(?:[-/]{_CODE_TAIL})*"
    r"|\d+/\d{4}(?=$|[A-ZĐ])"  # number and year only: "...giá trị24/2024"
)
# A code cell ends the row: it is followed by the end, straight by the next title (no space, no
# punctuation), or by a space and a capital. It may start with its kind ("Luật 47/2014/QH13").
_CODE_CELL = re.compile(rf"(?P<code>(?>{_CODE}))(?=$|[^\s,.;:)/\-]|\s+[A-ZĐ])")
_CODE_PREFIX = re.compile(
    r"(?:Luật|Bộ luật|Nghị định|Nghị quyết|Thông tư liên tịch|Thông tư|Quyết định|Pháp lệnh|"
    r"Văn bản hợp nhất|Chỉ thị|Công văn)(?: số)?\s?$"
)


def parse_legal_basis(text: str) -> tuple[tuple[LegalDocument, ...], list[str]]:
    field = "can_cu_phap_ly"
    problems: list[str] = []
    body = clean(text)
    if not body or body == NO_INFO:
        problems.append(f"{field}: no legal basis")
        return (), problems
    header = clean(_LEGAL_HEADER)
    if body.startswith(header):
        body = body[len(header) :]
    else:
        problems.append(f"{field}: table header missing")
    documents: list[LegalDocument] = []
    pos = 0
    for m in _CODE_CELL.finditer(body):
        title = body[pos : m.start()]
        pos = m.end()
        # The code cell may start with its kind glued to the title: "...tại Việt NamLuật 47/...".
        prefix = _CODE_PREFIX.search(title)
        if prefix and prefix.start() > 0 and not title[prefix.start() - 1].isspace():
            title = title[: prefix.start()]
        title = clean(title)
        code = clean(m.group("code"))
        if not title and documents and documents[-1].code == code:
            # "Luật 60/2014/QH13" + "60/2014/QH13": the title was the kind and the code.
            previous = documents.pop()
            title = f"{previous.title} {code}"
        documents.append(LegalDocument(title=title or code, code=code))
    tail = clean(body[pos:])
    if tail:
        problems.append(f"{field}: row without a code: '{_short(tail)}'")
        documents.append(LegalDocument(title=tail, code=None))
    return tuple(documents), problems


# --------------------------------------------------------------------------- other fields

_RESULT_END = re.compile(r"Mã:\s?KQ\.|Từ khóa|Chọn cơ quan thực hiện")
_STEP_BREAK = re.compile(r"\n+|(?<=[.;:])\s*(?=Bước\s\d+\s?[:.])|(?<=[.;:])\s*(?=-\s)")


def parse_steps(text: str) -> tuple[str, ...]:
    steps: list[str] = []
    for part in _STEP_BREAK.split(text or ""):
        step = clean(part)
        step = clean(re.sub(r"^[-–]\s*", "", step))
        if step and step != NO_INFO:
            steps.append(step)
    return tuple(steps)


def parse_result(text: str) -> str | None:
    body = clean(text)
    m = _RESULT_END.search(body)
    if m:
        body = body[: m.start()]
    return _optional(body)


def _tiers(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    tiers: list[str] = []
    others: list[str] = []
    for part in text.split(","):
        part = clean(part)
        if not part:
            continue
        key = part.casefold()
        if key == "cấp tỉnh":
            tiers.append("province")
        elif key == "cấp xã":
            tiers.append("commune")
        else:
            others.append(part)
    return tuple(dict.fromkeys(tiers)), tuple(dict.fromkeys(others))


# --------------------------------------------------------------------------- records


def parse_record(raw: Mapping[str, Any]) -> ParsedProcedure:
    """One crawled record; never raises on missing or malformed fields (they become problems)."""
    problems: list[str] = []
    code = _text(raw, "ma_thu_tuc")
    name = _text(raw, "ten_thu_tuc")
    if not code:
        problems.append("ma_thu_tuc: missing")
    if not name:
        problems.append("ten_thu_tuc: missing")

    tiers, other_tiers = _tiers(_text(raw, "cap_thuc_hien"))
    if not tiers:
        problems.append("cap_thuc_hien: neither Cấp tỉnh nor Cấp xã")

    field_name = _text(raw, "linh_vuc")
    if not field_name:
        problems.append("linh_vuc: missing")

    competent = _optional(_text(raw, "co_quan_co_tham_quyen"))
    performing = _optional(_text(raw, "co_quan_thuc_hien")) or competent
    if performing is None:
        problems.append("co_quan_thuc_hien: no performing agency")

    channels, channel_problems = parse_channels(_raw_str(raw, "cach_thuc_thuc_hien"))
    problems += channel_problems
    components, component_problems = parse_components(_raw_str(raw, "thanh_phan_ho_so"))
    problems += component_problems
    legal_basis, legal_problems = parse_legal_basis(_raw_str(raw, "can_cu_phap_ly"))
    problems += legal_problems

    steps = parse_steps(_raw_str(raw, "trinh_tu_thuc_hien"))
    if not steps:
        problems.append("trinh_tu_thuc_hien: no step")
    result = parse_result(_raw_str(raw, "ket_qua_xu_ly"))
    if result is None:
        problems.append("ket_qua_xu_ly: no result")

    has_online = any(c.kind == "online" for c in channels)
    online: OnlineLevel = (
        "full" if has_online and not any(c.present_only for c in components) else "partial"
    )
    return ParsedProcedure(
        code=code,
        name=name,
        tiers=tiers,
        other_tiers=other_tiers,
        field_name=field_name,
        decision=_optional(_text(raw, "so_quyet_dinh")),
        kind=_optional(_text(raw, "loai_thu_tuc")),
        subjects=_optional(_text(raw, "doi_tuong_thuc_hien")),
        performing_agency=performing,
        competent_agency=competent,
        channels=channels,
        processing_time=processing_time(
            channels, _raw_str(raw, "raw_text") or _raw_str(raw, "trinh_tu_thuc_hien")
        ),
        steps=steps,
        legal_basis=legal_basis,
        conditions=_optional(_text(raw, "yeu_cau_dieu_kien")),
        result=result,
        components=components,
        online=online,
        source_url=_text(raw, "detail_url"),
        problems=tuple(problems),
    )


def _raw_str(raw: Mapping[str, Any], key: str) -> str:
    """The field as a string, newlines kept (steps are split on them)."""
    value = raw.get(key)
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)
