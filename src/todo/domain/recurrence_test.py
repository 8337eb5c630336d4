import calendar
import json
import random
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from todo.domain.recurrence import (
    Frequency,
    NthWeekday,
    RecurrenceBasis,
    RecurrenceRule,
    Weekday,
    next_occurrence,
    occurrences,
)

NY = "America/New_York"
BERLIN = "Europe/Berlin"
Z = "UTC"


def at(zone: str, y: int, mo: int, d: int, h: int = 9, mi: int = 0, *, fold: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, tzinfo=ZoneInfo(zone), fold=fold)


def rule(**kwargs: Any) -> RecurrenceRule:
    return RecurrenceRule.model_validate(kwargs)


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
        dues.append(following)
    return dues


def wall(dt: datetime) -> tuple[int, int, int, int, int]:
    return (dt.year, dt.month, dt.day, dt.hour, dt.minute)


def hours_offset(dt: datetime) -> float:
    offset = dt.utcoffset()
    assert offset is not None
    return offset / timedelta(hours=1)


# --- schedules ---------------------------------------------------------------------------------


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
        # weekly: the start's weekday when none given
        (
            {"frequency": "weekly"},
            (2026, 1, 7),
            [(2026, 1, 7), (2026, 1, 14), (2026, 1, 21)],
        ),
        (
            {"frequency": "weekly", "interval": 2, "weekdays": ["MO", "WE"]},
            (2026, 1, 5),
            [(2026, 1, 5), (2026, 1, 7), (2026, 1, 19), (2026, 1, 21), (2026, 2, 2)],
        ),
        (
            {"frequency": "weekly", "weekdays": ["TU", "SU"]},
            (2026, 1, 6),
            [(2026, 1, 6), (2026, 1, 11), (2026, 1, 13), (2026, 1, 18)],
        ),
        # every weekday, across a weekend
        (
            {"frequency": "weekly", "weekdays": ["MO", "TU", "WE", "TH", "FR"]},
            (2026, 1, 8),
            [(2026, 1, 8), (2026, 1, 9), (2026, 1, 12), (2026, 1, 13)],
        ),
        # a start that is not one of the weekdays still is occurrence 1
        (
            {"frequency": "weekly", "weekdays": ["MO"]},
            (2026, 1, 4),
            [(2026, 1, 4), (2026, 1, 5), (2026, 1, 12)],
        ),
        # monthly on the 31st: clamps in short months, then returns to the 31st
        (
            {"frequency": "monthly"},
            (2026, 1, 31),
            [(2026, 1, 31), (2026, 2, 28), (2026, 3, 31), (2026, 4, 30), (2026, 5, 31)],
        ),
        (
            {"frequency": "monthly", "month_day": 31},
            (2027, 12, 31),
            [(2027, 12, 31), (2028, 1, 31), (2028, 2, 29), (2028, 3, 31), (2028, 4, 30)],
        ),
        (
            {"frequency": "monthly", "month_day": 31},
            (2026, 1, 15),
            [(2026, 1, 15), (2026, 1, 31), (2026, 2, 28), (2026, 3, 31)],
        ),
        (
            {"frequency": "monthly", "interval": 2},
            (2026, 7, 31),
            [(2026, 7, 31), (2026, 9, 30), (2026, 11, 30), (2027, 1, 31)],
        ),
        # the 30th and the 29th
        (
            {"frequency": "monthly"},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 2, 28), (2026, 3, 30), (2026, 4, 30)],
        ),
        (
            {"frequency": "monthly", "month_day": 30},
            (2028, 1, 30),
            [(2028, 1, 30), (2028, 2, 29), (2028, 3, 30)],
        ),
        (
            {"frequency": "monthly"},
            (2026, 1, 29),
            [(2026, 1, 29), (2026, 2, 28), (2026, 3, 29)],
        ),
        (
            {"frequency": "monthly", "month_day": 29},
            (2028, 1, 29),
            [(2028, 1, 29), (2028, 2, 29), (2028, 3, 29)],
        ),
        (
            {"frequency": "monthly", "month_day": 15},
            (2026, 1, 10),
            [(2026, 1, 10), (2026, 1, 15), (2026, 2, 15)],
        ),
        # the last day of the month
        (
            {"frequency": "monthly", "month_day": -1},
            (2026, 1, 31),
            [(2026, 1, 31), (2026, 2, 28), (2026, 3, 31), (2026, 4, 30)],
        ),
        (
            {"frequency": "monthly", "month_day": -1},
            (2028, 1, 15),
            [(2028, 1, 15), (2028, 1, 31), (2028, 2, 29), (2028, 3, 31)],
        ),
        # nth weekday
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": 2, "weekday": "TU"}},
            (2026, 1, 13),
            [(2026, 1, 13), (2026, 2, 10), (2026, 3, 10), (2026, 4, 14)],
        ),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": -1, "weekday": "FR"}},
            (2026, 1, 30),
            [(2026, 1, 30), (2026, 2, 27), (2026, 3, 27), (2026, 4, 24)],
        ),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": 1, "weekday": "MO"}},
            (2026, 1, 1),
            [(2026, 1, 1), (2026, 1, 5), (2026, 2, 2), (2026, 3, 2)],
        ),
        (
            {
                "frequency": "monthly",
                "interval": 3,
                "nth_weekday": {"ordinal": 4, "weekday": "TH"},
            },
            (2026, 1, 22),
            [(2026, 1, 22), (2026, 4, 23), (2026, 7, 23)],
        ),
        # yearly, including a Feb 29 anchor
        (
            {"frequency": "yearly"},
            (2026, 3, 15),
            [(2026, 3, 15), (2027, 3, 15), (2028, 3, 15)],
        ),
        (
            {"frequency": "yearly"},
            (2028, 2, 29),
            [(2028, 2, 29), (2029, 2, 28), (2030, 2, 28), (2031, 2, 28), (2032, 2, 29)],
        ),
        (
            {"frequency": "yearly", "interval": 2},
            (2024, 2, 29),
            [(2024, 2, 29), (2026, 2, 28), (2028, 2, 29)],
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
    assert occurrences(r, series_start=start_dt, time_zone=Z, limit=len(expected)) == expected


def test_month_end_never_drifts_over_many_years() -> None:
    r = rule(frequency="monthly")
    dues = occurrences(r, series_start=at(Z, 2026, 1, 31), time_zone=Z, limit=48)

    assert [d.day for d in dues if d.month in (1, 3, 5, 7, 8, 10, 12)] == [31] * 28
    assert [d.day for d in dues if d.month in (4, 6, 9, 11)] == [30] * 16
    assert [(d.year, d.day) for d in dues if d.month == 2] == [
        (2026, 28),
        (2027, 28),
        (2028, 29),
        (2029, 28),
    ]


def test_due_basis_keeps_the_anchor_when_the_current_due_was_clamped() -> None:
    r = rule(frequency="monthly")

    following = next_occurrence(
        r,
        series_start=at(Z, 2026, 1, 31),
        current_due=at(Z, 2026, 2, 28),
        time_zone=Z,
        occurrence_number=2,
    )

    assert following == at(Z, 2026, 3, 31)


def test_due_basis_counts_from_a_late_current_due() -> None:
    r = rule(frequency="weekly", weekdays=["MO", "TH"])

    # The due date was moved to a Saturday by hand: the rule continues after it.
    following = next_occurrence(
        r,
        series_start=at(Z, 2026, 1, 5),
        current_due=at(Z, 2026, 1, 10, 18),
        time_zone=Z,
        occurrence_number=2,
    )

    assert following == at(Z, 2026, 1, 12)


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

    assert following == at(Z, 2026, 1, 6)


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
    expected = [at(Z, 2026, 1, day) for day in expected_days]

    assert chain(r, at(Z, 2026, 1, 5), Z, 10) == expected
    assert occurrences(r, series_start=at(Z, 2026, 1, 5), time_zone=Z, limit=10) == expected


def test_until_compares_instants_in_the_task_zone() -> None:
    # 09:00 New York is 14:00 UTC, later than an until of 12:00 UTC on that day.
    r = rule(frequency="daily", until=datetime(2026, 1, 7, 12, tzinfo=UTC))

    assert chain(r, at(NY, 2026, 1, 5), NY, 10) == [at(NY, 2026, 1, 5), at(NY, 2026, 1, 6)]


def test_count_three_gives_exactly_two_next_occurrences() -> None:
    r = rule(frequency="daily", count=3)
    start = at(Z, 2026, 1, 5)

    def after(due: datetime, number: int) -> datetime | None:
        return next_occurrence(
            r, series_start=start, current_due=due, time_zone=Z, occurrence_number=number
        )

    assert after(start, 1) == at(Z, 2026, 1, 6)
    assert after(at(Z, 2026, 1, 6), 2) == at(Z, 2026, 1, 7)
    assert after(at(Z, 2026, 1, 7), 3) is None
    assert after(at(Z, 2026, 1, 8), 4) is None
    assert occurrences(r, series_start=start, time_zone=Z, limit=10) == [
        at(Z, 2026, 1, 5),
        at(Z, 2026, 1, 6),
        at(Z, 2026, 1, 7),
    ]


def test_count_one_has_no_next_occurrence() -> None:
    r = rule(frequency="weekly", count=1)
    start = at(Z, 2026, 1, 5)

    assert (
        next_occurrence(r, series_start=start, current_due=start, time_zone=Z, occurrence_number=1)
        is None
    )
    assert occurrences(r, series_start=start, time_zone=Z, limit=5) == [start]


def test_count_includes_a_start_that_does_not_match_the_rule() -> None:
    r = rule(frequency="weekly", weekdays=["MO"], count=3)

    assert chain(r, at(Z, 2026, 1, 4), Z, 10) == [
        at(Z, 2026, 1, 4),
        at(Z, 2026, 1, 5),
        at(Z, 2026, 1, 12),
    ]


@pytest.mark.parametrize(
    ("kwargs", "limit", "expected_days"),
    [
        ({"frequency": "daily"}, 0, []),
        ({"frequency": "daily"}, 1, [5]),
        ({"frequency": "daily"}, 4, [5, 6, 7, 8]),
        ({"frequency": "daily", "count": 2}, 4, [5, 6]),
        ({"frequency": "daily", "count": 5}, 3, [5, 6, 7]),
        ({"frequency": "daily", "until": datetime(2026, 1, 6, 9, tzinfo=UTC)}, 4, [5, 6]),
    ],
)
def test_occurrences_limit(kwargs: dict[str, Any], limit: int, expected_days: list[int]) -> None:
    r = rule(**kwargs)

    assert occurrences(r, series_start=at(Z, 2026, 1, 5), time_zone=Z, limit=limit) == [
        at(Z, 2026, 1, day) for day in expected_days
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
        ({"frequency": "weekly", "weekdays": ["MO", "TH"]}, (2026, 1, 8, 7), (2026, 1, 12, 9)),
        # weekly on Mon and Thu, completed Tue -> Thu
        ({"frequency": "weekly", "weekdays": ["MO", "TH"]}, (2026, 1, 6, 15), (2026, 1, 8, 9)),
        # weekly without weekdays: a week from the completion's weekday
        ({"frequency": "weekly"}, (2026, 1, 6, 15), (2026, 1, 13, 9)),
        # monthly: a month from the completion's date, clamped at the month end
        ({"frequency": "monthly"}, (2026, 3, 10, 15), (2026, 4, 10, 9)),
        ({"frequency": "monthly"}, (2026, 1, 31, 15), (2026, 2, 28, 9)),
        # monthly on a fixed day keeps that day
        ({"frequency": "monthly", "month_day": 1}, (2026, 3, 10, 15), (2026, 4, 1, 9)),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": -1, "weekday": "FR"}},
            (2026, 1, 30, 15),
            (2026, 2, 27, 9),
        ),
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

    assert following == at(Z, *expected)


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

    assert following == at(NY, 2026, 1, 7)
    assert following is not None
    assert following.tzinfo == ZoneInfo(NY)


def test_completion_respects_count_and_until() -> None:
    counted = rule(frequency="daily", basis="completion", count=2)
    bounded = rule(frequency="daily", basis="completion", until=at(Z, 2026, 1, 10))
    start = at(Z, 2026, 1, 5)
    late = at(Z, 2026, 1, 9, 12)

    kwargs: dict[str, Any] = {"series_start": start, "current_due": start, "time_zone": Z}
    assert next_occurrence(counted, occurrence_number=1, completed_at=late, **kwargs) == at(
        Z, 2026, 1, 10
    )
    assert next_occurrence(counted, occurrence_number=2, completed_at=late, **kwargs) is None
    assert next_occurrence(bounded, occurrence_number=1, completed_at=late, **kwargs) == at(
        Z, 2026, 1, 10
    )
    assert (
        next_occurrence(bounded, occurrence_number=1, completed_at=at(Z, 2026, 1, 10, 12), **kwargs)
        is None
    )


def test_completion_requires_completed_at() -> None:
    r = rule(frequency="daily", basis="completion")
    start = at(Z, 2026, 1, 5)

    with pytest.raises(ValueError, match="completed_at is required"):
        next_occurrence(r, series_start=start, current_due=start, time_zone=Z, occurrence_number=1)


def test_completion_preview_assumes_completion_when_due() -> None:
    r = rule(frequency="monthly", basis="completion")

    # Completed on Feb 28, the next month counts from the 28th.
    assert occurrences(r, series_start=at(Z, 2026, 1, 31), time_zone=Z, limit=4) == [
        at(Z, 2026, 1, 31),
        at(Z, 2026, 2, 28),
        at(Z, 2026, 3, 28),
        at(Z, 2026, 4, 28),
    ]


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
            {"frequency": "weekly", "weekdays": ["SU"]},
            (2026, 3, 1, 2, 0),
            [((2026, 3, 1, 2, 0), -5), ((2026, 3, 8, 3, 0), -4), ((2026, 3, 15, 2, 0), -4)],
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

    for dues in (
        chain(r, start_dt, zone, len(expected)),
        occurrences(r, series_start=start_dt, time_zone=zone, limit=len(expected)),
    ):
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
    r = rule(frequency="weekly", weekdays=["MO"])

    # 2026-01-06 03:00 UTC is Monday 22:00 in New York: the anchor is Monday 22:00 local.
    start = datetime(2026, 1, 6, 3, tzinfo=UTC)
    dues = occurrences(r, series_start=start, time_zone=NY, limit=3)

    assert chain(r, start, NY, 3)[1:] == dues[1:]
    assert [(wall(d), hours_offset(d)) for d in dues] == [
        ((2026, 1, 5, 22, 0), -5),
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
    assert (wall(following), hours_offset(following)) == ((2026, 11, 2, 1, 30), -5)


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
    assert (wall(following), hours_offset(following)) == ((2026, 3, 8, 3, 30), -4)


def _sample_rules() -> list[RecurrenceRule]:
    rng = random.Random(20260101)
    rules = []
    for _ in range(150):
        frequency = rng.choice(list(Frequency))
        kwargs: dict[str, Any] = {
            "frequency": frequency,
            "interval": rng.choice([1, 1, 2, 3, 5]),
            "basis": rng.choice(list(RecurrenceBasis)),
        }
        if frequency is Frequency.WEEKLY and rng.random() < 0.7:
            kwargs["weekdays"] = rng.sample(list(Weekday), rng.randint(1, 7))
        if frequency is Frequency.MONTHLY:
            choice = rng.random()
            if choice < 0.4:
                kwargs["month_day"] = rng.choice([-1, 1, 15, 28, 29, 30, 31])
            elif choice < 0.8:
                kwargs["nth_weekday"] = {
                    "ordinal": rng.choice([1, 2, 3, 4, -1]),
                    "weekday": rng.choice(list(Weekday)),
                }
        ending = rng.random()
        if ending < 0.3:
            kwargs["count"] = rng.randint(1, 40)
        elif ending < 0.6:
            offset = rng.choice([0, 1, -5, 5.5])
            zone = UTC if offset == 0 else ZoneInfo(BERLIN if offset == 1 else NY)
            kwargs["until"] = datetime(
                rng.randint(2026, 2030),
                rng.randint(1, 12),
                rng.randint(1, 28),
                rng.randint(0, 23),
                rng.randint(0, 59),
                rng.randint(0, 59),
                tzinfo=zone,
            )
        rules.append(RecurrenceRule.model_validate(kwargs))
    return rules


SAMPLE_RULES = _sample_rules()


@pytest.mark.parametrize("zone", [NY, BERLIN, "Australia/Lord_Howe", Z])
def test_occurrences_match_next_occurrence_chain(zone: str) -> None:
    rng = random.Random(zone)
    for r in SAMPLE_RULES:
        month = rng.randint(1, 12)
        day = min(rng.randint(1, 31), calendar.monthrange(2026, month)[1])
        start = at(zone, 2026, month, day, rng.randint(0, 23), rng.choice([0, 30]))
        preview = occurrences(r, series_start=start, time_zone=zone, limit=25)
        assert chain(r, start, zone, 25) == preview, r
        assert preview[0] == start
        instants = [d.astimezone(UTC) for d in preview]
        assert instants == sorted(set(instants)), r
        if r.count is not None:
            assert len(preview) == min(r.count, 25)
        if r.until is not None:
            assert all(d.astimezone(UTC) <= r.until.astimezone(UTC) for d in preview[1:]), r


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


def test_occurrences_rejects_naive_start_and_negative_limit() -> None:
    r = rule(frequency="daily")

    with pytest.raises(ValueError, match="series_start must be timezone-aware"):
        occurrences(r, series_start=datetime(2026, 1, 5, 9), time_zone=Z, limit=3)
    with pytest.raises(ValueError, match="limit must not be negative"):
        occurrences(r, series_start=at(Z, 2026, 1, 5), time_zone=Z, limit=-1)


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "", "../etc/passwd"])
def test_unknown_time_zone_is_rejected(zone: str) -> None:
    with pytest.raises(ValueError, match="time_zone .* is not a known IANA time zone"):
        occurrences(
            rule(frequency="daily"), series_start=at(Z, 2026, 1, 5), time_zone=zone, limit=3
        )


