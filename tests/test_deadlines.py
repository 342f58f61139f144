"""Working-day deadlines on Vietnam's real 2026 calendar, and properties over random dates."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from services.dossiers.deadlines import (
    LOCAL_TZ,
    add_working_days,
    holidays_of,
    is_overdue,
    is_working_day,
    local_date,
    working_days_between,
)

UTC = dt.UTC


def local(y: int, m: int, d: int, hh: int = 9, mm: int = 0) -> dt.datetime:
    return dt.datetime(y, m, d, hh, mm, tzinfo=LOCAL_TZ)


def due(y: int, m: int, d: int) -> dt.datetime:
    """17:00 in Hà Tĩnh is 10:00 UTC (no daylight saving)."""
    return dt.datetime(y, m, d, 10, 0, tzinfo=UTC)


def test_the_library_knows_tet_2026_as_the_governments_break() -> None:
    tet = {d for d in holidays_of(2026) if dt.date(2026, 2, 1) <= d <= dt.date(2026, 2, 28)}
    # The 2026 Tết break ran Saturday 14/2 to Sunday 22/2: Monday 16/2 to Friday 20/2 off.
    assert tet == {dt.date(2026, 2, d) for d in range(16, 21)}
    assert is_working_day(dt.date(2026, 2, 13))
    assert is_working_day(dt.date(2026, 2, 23))


def test_a_dossier_received_the_day_before_tet_is_due_after_the_break() -> None:
    friday_before_tet = local(2026, 2, 13, 15, 30)
    assert add_working_days(friday_before_tet, 1) == due(2026, 2, 23)
    assert add_working_days(friday_before_tet, 3) == due(2026, 2, 25)
    # Received during the break: counting starts on the first day back.
    assert add_working_days(local(2026, 2, 18), 1) == due(2026, 2, 23)


def test_reunification_and_labour_day_2026() -> None:
    assert not is_working_day(dt.date(2026, 4, 30))  # Thursday
    assert not is_working_day(dt.date(2026, 5, 1))  # Friday
    assert add_working_days(local(2026, 4, 29), 1) == due(2026, 5, 4)
    assert add_working_days(local(2026, 4, 29), 2) == due(2026, 5, 5)


def test_national_day_2026_with_the_swapped_day_off() -> None:
    # 2/9 (Wednesday) and 1/9; Monday 31/8 is off in exchange for Saturday 22/8.
    for day in (dt.date(2026, 8, 31), dt.date(2026, 9, 1), dt.date(2026, 9, 2)):
        assert not is_working_day(day)
    assert add_working_days(local(2026, 8, 28), 1) == due(2026, 9, 3)
    assert add_working_days(local(2026, 8, 27), 2) == due(2026, 9, 3)
    assert add_working_days(local(2026, 9, 2), 1) == due(2026, 9, 3)


def test_hung_kings_day_2026_falls_on_sunday_and_is_observed_on_monday() -> None:
    # 10/3 of the lunar calendar is Sunday 26/4/2026; Monday 27/4 is the day off.
    assert dt.date(2026, 4, 26) in holidays_of(2026)
    assert not is_working_day(dt.date(2026, 4, 27))
    assert add_working_days(local(2026, 4, 24), 1) == due(2026, 4, 28)
    # Then 30/4 and 1/5: 28, 29 April and 4 May are the next working days.
    assert add_working_days(local(2026, 4, 24), 3) == due(2026, 5, 4)


def test_weekends() -> None:
    assert add_working_days(local(2026, 3, 6), 1) == due(2026, 3, 9)  # Friday → Monday
    assert add_working_days(local(2026, 3, 7), 1) == due(2026, 3, 9)  # Saturday → Monday
    assert add_working_days(local(2026, 3, 8), 1) == due(2026, 3, 9)  # Sunday → Monday
    assert add_working_days(local(2026, 3, 2), 5) == due(2026, 3, 9)  # Monday + 5
    assert add_working_days(local(2026, 3, 2), 10) == due(2026, 3, 16)
    assert add_working_days(local(2026, 3, 4), 0) == due(2026, 3, 4)


def test_the_local_date_decides_not_the_utc_one() -> None:
    # 23:30 UTC on Thursday 5/3 is already Friday 6/3 in Hà Tĩnh.
    late = dt.datetime(2026, 3, 5, 23, 30, tzinfo=UTC)
    assert local_date(late) == dt.date(2026, 3, 6)
    assert add_working_days(late, 1) == due(2026, 3, 9)
    # Naive moments are UTC, as the database layer stores them.
    assert add_working_days(late.replace(tzinfo=None), 1) == due(2026, 3, 9)
    assert add_working_days(late, 1).tzinfo is UTC


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError):
        add_working_days(local(2026, 3, 2), -1)


def test_working_days_between() -> None:
    assert working_days_between(local(2026, 3, 2), local(2026, 3, 2, 16)) == 0
    assert working_days_between(local(2026, 3, 2), local(2026, 3, 3)) == 1
    assert working_days_between(local(2026, 3, 3), local(2026, 3, 2)) == 0
    assert working_days_between(local(2026, 3, 3), local(2026, 3, 3)) == 0
    assert working_days_between(local(2026, 2, 13), local(2026, 2, 23)) == 1  # across Tết
    assert working_days_between(local(2026, 4, 29), local(2026, 5, 4)) == 1


def test_a_supplement_pause_spanning_a_weekend_moves_the_due_date() -> None:
    received = local(2026, 3, 2, 8)  # Monday, 5 working days: due Monday 9/3
    assert add_working_days(received, 5) == due(2026, 3, 9)
    requested, resent = local(2026, 3, 5, 10), local(2026, 3, 10, 14)  # Thursday → Tuesday
    paused = working_days_between(requested, resent)
    assert paused == 3  # Friday 6, Monday 9, Tuesday 10 — not the weekend
    assert add_working_days(received, 5 + paused) == due(2026, 3, 12)


def test_is_overdue() -> None:
    at = due(2026, 3, 9)
    assert not is_overdue(at, at)
    assert not is_overdue(at, at - dt.timedelta(minutes=1))
    assert is_overdue(at, at + dt.timedelta(seconds=1))
    assert is_overdue(at, local(2026, 3, 10, 8))
    assert not is_overdue(at, local(2026, 3, 9, 16, 59))


def _random_moment(rng: random.Random) -> dt.datetime:
    start = dt.datetime(2025, 1, 1, tzinfo=UTC)
    return start + dt.timedelta(seconds=rng.randrange(3 * 365 * 24 * 3600))


def _slow_count(a: dt.date, b: dt.date) -> int:
    """The reference: walk the calendar, skip weekends and the library's holidays."""
    return sum(
        1
        for n in range(1, (b - a).days + 1)
        if (d := a + dt.timedelta(days=n)).weekday() < 5 and d not in holidays_of(d.year)
    )


