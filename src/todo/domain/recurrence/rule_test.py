import json
import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from todo.domain.recurrence import ByDay, MissingDay, RecurrenceRule, Weekday

NY = "America/New_York"
AWARE = datetime(2027, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("kwargs", "field", "reason"),
    [
        (
            {"frequency": "daily", "until": AWARE, "count": 3},
            "",
            "until and count are mutually exclusive",
        ),
        ({"frequency": "daily", "until": datetime(2027, 1, 1)}, "until", "until must include"),
        ({"frequency": "daily", "until": "2027-01-01T00:00:00"}, "until", "until must include"),
        ({"frequency": "daily", "interval": 0}, "interval", "greater than or equal to 1"),
        ({"frequency": "daily", "interval": 1001}, "interval", "less than or equal to 1000"),
        ({"frequency": "daily", "count": 0}, "count", "greater than or equal to 1"),
        ({"frequency": "daily", "count": 10001}, "count", "less than or equal to 10000"),
        ({"frequency": "hourly"}, "frequency", "Input should be"),
        ({"frequency": "daily", "basis": "start"}, "basis", "Input should be"),
        ({"frequency": "daily", "byhour": 9}, "byhour", "Extra inputs are not permitted"),
        ({"frequency": "weekly", "by_day": []}, "by_day", "by_day must not be empty"),
        (
            {"frequency": "weekly", "by_day": [{"weekday": "MO"}, {"weekday": "MO"}]},
            "by_day",
            "by_day must not repeat a value: MO",
        ),
        ({"frequency": "weekly", "by_day": [{"weekday": "XX"}]}, "by_day.0.weekday", "Input"),
        (
            {"frequency": "monthly", "by_day": [{"weekday": "MO", "ordinal": 0}]},
            "by_day.0.ordinal",
            "ordinal must not be 0",
        ),
        (
            {"frequency": "monthly", "by_day": [{"weekday": "MO", "ordinal": 6}]},
            "",
            "by_day: 6MO cannot occur: a month has at most 5 of each weekday",
        ),
        (
            {"frequency": "yearly", "by_month": [1], "by_day": [{"weekday": "MO", "ordinal": -6}]},
            "",
            "-6MO cannot occur: a month has at most 5",
        ),
        (
            {"frequency": "yearly", "by_day": [{"weekday": "MO", "ordinal": 54}]},
            "by_day.0.ordinal",
            "less than or equal to 53",
        ),
        (
            {"frequency": "weekly", "by_day": [{"weekday": "MO", "ordinal": 2}]},
            "",
            "by_day: an ordinal (2MO) is only allowed with frequency 'monthly' or 'yearly'",
        ),
        (
            {"frequency": "daily", "by_day": [{"weekday": "MO", "ordinal": -1}]},
            "",
            "an ordinal (-1MO) is only allowed",
        ),
        ({"frequency": "monthly", "by_month_day": [0]}, "by_month_day", "must not contain 0"),
        ({"frequency": "monthly", "by_month_day": [32]}, "by_month_day.0", "less than or equal"),
        ({"frequency": "monthly", "by_month_day": [-32]}, "by_month_day.0", "greater than"),
        ({"frequency": "monthly", "by_month_day": []}, "by_month_day", "must not be empty"),
        ({"frequency": "monthly", "by_month_day": [3, 3]}, "by_month_day", "must not repeat"),
        (
            {"frequency": "weekly", "by_month_day": [3]},
            "",
            "by_month_day is not allowed with frequency 'weekly'",
        ),
        ({"frequency": "yearly", "by_month": [13]}, "by_month.0", "less than or equal to 12"),
        ({"frequency": "yearly", "by_month": [1] * 13}, "by_month", "at most 12 items"),
        (
            {"frequency": "monthly", "by_month_day": list(range(1, 32)) * 3},
            "by_month_day",
            "at most 62 items",
        ),
        ({"frequency": "yearly", "by_month": [0]}, "by_month.0", "greater than or equal to 1"),
        (
            {"frequency": "monthly", "by_month": [2, 4], "by_month_day": [31]},
            "",
            "by_month_day: none of these days exists in the months of by_month",
        ),
        (
            {"frequency": "monthly", "by_month": [2], "by_month_day": [-30]},
            "",
            "none of these days exists",
        ),
        (
            {"frequency": "monthly", "by_month_day": [1], "by_set_position": [0]},
            "by_set_position",
            "must not contain 0",
        ),
        (
            {"frequency": "monthly", "by_set_position": [1]},
            "",
            "by_set_position needs by_day, by_month_day or by_month",
        ),
        (
            {"frequency": "daily", "by_day": [{"weekday": "MO"}], "by_set_position": [1]},
            "",
            "by_set_position is not supported with frequency 'daily'",
        ),
        (
            {"frequency": "weekly", "by_day": [{"weekday": "MO"}], "by_set_position": [2]},
            "",
            "a week of this rule holds at most 1 matching day,",
        ),
        (
            {"frequency": "monthly", "by_month_day": [1, 15], "by_set_position": [3, -3]},
            "",
            "a month of this rule holds at most 2 matching days",
        ),
        (
            {
                "frequency": "monthly",
                "by_month_day": [31],
                "by_day": [{"weekday": "MO", "ordinal": 1}],
            },
            "",
            "by_day, by_month_day never select a day together",
        ),
        (
            {
                "frequency": "yearly",
                "by_month_day": [13],
                "by_day": [{"weekday": "FR"}],
                "by_set_position": [4],
            },
            "",
            "never select a day together",
        ),
        (
            {"frequency": "monthly", "missing_day": "first_day"},
            "missing_day",
            "Input should be 'skip' or 'last_day'",
        ),
    ],
)
def test_validation_errors_name_the_field(kwargs: dict[str, Any], field: str, reason: str) -> None:
    with pytest.raises(ValidationError) as caught:
        RecurrenceRule.model_validate(kwargs)

    (error,) = caught.value.errors()
    assert ".".join(map(str, error["loc"])) == field
    assert reason in error["msg"]


