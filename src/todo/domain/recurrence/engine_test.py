from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo

import pytest

# The stubs (types-python-dateutil) are not installed everywhere mypy runs; this line has to
# pass with and without them.
from dateutil import rrule as du  # type: ignore[import-untyped, unused-ignore]

from todo.domain.recurrence import (
    RecurrenceBasis,
    RecurrenceRule,
    RecurrenceUncomputable,
    next_occurrence,
)

FREQUENCIES: dict[str, Literal[0, 1, 2, 3]] = {
    "daily": du.DAILY,
    "weekly": du.WEEKLY,
    "monthly": du.MONTHLY,
    "yearly": du.YEARLY,
}
NY = "America/New_York"
BERLIN = "Europe/Berlin"
Z = "UTC"


def at(zone: str, y: int, mo: int, d: int, h: int = 9, mi: int = 0, *, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone), fold=fold)


def rule(**kwargs: Any) -> RecurrenceRule:
    return RecurrenceRule.model_validate(kwargs)


def days(*names: str) -> list[dict[str, Any]]:
    """by_day entries from RRULE spellings: days("MO", "-2FR")."""
    return [
        {"weekday": name[-2:], "ordinal": int(name[:-2])} if name[:-2] else {"weekday": name}
        for name in names
    ]


def chain(r: RecurrenceRule, start: datetime, zone: str, n: int) -> list[datetime]:
    """Up to `n` due dates, walking next_occurrence as the worker does (each done when due)."""
    dues = [start]
    while len(dues) < n:
        following = next_occurrence(
            r,
            series_start=start,
            current_due=dues[-1],
            time_zone=zone,
            occurrence_number=len(dues),
            completed_at=dues[-1] if r.basis is RecurrenceBasis.COMPLETION else None,
        )
        if following is None:
            break
        assert following.number == len(dues) + 1
        dues.append(following.due_at)
    return dues


def wall(dt: datetime) -> tuple[int, int, int, int, int]:
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute)


def hours_offset(dt: datetime) -> float:
    offset = dt.utcoffset()
    assert offset is not None
    return offset / timedelta(hours=1)


def after(r: RecurrenceRule, start: datetime, due: datetime, number: int, zone: str = Z) -> Any:
    following = next_occurrence(
        r, series_start=start, current_due=due, time_zone=zone, occurrence_number=number
    )
    return None if following is None else following.due_at


# --- schedules ---------------------------------------------------------------------------------

LAST = {"missing_day": "last_day"}


