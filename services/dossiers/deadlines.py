"""Processing deadlines in Vietnamese working days (ngày làm việc). Pure functions, no I/O.

A working day is Monday to Friday, not a public holiday of Vietnam as the maintained
`holidays` library knows them (`holidays.country_holidays("VN")`, category "public").
Checked against holidays 0.109 for 2025–2027, that covers:

- New Year's Day (1/1); Liberation Day (30/4); International Labour Day (1/5);
  National Day (2/9 and the day next to it — 1/9 or 3/9 — as the Labour Code grants since 2021);
- Tết Nguyên Đán by the lunar calendar, as the government's actual break for civil servants:
  2025 27/1–31/1 (+ 1/2, a Saturday), 2026 16/2–20/2 (the 14/2–22/2 break), 2027 4/2–10/2;
- Hùng Kings' Commemoration Day (10/3 lunar): 7/4/2025, 26/4/2026 (a Sunday) with its
  observed day off Monday 27/4/2026, 16/4/2027;
- observed days off when a holiday falls on a weekend (e.g. Monday 3/5/2027 for 1/5/2027);
- the government's swapped days off ("Day off (substituted from …)"): Friday 2/5/2025
  (worked on Saturday 26/4/2025) and Monday 31/8/2026 (worked on Saturday 22/8/2026);
- Vietnam Culture Day (24/11) from 2026.

Not covered: the Saturdays worked in exchange for a swapped day off (26/4/2025, 22/8/2026)
are *not* counted as working days here — Saturdays never are — so a deadline spanning such a
swap comes one day later than by the official calendar (in the filer's favour). Holidays the
government decides after the library's release are unknown until the library is upgraded.

Deadlines are counted in the province's local time (Asia/Ho_Chi_Minh): a dossier received on
a day is counted from the next working day, and its due moment is the end of the office day
(17:00 local) of the last working day, returned as an aware UTC datetime. Naive datetimes
are taken as UTC, as the database layer stores them.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

from services.kernel.contracts import PROCESSING_TIME_UNKNOWN

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
END_OF_OFFICE_DAY = dt.time(17, 0)

__all__ = [
    "END_OF_OFFICE_DAY",
    "LOCAL_TZ",
    "add_working_days",
    "deadline_note",
    "holidays_of",
    "is_overdue",
    "is_working_day",
    "local_date",
    "working_days_between",
]


@lru_cache(maxsize=64)
def holidays_of(year: int) -> frozenset[dt.date]:
    """Vietnam's public holidays (observed and swapped days off included) of one year."""
    return frozenset(holidays.country_holidays("VN", years=year))


def is_working_day(d: dt.date) -> bool:
    """Monday to Friday and not a public holiday."""
    return d.weekday() < 5 and d not in holidays_of(d.year)


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def local_date(moment: dt.datetime) -> dt.date:
    """The calendar date of `moment` in Hà Tĩnh (naive moments are UTC)."""
    return _aware(moment).astimezone(LOCAL_TZ).date()


def _next_working_day(d: dt.date) -> dt.date:
    d += dt.timedelta(days=1)
    while not is_working_day(d):
        d += dt.timedelta(days=1)
    return d


def add_working_days(start: dt.datetime, days: int) -> dt.datetime:
    """The due moment of something received at `start` with `days` working days to do it:
    counting starts the working day after `start`'s local date, and the result is 17:00 local
    of the `days`-th working day, as an aware UTC datetime. With `days` == 0 it is 17:00 local
    of `start`'s own date (the same-day case)."""
    if days < 0:
        raise ValueError("days must not be negative")
    d = local_date(start)
    for _ in range(days):
        d = _next_working_day(d)
    return dt.datetime.combine(d, END_OF_OFFICE_DAY, tzinfo=LOCAL_TZ).astimezone(dt.UTC)


def working_days_between(a: dt.datetime, b: dt.datetime) -> int:
    """Working days strictly after `a`'s local date up to and including `b`'s local date;
    0 when `b` is not after `a`. Used to pause the clock while a supplement is requested:
    `due_at = add_working_days(received_at, processing_days + paused_working_days)`."""
    if _aware(b) <= _aware(a):
        return 0
    start, end = local_date(a), local_date(b)
    count = 0
    d = start + dt.timedelta(days=1)
    while d <= end:
        if is_working_day(d):
            count += 1
        d += dt.timedelta(days=1)
    return count


def is_overdue(due_at: dt.datetime, now: dt.datetime) -> bool:
    """Past the due moment (a dossier due at 17:00 is on time until 17:00 inclusive)."""
    return _aware(now) > _aware(due_at)


def deadline_note(processing_days: int | None) -> str | None:
    """What to read instead of a due date when the procedure has no processing time."""
    return PROCESSING_TIME_UNKNOWN if processing_days is None else None