def test_lists_are_sorted_from_a_period_start_then_from_its_end() -> None:
    r = RecurrenceRule.model_validate(
        {
            "frequency": "monthly",
            "by_day": [
                {"weekday": "FR", "ordinal": -1},
                {"weekday": "SU"},
                {"weekday": "TU", "ordinal": 2},
                {"weekday": "MO"},
            ],
            "by_set_position": [-1, 2, -3, 1],
            "by_month": [12, 1, 7],
        }
    )

    assert [str(day) for day in r.by_day or []] == ["MO", "SU", "2TU", "-1FR"]
    assert r.by_set_position == [1, 2, -3, -1]
    assert r.by_month == [1, 7, 12]


def test_by_month_days_are_sorted_and_zero_is_refused() -> None:
    r = RecurrenceRule.model_validate({"frequency": "monthly", "by_month_day": [-1, 15, 1, -3]})

    assert r.by_month_day == [1, 15, -3, -1]


def test_until_keeps_whole_seconds_and_its_offset() -> None:
    until = datetime(2027, 1, 1, 23, 59, 59, 999999, tzinfo=ZoneInfo(NY))

    r = RecurrenceRule.model_validate({"frequency": "daily", "until": until})

    assert r.until == datetime(2027, 1, 1, 23, 59, 59, tzinfo=ZoneInfo(NY))
    assert r.until is not None
    assert r.until.tzinfo == ZoneInfo(NY)


def test_rule_is_frozen() -> None:
    r = RecurrenceRule.model_validate({"frequency": "daily"})

    with pytest.raises(ValidationError, match="frozen"):
        r.interval = 2  # type: ignore[misc]


def test_rule_json_round_trip() -> None:
    r = RecurrenceRule.model_validate(
        {
            "frequency": "monthly",
            "interval": 2,
            "by_day": [{"weekday": "MO", "ordinal": -2}],
            "by_month": [1, 7],
            "until": datetime(2027, 1, 1, tzinfo=ZoneInfo("Europe/Berlin")),
            "basis": "completion",
        }
    )

    data = json.loads(r.model_dump_json())

    assert data == {
        "frequency": "monthly",
        "interval": 2,
        "by_day": [{"weekday": "MO", "ordinal": -2}],
        "by_month_day": None,
        "by_month": [1, 7],
        "by_set_position": None,
        "week_start": "MO",
        "missing_day": "skip",
        "until": "2027-01-01T00:00:00+01:00",
        "count": None,
        "basis": "completion",
    }
    assert RecurrenceRule.model_validate_json(r.model_dump_json()) == r