def test_occurrence_number_must_be_positive() -> None:
    start = at(Z, 2026, 1, 5)

    with pytest.raises(ValueError, match="occurrence_number must be 1 or more"):
        next_occurrence(
            rule(frequency="daily"),
            series_start=start,
            current_due=start,
            time_zone=Z,
            occurrence_number=0,
        )


# --- rule validation ---------------------------------------------------------------------------

AWARE = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        (
            {"frequency": "daily", "weekdays": ["MO"]},
            "weekdays",
            "weekdays is only allowed with frequency 'weekly'",
        ),
        (
            {"frequency": "monthly", "weekdays": ["MO"]},
            "weekdays",
            "weekdays is only allowed with frequency 'weekly'",
        ),
        (
            {"frequency": "weekly", "month_day": 3},
            "month_day",
            "month_day is only allowed with frequency 'monthly'",
        ),
        (
            {"frequency": "yearly", "nth_weekday": {"ordinal": 1, "weekday": "MO"}},
            "nth_weekday",
            "nth_weekday is only allowed with frequency 'monthly'",
        ),
        (
            {
                "frequency": "monthly",
                "month_day": 3,
                "nth_weekday": {"ordinal": 1, "weekday": "MO"},
            },
            "month_day",
            "month_day and nth_weekday are mutually exclusive",
        ),
        (
            {"frequency": "daily", "until": AWARE, "count": 3},
            "count",
            "until and count are mutually exclusive",
        ),
        (
            {"frequency": "daily", "until": datetime(2027, 1, 1)},
            "until",
            "until must include a time zone",
        ),
        (
            {"frequency": "daily", "until": "2027-01-01T00:00:00"},
            "until",
            "until must include a time zone",
        ),
        ({"frequency": "weekly", "weekdays": []}, "weekdays", "weekdays must not be empty"),
        (
            {"frequency": "weekly", "weekdays": ["MO", "FR", "MO", "FR", "TU"]},
            "weekdays",
            "weekdays must not contain duplicates: MO, FR",
        ),
        ({"frequency": "weekly", "weekdays": ["XX"]}, "weekdays", "Input should be"),
        ({"frequency": "monthly", "month_day": 0}, "month_day", "month_day must be between 1"),
        ({"frequency": "monthly", "month_day": 32}, "month_day", "month_day must be between 1"),
        ({"frequency": "monthly", "month_day": -2}, "month_day", "or -1 for the last day"),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": 0, "weekday": "MO"}},
            "ordinal",
            "ordinal must be 1, 2, 3, 4 or -1",
        ),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": 5, "weekday": "MO"}},
            "ordinal",
            "ordinal must be 1, 2, 3, 4 or -1",
        ),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": -2, "weekday": "MO"}},
            "ordinal",
            "ordinal must be 1, 2, 3, 4 or -1",
        ),
        ({"frequency": "daily", "interval": 0}, "interval", "greater than or equal to 1"),
        ({"frequency": "daily", "interval": 1001}, "interval", "less than or equal to 1000"),
        ({"frequency": "daily", "count": 0}, "count", "greater than or equal to 1"),
        ({"frequency": "daily", "count": 10001}, "count", "less than or equal to 10000"),
        ({"frequency": "hourly"}, "frequency", "Input should be"),
        ({"frequency": "daily", "basis": "start"}, "basis", "Input should be"),
        ({"frequency": "daily", "byhour": 9}, "byhour", "Extra inputs are not permitted"),
    ],
)
def test_validation_errors_name_the_field(kwargs: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RecurrenceRule.model_validate(kwargs)

    message = str(caught.value)
    assert reason in message
    assert field in message


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="until and count are mutually exclusive"):
        RecurrenceRule(frequency=Frequency.DAILY, until=AWARE, count=2)