@pytest.mark.parametrize(
    ("kwargs", "start", "expected_days"),
    [
        # daily
        ({"frequency": "daily"}, (2026, 1, 5), [(2026, 1, 5), (2026, 1, 6), (2026, 1, 7)]),
        (
            {"frequency": "daily", "interval": 3},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 2, 2), (2026, 2, 5), (2026, 2, 8)],
        ),
        (
            {"frequency": "daily"},
            (2028, 2, 27),
            [(2028, 2, 27), (2028, 2, 28), (2028, 2, 29), (2028, 3, 1)],
        ),
        # daily, limited: the last day of February
        (
            {"frequency": "daily", "by_month": [2], "by_month_day": [-1]},
            (2026, 1, 5),
            [(2026, 1, 5), (2026, 2, 28), (2027, 2, 28), (2028, 2, 29)],
        ),
        # weekly: the start's weekday when none given
        (
            {"frequency": "weekly"},
            (2026, 1, 7),
            [(2026, 1, 7), (2026, 1, 14), (2026, 1, 21)],
        ),
        (
            {"frequency": "weekly", "interval": 2, "by_day": days("MO", "WE")},
            (2026, 1, 5),
            [(2026, 1, 5), (2026, 1, 7), (2026, 1, 19), (2026, 1, 21), (2026, 2, 2)],
        ),
        (
            {"frequency": "weekly", "by_day": days("TU", "SU")},
            (2026, 1, 6),
            [(2026, 1, 6), (2026, 1, 11), (2026, 1, 13), (2026, 1, 18)],
        ),
        # every weekday, across a weekend
        (
            {"frequency": "weekly", "by_day": days("MO", "TU", "WE", "TH", "FR")},
            (2026, 1, 8),
            [(2026, 1, 8), (2026, 1, 9), (2026, 1, 12), (2026, 1, 13)],
        ),
        # a start that is not one of the weekdays still is occurrence 1
        (
            {"frequency": "weekly", "by_day": days("MO")},
            (2026, 1, 4),
            [(2026, 1, 4), (2026, 1, 5), (2026, 1, 12)],
        ),
        # weekly in some months only
        (
            {"frequency": "weekly", "by_month": [3], "by_day": days("FR")},
            (2026, 3, 20),
            [(2026, 3, 20), (2026, 3, 27), (2027, 3, 5), (2027, 3, 12)],
        ),
        # monthly on the 31st: months without one are skipped (RFC 5545) ...
        (
            {"frequency": "monthly"},
            (2026, 1, 31),
            [(2026, 1, 31), (2026, 3, 31), (2026, 5, 31), (2026, 7, 31), (2026, 8, 31)],
        ),
        (
            {"frequency": "monthly", "interval": 2},
            (2026, 7, 31),
            [(2026, 7, 31), (2027, 1, 31), (2027, 3, 31), (2027, 5, 31), (2027, 7, 31)],
        ),
        # ... or fall back to the month's last day, then return to the 31st
        (
            {"frequency": "monthly", **LAST},
            (2026, 1, 31),
            [(2026, 1, 31), (2026, 2, 28), (2026, 3, 31), (2026, 4, 30), (2026, 5, 31)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [31], **LAST},
            (2027, 12, 31),
            [(2027, 12, 31), (2028, 1, 31), (2028, 2, 29), (2028, 3, 31), (2028, 4, 30)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [31], **LAST},
            (2026, 1, 15),
            [(2026, 1, 15), (2026, 1, 31), (2026, 2, 28), (2026, 3, 31)],
        ),
        (
            {"frequency": "monthly", "interval": 2, **LAST},
            (2026, 7, 31),
            [(2026, 7, 31), (2026, 9, 30), (2026, 11, 30), (2027, 1, 31)],
        ),
        # the 30th and the 29th
        (
            {"frequency": "monthly"},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 3, 30), (2026, 4, 30)],
        ),
        (
            {"frequency": "monthly", **LAST},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 2, 28), (2026, 3, 30), (2026, 4, 30)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [30], **LAST},
            (2028, 1, 30),
            [(2028, 1, 30), (2028, 2, 29), (2028, 3, 30)],
        ),
        (
            {"frequency": "monthly"},
            (2027, 1, 29),
            [(2027, 1, 29), (2027, 3, 29), (2027, 4, 29)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [29]},
            (2028, 1, 29),
            [(2028, 1, 29), (2028, 2, 29), (2028, 3, 29)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [15]},
            (2026, 1, 10),
            [(2026, 1, 10), (2026, 1, 15), (2026, 2, 15)],
        ),
        # several month days, the clamp folding two into one
        (
            {"frequency": "monthly", "by_month_day": [1, 15, 30, 31], **LAST},
            (2026, 2, 1),
            [(2026, 2, 1), (2026, 2, 15), (2026, 2, 28), (2026, 3, 1), (2026, 3, 15)],
        ),
        # the last day, and the third to last day
        (
            {"frequency": "monthly", "by_month_day": [-1]},
            (2026, 1, 31),
            [(2026, 1, 31), (2026, 2, 28), (2026, 3, 31), (2026, 4, 30)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [-1]},
            (2028, 1, 15),
            [(2028, 1, 15), (2028, 1, 31), (2028, 2, 29), (2028, 3, 31)],
        ),
        (
            {"frequency": "monthly", "by_month_day": [-3]},
            (2026, 1, 29),
            [(2026, 1, 29), (2026, 2, 26), (2026, 3, 29), (2026, 4, 28)],
        ),
        # nth weekday
        (
            {"frequency": "monthly", "by_day": days("2TU")},
            (2026, 1, 13),
            [(2026, 1, 13), (2026, 2, 10), (2026, 3, 10), (2026, 4, 14)],
        ),
        (
            {"frequency": "monthly", "by_day": days("-1FR")},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 2, 27), (2026, 3, 27), (2026, 4, 24)],
        ),
        (
            {"frequency": "monthly", "by_day": days("1MO")},
            (2026, 1, 1),
            [(2026, 1, 1), (2026, 1, 5), (2026, 2, 2), (2026, 3, 2)],
        ),
        (
            {"frequency": "monthly", "interval": 3, "by_day": days("4TH")},
            (2026, 1, 22),
            [(2026, 1, 22), (2026, 4, 23), (2026, 7, 23)],
        ),
        # the second to last Monday
        (
            {"frequency": "monthly", "by_day": days("-2MO")},
            (2026, 1, 19),
            [(2026, 1, 19), (2026, 2, 16), (2026, 3, 23), (2026, 4, 20), (2026, 5, 18)],
        ),
        # a fifth Friday exists in some months only
        (
            {"frequency": "monthly", "by_day": days("5FR")},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 5, 29), (2026, 7, 31), (2026, 10, 30)],
        ),
        # every Monday and the first Tuesday: BYDAY values are a union
        (
            {"frequency": "monthly", "by_day": days("MO", "1TU")},
            (2026, 3, 1),
            [(2026, 3, 1), (2026, 3, 2), (2026, 3, 3), (2026, 3, 9), (2026, 3, 16)],
        ),
        # Friday the 13th: BYMONTHDAY and BYDAY intersect
        (
            {"frequency": "monthly", "by_month_day": [13], "by_day": days("FR")},
            (2026, 1, 1),
            [(2026, 1, 1), (2026, 2, 13), (2026, 3, 13), (2026, 11, 13), (2027, 8, 13)],
        ),
        # the last weekday of the month
        (
            {
                "frequency": "monthly",
                "by_day": days("MO", "TU", "WE", "TH", "FR"),
                "by_set_position": [-1],
            },
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 2, 27), (2026, 3, 31), (2026, 4, 30), (2026, 5, 29)],
        ),
        # the first and last weekend day
        (
            {"frequency": "monthly", "by_day": days("SA", "SU"), "by_set_position": [1, -1]},
            (2026, 1, 3),
            [(2026, 1, 3), (2026, 1, 31), (2026, 2, 1), (2026, 2, 28), (2026, 3, 1)],
        ),
        # yearly, including Feb 29: skipped in common years ...
        (
            {"frequency": "yearly"},
            (2026, 3, 15),
            [(2026, 3, 15), (2027, 3, 15), (2028, 3, 15)],
        ),
        (
            {"frequency": "yearly"},
            (2028, 2, 29),
            [(2028, 2, 29), (2032, 2, 29), (2036, 2, 29), (2040, 2, 29)],
        ),
        (
            {"frequency": "yearly", "interval": 2},
            (2024, 2, 29),
            [(2024, 2, 29), (2028, 2, 29), (2032, 2, 29)],
        ),
        # ... and 2100 is not a leap year
        (
            {"frequency": "yearly", "interval": 4},
            (2096, 2, 29),
            [(2096, 2, 29), (2104, 2, 29)],
        ),
        # ... or Feb 28 in them
        (
            {"frequency": "yearly", **LAST},
            (2028, 2, 29),
            [(2028, 2, 29), (2029, 2, 28), (2030, 2, 28), (2031, 2, 28), (2032, 2, 29)],
        ),
        (
            {"frequency": "yearly", "interval": 2, **LAST},
            (2024, 2, 29),
            [(2024, 2, 29), (2026, 2, 28), (2028, 2, 29)],
        ),
        # yearly in several months, on the start's day
        (
            {"frequency": "yearly", "by_month": [1, 7]},
            (2026, 1, 5),
            [(2026, 1, 5), (2026, 7, 5), (2027, 1, 5), (2027, 7, 5)],
        ),
        # the last Sunday of March and of October (the EU's DST changes)
        (
            {"frequency": "yearly", "by_month": [3, 10], "by_day": days("-1SU")},
            (2026, 1, 1),
            [(2026, 1, 1), (2026, 3, 29), (2026, 10, 25), (2027, 3, 28), (2027, 10, 31)],
        ),
        # the 20th Monday of the year, and the year's last day
        (
            {"frequency": "yearly", "by_day": days("20MO")},
            (2026, 1, 1),
            [(2026, 1, 1), (2026, 5, 18), (2027, 5, 17), (2028, 5, 15)],
        ),
        (
            {"frequency": "yearly", "by_month": [12], "by_month_day": [-1]},
            (2026, 6, 1),
            [(2026, 6, 1), (2026, 12, 31), (2027, 12, 31)],
        ),
    ],
)
def test_schedule(
    kwargs: dict[str, Any], start: tuple[int, int, int], expected_days: list[tuple[int, int, int]]
) -> None:
    r = rule(**kwargs)
    start_dt = at(Z, *start)
    expected = [at(Z, *day) for day in expected_days]

    assert chain(r, start_dt, Z, len(expected)) == expected