def test_property_the_due_date_is_a_working_day_exactly_days_later() -> None:
    rng = random.Random(20260213)
    for _ in range(2000):
        start = _random_moment(rng)
        days = rng.randint(1, 60)
        due_at = add_working_days(start, days)
        assert due_at.tzinfo is UTC
        local_due = due_at.astimezone(LOCAL_TZ)
        assert local_due.time() == dt.time(17, 0)
        assert is_working_day(local_due.date())
        assert local_due.date() > local_date(start)
        assert working_days_between(start, due_at) == days
        assert _slow_count(local_date(start), local_due.date()) == days
        # The day before the due date still leaves one working day to go.
        assert working_days_between(start, due_at - dt.timedelta(days=1)) == days - 1


def test_property_pauses_add_up() -> None:
    rng = random.Random(42)
    for _ in range(1000):
        a = _random_moment(rng)
        b = a + dt.timedelta(seconds=rng.randrange(90 * 24 * 3600))
        c = b + dt.timedelta(seconds=rng.randrange(90 * 24 * 3600))
        ab, bc, ac = (
            working_days_between(a, b),
            working_days_between(b, c),
            working_days_between(a, c),
        )
        assert ab + bc == ac
        assert ab == _slow_count(local_date(a), local_date(b))
        assert working_days_between(b, a) == 0