def test_weekdays_are_sorted_monday_first() -> None:
    r = rule(frequency="weekly", weekdays=["SU", "FR", "MO", "WE"])

    assert r.weekdays == [Weekday.MO, Weekday.WE, Weekday.FR, Weekday.SU]


def test_until_keeps_whole_seconds_and_its_offset() -> None:
    until = datetime(2027, 1, 1, 23, 59, 59, 999999, tzinfo=ZoneInfo(NY))

    r = rule(frequency="daily", until=until)

    assert r.until == datetime(2027, 1, 1, 23, 59, 59, tzinfo=ZoneInfo(NY))
    assert r.until is not None
    assert r.until.tzinfo == ZoneInfo(NY)


def test_rule_is_frozen() -> None:
    r = rule(frequency="daily")

    with pytest.raises(ValidationError, match="frozen"):
        r.interval = 2  # type: ignore[misc]


def test_rule_json_round_trip() -> None:
    r = RecurrenceRule(
        frequency=Frequency.MONTHLY,
        interval=2,
        nth_weekday=NthWeekday(ordinal=-1, weekday=Weekday.FR),
        until=datetime(2027, 1, 1, tzinfo=ZoneInfo(BERLIN)),
        basis=RecurrenceBasis.COMPLETION,
    )

    data = json.loads(r.model_dump_json())

    assert data == {
        "frequency": "monthly",
        "interval": 2,
        "weekdays": None,
        "month_day": None,
        "nth_weekday": {"ordinal": -1, "weekday": "FR"},
        "until": "2027-01-01T00:00:00+01:00",
        "count": None,
        "basis": "completion",
    }
    assert RecurrenceRule.model_validate_json(r.model_dump_json()) == r