@pytest.mark.parametrize(
    ("week_start", "expected_days"),
    [
        # Weeks from Monday: Tue 5 and Sun 10 share the first week; the next is the 19th's.
        ("MO", [(2027, 1, 5), (2027, 1, 10), (2027, 1, 19), (2027, 1, 24), (2027, 2, 2)]),
        # Weeks from Sunday: Sun 10 starts the next week, which is skipped; Sun 17 starts
        # the week after.
        ("SU", [(2027, 1, 5), (2027, 1, 17), (2027, 1, 19), (2027, 1, 31), (2027, 2, 2)]),
    ],
)
def test_week_start_decides_which_weeks_an_interval_of_two_keeps(
    week_start: str, expected_days: list[tuple[int, int, int]]
) -> None:
    # RFC 5545's own example: FREQ=WEEKLY;INTERVAL=2;COUNT=4;BYDAY=TU,SU with WKST=MO or SU.
    r = rule(frequency="weekly", interval=2, by_day=days("TU", "SU"), week_start=week_start)

    assert chain(r, at(Z, 2027, 1, 5), Z, 5) == [at(Z, *day) for day in expected_days]


def test_set_position_counts_the_whole_first_week_not_the_part_after_the_start() -> None:
    # The first of Mon/Wed/Fri in the week of Wed Jan 7 is Mon Jan 5, before the start: that
    # week adds nothing, and the next pick is Mon Jan 12.
    r = rule(frequency="weekly", by_day=days("MO", "WE", "FR"), by_set_position=[1])

    assert chain(r, at(Z, 2026, 1, 7), Z, 3) == [
        at(Z, 2026, 1, 7),
        at(Z, 2026, 1, 12),
        at(Z, 2026, 1, 19),
    ]