# --- the earlier shape: stored rows and v1 events ---------------------------------------------

EARLIER = {
    "frequency": "weekly",
    "interval": 1,
    "weekdays": None,
    "month_day": None,
    "nth_weekday": None,
    "until": None,
    "count": None,
    "basis": "due",
}


@pytest.mark.parametrize(
    ("earlier", "current"),
    [
        ({"frequency": "weekly"}, {"frequency": "weekly"}),
        (
            {"frequency": "weekly", "interval": 2, "weekdays": ["TH", "MO"]},
            {
                "frequency": "weekly",
                "interval": 2,
                "by_day": [{"weekday": "MO"}, {"weekday": "TH"}],
            },
        ),
        # Month days past a month's end fell back to its last day: they still do.
        ({"frequency": "monthly"}, {"frequency": "monthly", "missing_day": "last_day"}),
        (
            {"frequency": "monthly", "month_day": 31},
            {"frequency": "monthly", "by_month_day": [31], "missing_day": "last_day"},
        ),
        ({"frequency": "monthly", "month_day": 15}, {"frequency": "monthly", "by_month_day": [15]}),
        ({"frequency": "monthly", "month_day": -1}, {"frequency": "monthly", "by_month_day": [-1]}),
        (
            {"frequency": "monthly", "nth_weekday": {"ordinal": -1, "weekday": "FR"}},
            {"frequency": "monthly", "by_day": [{"weekday": "FR", "ordinal": -1}]},
        ),
        ({"frequency": "yearly"}, {"frequency": "yearly", "missing_day": "last_day"}),
        (
            {"frequency": "daily", "count": 3, "basis": "completion"},
            {"frequency": "daily", "count": 3, "basis": "completion"},
        ),
    ],
)
def test_the_earlier_shape_reads_as_what_it_meant(
    earlier: dict[str, Any], current: dict[str, Any]
) -> None:
    stored = {**EARLIER, **earlier}

    assert RecurrenceRule.model_validate(stored) == RecurrenceRule.model_validate(current)


@pytest.mark.parametrize(
    ("earlier", "reason"),
    [
        ({"frequency": "monthly", "month_day": 40}, "by_month_day.0"),
        ({"weekdays": "MO"}, "weekdays must be a list"),
        ({"nth_weekday": "2MO", "frequency": "monthly"}, "nth_weekday must be an object"),
        (
            {"frequency": "daily", "weekdays": ["MO"]},
            "weekdays is only allowed with frequency 'weekly'",
        ),
        (
            {"frequency": "weekly", "month_day": 3},
            "month_day is only allowed with frequency 'monthly'",
        ),
        (
            {
                "frequency": "monthly",
                "month_day": 3,
                "nth_weekday": {"ordinal": 1, "weekday": "MO"},
            },
            "month_day and nth_weekday are mutually exclusive",
        ),
    ],
)
def test_the_earlier_shape_still_checks_what_it_did(earlier: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(reason)):
        RecurrenceRule.model_validate({**EARLIER, **earlier})


def test_the_earlier_shape_cannot_be_mixed_with_the_current_one() -> None:
    with pytest.raises(ValidationError) as caught:
        RecurrenceRule.model_validate(
            {"frequency": "weekly", "weekdays": ["MO"], "by_day": [{"weekday": "TU"}]}
        )

    assert "weekdays (the earlier form) cannot be combined with by_day" in str(caught.value)


def test_a_by_day_entry_reads_as_rrule_text() -> None:
    assert [str(ByDay(weekday=Weekday.MO)), str(ByDay(weekday=Weekday.FR, ordinal=-2))] == [
        "MO",
        "-2FR",
    ]
    assert MissingDay("last_day") is MissingDay.LAST_DAY