# --- RRULE text --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"frequency": "daily"}, "FREQ=DAILY"),
        ({"frequency": "daily", "interval": 3}, "FREQ=DAILY;INTERVAL=3"),
        (
            {"frequency": "weekly", "interval": 2, "weekdays": ["WE", "MO"]},
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
        ),
        (
            {"frequency": "weekly", "weekdays": ["MO", "TU", "WE", "TH", "FR"]},
            "FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR",
        ),
        ({"frequency": "monthly", "month_day": -1}, "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ({"frequency": "monthly", "month_day": 31}, "FREQ=MONTHLY;BYMONTHDAY=31"),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": 2, "weekday": "TU"}},
            "FREQ=MONTHLY;BYDAY=2TU",
        ),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": -1, "weekday": "FR"}},
            "FREQ=MONTHLY;BYDAY=-1FR",
        ),
        ({"frequency": "yearly", "count": 5}, "FREQ=YEARLY;COUNT=5"),
        ({"frequency": "daily", "until": AWARE}, "FREQ=DAILY;UNTIL=20270101T000000Z"),
        (
            {"frequency": "daily", "until": datetime(2027, 1, 1, 9, 30, 15, tzinfo=ZoneInfo(NY))},
            "FREQ=DAILY;UNTIL=20270101T143015Z",
        ),
        ({"frequency": "daily", "basis": "completion"}, "FREQ=DAILY"),
    ],
)
def test_to_rrule(kwargs: dict[str, Any], text: str) -> None:
    r = rule(**kwargs)

    assert r.to_rrule() == text
    assert RecurrenceRule.from_rrule(text, r.basis) == r


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RRULE:FREQ=DAILY", {"frequency": "daily"}),
        ("rrule:freq=weekly;byday=fr,mo", {"frequency": "weekly", "weekdays": ["MO", "FR"]}),
        ("FREQ=DAILY;INTERVAL=1", {"frequency": "daily"}),
        (" FREQ=MONTHLY ; BYMONTHDAY=15 ", {"frequency": "monthly", "month_day": 15}),
        ("COUNT=4;FREQ=YEARLY", {"frequency": "yearly", "count": 4}),
        (
            "FREQ=MONTHLY;BYDAY=+3WE",
            {"frequency": "monthly", "nth_weekday": {"ordinal": 3, "weekday": "WE"}},
        ),
        (
            "FREQ=WEEKLY;UNTIL=20281231T235959Z",
            {"frequency": "weekly", "until": datetime(2028, 12, 31, 23, 59, 59, tzinfo=UTC)},
        ),
    ],
)
def test_from_rrule(text: str, expected: dict[str, Any]) -> None:
    assert RecurrenceRule.from_rrule(text) == rule(**expected)