def test_month_end_never_drifts_over_many_years() -> None:
    r = rule(frequency="monthly", missing_day="last_day")
    dues = chain(r, at(Z, 2026, 1, 31), Z, 48)

    assert [d.day for d in dues if d.month in (1, 3, 5, 7, 8, 10, 12)] == [31] * 28
    assert [d.day for d in dues if d.month in (4, 6, 9, 11)] == [30] * 16
    assert [(d.year, d.day) for d in dues if d.month == 2] == [
        (2026, 28),
        (2027, 28),
        (2028, 29),
        (2029, 28),
    ]


def test_due_basis_keeps_the_anchor_when_the_current_due_was_clamped() -> None:
    r = rule(frequency="monthly", missing_day="last_day")

    assert after(r, at(Z, 2026, 1, 31), at(Z, 2026, 2, 28), 2) == at(Z, 2026, 3, 31)


def test_due_basis_counts_from_a_late_current_due() -> None:
    r = rule(frequency="weekly", by_day=days("MO", "TH"))

    # The due date was moved to a Saturday by hand: the rule continues after it.
    assert after(r, at(Z, 2026, 1, 5), at(Z, 2026, 1, 10, 18), 2) == at(Z, 2026, 1, 12)


def test_due_basis_ignores_completed_at() -> None:
    r = rule(frequency="daily")

    following = next_occurrence(
        r,
        series_start=at(Z, 2026, 1, 5),
        current_due=at(Z, 2026, 1, 5),
        time_zone=Z,
        occurrence_number=1,
        completed_at=at(Z, 2026, 1, 9, 15),
    )

    assert following is not None
    assert following.due_at == at(Z, 2026, 1, 6)


@pytest.mark.parametrize("years_back", [1, 100, 1000])
def test_the_next_occurrence_of_an_old_series_is_found_from_the_current_one(
    years_back: int,
) -> None:
    # Every day for a thousand years: the step from 2026-03-10 must land on 2026-03-11 (the
    # benchmark shows it costs the same whatever the start).
    r = rule(frequency="daily")
    start = at(Z, 2026 - years_back, 3, 10)

    following = next_occurrence(
        r,
        series_start=start,
        current_due=at(Z, 2026, 3, 10),
        time_zone=Z,
        occurrence_number=400_000,
    )

    assert following is not None
    assert (following.number, following.due_at) == (400_001, at(Z, 2026, 3, 11))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"frequency": "daily", "interval": 7},
        {"frequency": "weekly", "interval": 3},
        {"frequency": "monthly", "interval": 5},
        {"frequency": "yearly", "interval": 4},
    ],
)
def test_an_old_series_stays_on_its_interval(kwargs: dict[str, Any]) -> None:
    r = rule(**kwargs)
    start = at(Z, 1626, 3, 10)
    grid = du.rrule(
        FREQUENCIES[r.frequency], dtstart=start.replace(tzinfo=None), interval=r.interval
    )
    # The occurrence due before 2026-03-11, the series having run for four centuries.
    current = grid.before(datetime(2026, 3, 11))
    assert current is not None
    expected = grid.after(current)
    assert expected is not None

    assert after(r, start, current.replace(tzinfo=UTC), 5000) == expected.replace(tzinfo=UTC)


# --- until and count ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("until", "expected_days"),
    [
        (datetime(2026, 1, 7, 9, tzinfo=UTC), [5, 6, 7]),  # exactly at until: included
        (datetime(2026, 1, 7, 8, 59, 59, tzinfo=UTC), [5, 6]),
        (datetime(2026, 1, 7, 10, tzinfo=ZoneInfo(BERLIN)), [5, 6, 7]),  # same instant
        (datetime(2026, 1, 5, 9, tzinfo=UTC), [5]),
    ],
)
def test_until_is_an_inclusive_bound(until: datetime, expected_days: list[int]) -> None:
    r = rule(frequency="daily", until=until)

    assert chain(r, at(Z, 2026, 1, 5), Z, 10) == [at(Z, 2026, 1, day) for day in expected_days]


def test_until_compares_instants_in_the_task_zone() -> None:
    # 09:00 New York is 14:00 UTC, later than an until of 12:00 UTC on that day.
    r = rule(frequency="daily", until=datetime(2026, 1, 7, 12, tzinfo=UTC))

    assert chain(r, at(NY, 2026, 1, 5), NY, 10) == [at(NY, 2026, 1, 5), at(NY, 2026, 1, 6)]


def test_until_ends_a_series_whose_rule_has_nothing_before_it() -> None:
    # Every 7 days from a Monday is never a Friday; with an until the series simply ends.
    r = rule(
        frequency="daily", interval=7, by_day=days("FR"), until=datetime(2030, 1, 1, tzinfo=UTC)
    )

    assert after(r, at(Z, 2026, 1, 5), at(Z, 2026, 1, 5), 1) is None


def test_count_three_gives_exactly_two_next_occurrences() -> None:
    r = rule(frequency="daily", count=3)
    start = at(Z, 2026, 1, 5)

    assert after(r, start, start, 1) == at(Z, 2026, 1, 6)
    assert after(r, start, at(Z, 2026, 1, 6), 2) == at(Z, 2026, 1, 7)
    assert after(r, start, at(Z, 2026, 1, 7), 3) is None
    assert after(r, start, at(Z, 2026, 1, 8), 4) is None
    assert chain(r, start, Z, 10) == [at(Z, 2026, 1, 5), at(Z, 2026, 1, 6), at(Z, 2026, 1, 7)]


def test_count_one_has_no_next_occurrence() -> None:
    r = rule(frequency="weekly", count=1)
    start = at(Z, 2026, 1, 5)

    assert after(r, start, start, 1) is None


def test_count_includes_a_start_that_does_not_match_the_rule() -> None:
    r = rule(frequency="weekly", by_day=days("MO"), count=3)

    assert chain(r, at(Z, 2026, 1, 4), Z, 10) == [
        at(Z, 2026, 1, 4),
        at(Z, 2026, 1, 5),
        at(Z, 2026, 1, 12),
    ]


# --- a series that cannot go on ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "start", "zone"),
    [
        ({"frequency": "yearly"}, datetime(9999, 6, 1, 9, tzinfo=UTC), Z),
        ({"frequency": "daily"}, datetime(9999, 12, 31, 9, tzinfo=UTC), Z),
        ({"frequency": "monthly", "interval": 1000}, datetime(9990, 1, 1, tzinfo=UTC), Z),
        # 23:00 on the last day in New York is past 9999 in UTC
        ({"frequency": "daily"}, datetime(9999, 12, 30, 23, tzinfo=ZoneInfo(NY)), NY),
        # read in a zone 14 hours ahead, the due time is already past 9999
        ({"frequency": "daily"}, datetime(9999, 12, 31, 12, tzinfo=UTC), "Pacific/Kiritimati"),
    ],
)
def test_a_next_occurrence_past_year_9999_is_out_of_range(
    kwargs: dict[str, Any], start: datetime, zone: str
) -> None:
    with pytest.raises(RecurrenceUncomputable) as caught:
        after(rule(**kwargs), start, start, 1, zone)

    assert caught.value.reason == "out_of_range"


@pytest.mark.parametrize(
    ("kwargs", "start"),
    [
        # Rules that select days, but never on their interval's grid from this start:
        # every 7 days from a Monday never falls on a Friday,
        ({"frequency": "daily", "interval": 7, "by_day": days("FR")}, at(Z, 2026, 1, 5)),
        # every 12 months from January never reaches June,
        ({"frequency": "monthly", "interval": 12, "by_month": [6]}, at(Z, 2026, 1, 5)),
        # every 4 years from 2025 never meets a leap year.
        (
            {"frequency": "yearly", "interval": 4, "by_month": [2], "by_month_day": [29]},
            at(Z, 2025, 1, 5),
        ),
    ],
)
def test_a_rule_without_any_occurrence_exhausts_a_bounded_search(
    kwargs: dict[str, Any], start: datetime
) -> None:
    with pytest.raises(RecurrenceUncomputable) as caught:
        after(rule(**kwargs), start, start, 1)

    assert caught.value.reason == "search_exhausted"
    assert "400 years" in str(caught.value)