def test_from_rrule_takes_the_basis_separately() -> None:
    r = RecurrenceRule.from_rrule("FREQ=DAILY", RecurrenceBasis.COMPLETION)

    assert r.basis is RecurrenceBasis.COMPLETION


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "RRULE is empty"),
        ("RRULE:", "RRULE is empty"),
        ("INTERVAL=2", "RRULE must have a FREQ part"),
        ("FREQ=HOURLY", "FREQ=HOURLY is not supported"),
        ("FREQ=SECONDLY", "FREQ=SECONDLY is not supported"),
        ("FREQ=DAILY;BYHOUR=9", "RRULE part BYHOUR is not supported"),
        ("FREQ=MONTHLY;BYDAY=MO;BYSETPOS=-1", "RRULE part BYSETPOS is not supported"),
        ("FREQ=WEEKLY;WKST=SU", "RRULE part WKST is not supported"),
        ("FREQ=YEARLY;BYMONTH=3", "RRULE part BYMONTH is not supported"),
        ("FREQ=DAILY;FREQ=WEEKLY", "RRULE part FREQ appears more than once"),
        ("FREQ=DAILY;;COUNT=2", "RRULE part '' is not of the form NAME=VALUE"),
        ("FREQ=DAILY;COUNT", "RRULE part 'COUNT' is not of the form NAME=VALUE"),
        ("FREQ=DAILY;COUNT=", "is not of the form NAME=VALUE"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL must be a positive integer"),
        ("FREQ=DAILY;INTERVAL=-2", "INTERVAL must be a positive integer"),
        ("FREQ=DAILY;INTERVAL=0", "interval: Input should be greater than or equal to 1"),
        ("FREQ=DAILY;COUNT=1.5", "COUNT must be a positive integer"),
        ("FREQ=DAILY;COUNT=10001", "count: Input should be less than or equal to 10000"),
        ("FREQ=DAILY;BYDAY=MO", "BYDAY is only supported with FREQ=WEEKLY or FREQ=MONTHLY"),
        ("FREQ=YEARLY;BYDAY=1MO", "BYDAY is only supported with FREQ=WEEKLY or FREQ=MONTHLY"),
        ("FREQ=WEEKLY;BYDAY=2TU", "BYDAY with an ordinal (2TU) is only supported"),
        ("FREQ=WEEKLY;BYDAY=MO,XX", "BYDAY value 'XX' is not a weekday"),
        ("FREQ=WEEKLY;BYDAY=MO,MO", "weekdays must not contain duplicates: MO"),
        ("FREQ=MONTHLY;BYDAY=TU", "must be one weekday with an ordinal"),
        ("FREQ=MONTHLY;BYDAY=1TU,3TU", "must be one weekday with an ordinal"),
        ("FREQ=MONTHLY;BYDAY=5FR", "ordinal must be 1, 2, 3, 4 or -1"),
        ("FREQ=MONTHLY;BYDAY=-2FR", "ordinal must be 1, 2, 3, 4 or -1"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is only supported with FREQ=MONTHLY"),
        ("FREQ=MONTHLY;BYMONTHDAY=1,15", "BYMONTHDAY with more than one day is not supported"),
        ("FREQ=MONTHLY;BYMONTHDAY=last", "BYMONTHDAY must be an integer"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "month_day must be between 1 and 31"),
        (
            "FREQ=MONTHLY;BYMONTHDAY=3;BYDAY=1MO",
            "month_day and nth_weekday are mutually exclusive",
        ),
        ("FREQ=DAILY;UNTIL=20270101", "UNTIL must be a UTC date-time"),
        ("FREQ=DAILY;UNTIL=20270101T000000", "UNTIL must be a UTC date-time"),
        ("FREQ=DAILY;UNTIL=20270230T000000Z", "UNTIL must be a UTC date-time"),
        (
            "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z",
            "until and count are mutually exclusive",
        ),
    ],
)
def test_from_rrule_rejects(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        RecurrenceRule.from_rrule(text)


@pytest.mark.parametrize("r", SAMPLE_RULES, ids=lambda r: f"{r.to_rrule()}/{r.basis}")
def test_rrule_round_trip(r: RecurrenceRule) -> None:
    text = r.to_rrule()

    assert RecurrenceRule.from_rrule(text, r.basis) == r
    assert RecurrenceRule.from_rrule("RRULE:" + text, r.basis).to_rrule() == text


# --- describe ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"frequency": "daily"}, "Every day"),
        ({"frequency": "daily", "interval": 2}, "Every 2 days"),
        ({"frequency": "weekly"}, "Every week"),
        (
            {"frequency": "weekly", "interval": 2, "weekdays": ["WE", "MO"]},
            "Every 2 weeks on Mon, Wed",
        ),
        ({"frequency": "weekly", "weekdays": ["SA", "SU"]}, "Every week on Sat, Sun"),
        ({"frequency": "weekly", "weekdays": ["MO", "TU", "WE", "TH", "FR"]}, "Every weekday"),
        (
            {"frequency": "weekly", "interval": 2, "weekdays": ["MO", "TU", "WE", "TH", "FR"]},
            "Every 2 weeks on weekdays",
        ),
        ({"frequency": "monthly"}, "Every month"),
        ({"frequency": "monthly", "month_day": -1}, "Every month on the last day"),
        ({"frequency": "monthly", "month_day": 1}, "Every month on the 1st"),
        ({"frequency": "monthly", "month_day": 2}, "Every month on the 2nd"),
        ({"frequency": "monthly", "month_day": 3}, "Every month on the 3rd"),
        ({"frequency": "monthly", "month_day": 11}, "Every month on the 11th"),
        ({"frequency": "monthly", "month_day": 12}, "Every month on the 12th"),
        ({"frequency": "monthly", "month_day": 13}, "Every month on the 13th"),
        ({"frequency": "monthly", "month_day": 22}, "Every month on the 22nd"),
        ({"frequency": "monthly", "interval": 3, "month_day": 31}, "Every 3 months on the 31st"),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": 2, "weekday": "TU"}},
            "Every month on the 2nd Tuesday",
        ),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": -1, "weekday": "FR"}},
            "Every month on the last Friday",
        ),
        ({"frequency": "yearly"}, "Every year"),
        ({"frequency": "yearly", "interval": 4}, "Every 4 years"),
        ({"frequency": "daily", "count": 5}, "Every day, 5 times"),
        ({"frequency": "daily", "count": 1}, "Every day, once"),
        ({"frequency": "daily", "until": AWARE}, "Every day, until 2027-01-01"),
        (
            {"frequency": "daily", "until": datetime(2027, 1, 1, 23, 59, tzinfo=ZoneInfo(NY))},
            "Every day, until 2027-01-01",
        ),
        ({"frequency": "daily", "basis": "completion"}, "Every day (from completion)"),
        (
            {"frequency": "weekly", "weekdays": ["TH"], "count": 10, "basis": "completion"},
            "Every week on Thu, 10 times (from completion)",
        ),
    ],
)
def test_describe(kwargs: dict[str, Any], text: str) -> None:
    assert rule(**kwargs).describe() == text