def test_the_search_reaches_a_rare_occurrence_decades_ahead() -> None:
    # Feb 29 on a Monday: 2044 after 2016, then 2072.
    r = rule(frequency="yearly", by_month=[2], by_month_day=[29], by_day=days("MO"))

    assert chain(r, at(Z, 2016, 2, 29), Z, 3) == [
        at(Z, 2016, 2, 29),
        at(Z, 2044, 2, 29),
        at(Z, 2072, 2, 29),
    ]


def test_every_thousand_years_is_not_cut_short_by_the_search() -> None:
    r = rule(frequency="yearly", interval=1000)

    assert chain(r, at(Z, 2026, 3, 1), Z, 3) == [
        at(Z, 2026, 3, 1),
        at(Z, 3026, 3, 1),
        at(Z, 4026, 3, 1),
    ]


# --- basis: from completion --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "completed", "expected"),
    [
        # daily, due 09:00, completed Tue 15:00 -> Wed 09:00
        ({"frequency": "daily"}, (2026, 1, 6, 15), (2026, 1, 7, 9)),
        # every 3 days, completed Tue 15:00 -> Fri 09:00
        ({"frequency": "daily", "interval": 3}, (2026, 1, 6, 15), (2026, 1, 9, 9)),
        # completed before the time of day: still the next day, never the same day again
        ({"frequency": "daily"}, (2026, 1, 6, 7), (2026, 1, 7, 9)),
        ({"frequency": "daily", "interval": 3}, (2026, 1, 6, 7), (2026, 1, 9, 9)),
        ({"frequency": "weekly", "by_day": days("MO", "TH")}, (2026, 1, 8, 7), (2026, 1, 12, 9)),
        # weekly on Mon and Thu, completed Tue -> Thu
        ({"frequency": "weekly", "by_day": days("MO", "TH")}, (2026, 1, 6, 15), (2026, 1, 8, 9)),
        # weekly without weekdays: a week from the completion's weekday
        ({"frequency": "weekly"}, (2026, 1, 6, 15), (2026, 1, 13, 9)),
        # monthly: a month from the completion's date, or its last day when asked
        ({"frequency": "monthly"}, (2026, 3, 10, 15), (2026, 4, 10, 9)),
        ({"frequency": "monthly"}, (2026, 1, 31, 15), (2026, 3, 31, 9)),
        ({"frequency": "monthly", **LAST}, (2026, 1, 31, 15), (2026, 2, 28, 9)),
        # monthly on a fixed day keeps that day
        ({"frequency": "monthly", "by_month_day": [1]}, (2026, 3, 10, 15), (2026, 4, 1, 9)),
        ({"frequency": "monthly", "by_day": days("-1FR")}, (2026, 1, 30, 15), (2026, 2, 27, 9)),
        ({"frequency": "yearly"}, (2027, 6, 1, 15), (2028, 6, 1, 9)),
    ],
)
def test_completion_basis(
    kwargs: dict[str, Any],
    completed: tuple[int, int, int, int],
    expected: tuple[int, int, int, int],
) -> None:
    r = rule(basis="completion", **kwargs)

    following = next_occurrence(
        r,
        series_start=at(Z, 2026, 1, 5),
        current_due=at(Z, 2026, 1, 5),
        time_zone=Z,
        occurrence_number=1,
        completed_at=at(Z, *completed),
    )

    assert following is not None
    assert following.due_at == at(Z, *expected)


def test_completion_uses_the_local_date_of_the_completion() -> None:
    r = rule(frequency="daily", basis="completion")

    # 02:00 UTC on Jan 7 is still Jan 6 (21:00) in New York.
    following = next_occurrence(
        r,
        series_start=at(NY, 2026, 1, 5),
        current_due=at(NY, 2026, 1, 6),
        time_zone=NY,
        occurrence_number=2,
        completed_at=datetime(2026, 1, 7, 2, tzinfo=UTC),
    )

    assert following is not None
    assert following.due_at == at(NY, 2026, 1, 7)
    assert following.due_at.tzinfo == ZoneInfo(NY)


def test_completion_respects_count_and_until() -> None:
    counted = rule(frequency="daily", basis="completion", count=2)
    bounded = rule(frequency="daily", basis="completion", until=at(Z, 2026, 1, 10))
    start = at(Z, 2026, 1, 5)
    late = at(Z, 2026, 1, 9, 12)

    def done(r: RecurrenceRule, number: int, when: datetime) -> datetime | None:
        following = next_occurrence(
            r,
            series_start=start,
            current_due=start,
            time_zone=Z,
            occurrence_number=number,
            completed_at=when,
        )
        return None if following is None else following.due_at

    assert done(counted, 1, late) == at(Z, 2026, 1, 10)
    assert done(counted, 2, late) is None
    assert done(bounded, 1, late) == at(Z, 2026, 1, 10)
    assert done(bounded, 1, at(Z, 2026, 1, 10, 12)) is None


def test_completion_requires_completed_at() -> None:
    r = rule(frequency="daily", basis="completion")
    start = at(Z, 2026, 1, 5)

    with pytest.raises(ValueError, match="completed_at is required"):
        after(r, start, start, 1)


# --- time zones and DST ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "kwargs", "start", "expected"),
    [
        # spring forward: the UTC offset changes, the wall time stays 09:00
        (
            NY,
            {"frequency": "daily"},
            (2026, 3, 7, 9, 0),
            [((2026, 3, 7, 9, 0), -5), ((2026, 3, 8, 9, 0), -4), ((2026, 3, 9, 9, 0), -4)],
        ),
        (
            BERLIN,
            {"frequency": "daily"},
            (2026, 3, 28, 9, 0),
            [((2026, 3, 28, 9, 0), 1), ((2026, 3, 29, 9, 0), 2), ((2026, 3, 30, 9, 0), 2)],
        ),
        # fall back
        (
            NY,
            {"frequency": "daily"},
            (2026, 10, 31, 9, 0),
            [((2026, 10, 31, 9, 0), -4), ((2026, 11, 1, 9, 0), -5), ((2026, 11, 2, 9, 0), -5)],
        ),
        (
            BERLIN,
            {"frequency": "daily"},
            (2026, 10, 24, 9, 0),
            [((2026, 10, 24, 9, 0), 2), ((2026, 10, 25, 9, 0), 1), ((2026, 10, 26, 9, 0), 1)],
        ),
        (
            NY,
            {"frequency": "weekly"},
            (2026, 3, 1, 9, 0),
            [((2026, 3, 1, 9, 0), -5), ((2026, 3, 8, 9, 0), -4), ((2026, 3, 15, 9, 0), -4)],
        ),
        (
            BERLIN,
            {"frequency": "monthly"},
            (2026, 2, 28, 18, 30),
            [((2026, 2, 28, 18, 30), 1), ((2026, 3, 28, 18, 30), 1), ((2026, 4, 28, 18, 30), 2)],
        ),
        # a wall time in the spring-forward gap moves to just after it, for that day only
        (
            NY,
            {"frequency": "daily"},
            (2026, 3, 7, 2, 30),
            [((2026, 3, 7, 2, 30), -5), ((2026, 3, 8, 3, 30), -4), ((2026, 3, 9, 2, 30), -4)],
        ),
        (
            BERLIN,
            {"frequency": "daily"},
            (2026, 3, 28, 2, 30),
            [((2026, 3, 28, 2, 30), 1), ((2026, 3, 29, 3, 30), 2), ((2026, 3, 30, 2, 30), 2)],
        ),
        (
            NY,
            {"frequency": "weekly", "by_day": [{"weekday": "SU"}]},
            (2026, 3, 1, 2, 0),
            [((2026, 3, 1, 2, 0), -5), ((2026, 3, 8, 3, 0), -4), ((2026, 3, 15, 2, 0), -4)],
        ),
        # Lord Howe moves its clocks by 30 minutes: 02:15 falls in the gap on Oct 4
        (
            "Australia/Lord_Howe",
            {"frequency": "daily"},
            (2026, 10, 3, 2, 15),
            [((2026, 10, 3, 2, 15), 10.5), ((2026, 10, 4, 2, 45), 11), ((2026, 10, 5, 2, 15), 11)],
        ),
        # Apia skipped Dec 30, 2011 to cross the date line: that day's occurrence is
        # the next day's, so the series goes on from Dec 31 once
        (
            "Pacific/Apia",
            {"frequency": "daily"},
            (2011, 12, 28, 9, 0),
            [
                ((2011, 12, 28, 9, 0), -10),
                ((2011, 12, 29, 9, 0), -10),
                ((2011, 12, 31, 9, 0), 14),
                ((2012, 1, 1, 9, 0), 14),
            ],
        ),
        # an ambiguous wall time takes its first reading (still on summer time)
        (
            NY,
            {"frequency": "daily"},
            (2026, 10, 31, 1, 30),
            [((2026, 10, 31, 1, 30), -4), ((2026, 11, 1, 1, 30), -4), ((2026, 11, 2, 1, 30), -5)],
        ),
        (
            BERLIN,
            {"frequency": "daily"},
            (2026, 10, 24, 2, 30),
            [((2026, 10, 24, 2, 30), 2), ((2026, 10, 25, 2, 30), 2), ((2026, 10, 26, 2, 30), 1)],
        ),
    ],
)
def test_dst_keeps_the_wall_time(
    zone: str,
    kwargs: dict[str, Any],
    start: tuple[int, int, int, int, int],
    expected: list[tuple[tuple[int, int, int, int, int], float]],
) -> None:
    r = rule(**kwargs)
    start_dt = at(zone, *start)

    dues = chain(r, start_dt, zone, len(expected))

    assert [(wall(d), hours_offset(d)) for d in dues] == expected
    assert all(d.tzinfo == ZoneInfo(zone) for d in dues)


def test_nonexistent_and_ambiguous_times_as_utc_instants() -> None:
    daily = rule(frequency="daily")

    gap = chain(daily, at(NY, 2026, 3, 7, 2, 30), NY, 3)
    fold = chain(daily, at(BERLIN, 2026, 10, 24, 2, 30), BERLIN, 3)

    assert [d.astimezone(UTC) for d in gap] == [
        datetime(2026, 3, 7, 7, 30, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 30, tzinfo=UTC),  # 03:30 EDT
        datetime(2026, 3, 9, 6, 30, tzinfo=UTC),
    ]
    assert [d.astimezone(UTC) for d in fold] == [
        datetime(2026, 10, 24, 0, 30, tzinfo=UTC),
        datetime(2026, 10, 25, 0, 30, tzinfo=UTC),  # the first 02:30, CEST
        datetime(2026, 10, 26, 1, 30, tzinfo=UTC),
    ]


def test_inputs_in_other_zones_are_read_in_the_task_zone() -> None:
    r = rule(frequency="weekly", by_day=[{"weekday": "MO"}])

    # 2026-01-06 03:00 UTC is Monday 22:00 in New York: the anchor is Monday 22:00 local.
    start = datetime(2026, 1, 6, 3, tzinfo=UTC)
    dues = chain(r, start, NY, 3)

    assert [(wall(d), hours_offset(d)) for d in dues[1:]] == [
        ((2026, 1, 12, 22, 0), -5),
        ((2026, 1, 19, 22, 0), -5),
    ]


def test_off_schedule_due_in_the_repeated_hour_compares_instants() -> None:
    r = rule(frequency="daily")

    # 01:20 EST (second pass) is later than 01:30 EDT (first pass) that same night.
    following = next_occurrence(
        r,
        series_start=at(NY, 2026, 10, 30, 1, 30),
        current_due=at(NY, 2026, 11, 1, 1, 20, fold=1),
        time_zone=NY,
        occurrence_number=3,
    )

    assert following is not None
    assert (wall(following.due_at), hours_offset(following.due_at)) == ((2026, 11, 2, 1, 30), -5)


def test_off_schedule_due_after_the_gap_still_gets_that_days_occurrence() -> None:
    r = rule(frequency="daily")

    # The 02:30 occurrence of Mar 8 happens at 03:30 EDT, after a due of 03:00 EDT.
    following = next_occurrence(
        r,
        series_start=at(NY, 2026, 3, 1, 2, 30),
        current_due=at(NY, 2026, 3, 8, 3, 0),
        time_zone=NY,
        occurrence_number=8,
    )

    assert following is not None
    assert (wall(following.due_at), hours_offset(following.due_at)) == ((2026, 3, 8, 3, 30), -4)


# --- input checks ------------------------------------------------------------------------------


@pytest.mark.parametrize("naive", ["series_start", "current_due", "completed_at"])
def test_naive_datetimes_are_rejected(naive: str) -> None:
    kwargs: dict[str, Any] = {
        "series_start": at(Z, 2026, 1, 5),
        "current_due": at(Z, 2026, 1, 5),
        "completed_at": at(Z, 2026, 1, 5, 12),
    }
    kwargs[naive] = kwargs[naive].replace(tzinfo=None)

    with pytest.raises(ValueError, match=f"{naive} must be timezone-aware"):
        next_occurrence(
            rule(frequency="daily", basis="completion"),
            time_zone=Z,
            occurrence_number=1,
            **kwargs,
        )


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_unknown_time_zone_is_rejected(zone: str) -> None:
    start = at(Z, 2026, 1, 5)

    with pytest.raises(ValueError, match="time_zone .* is not a known IANA time zone"):
        after(rule(frequency="daily"), start, start, 1, zone)


def test_occurrence_number_must_be_positive() -> None:
    start = at(Z, 2026, 1, 5)

    with pytest.raises(ValueError, match="occurrence_number must be 1 or more"):
        after(rule(frequency="daily"), start, start, 0)
