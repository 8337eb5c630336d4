import re
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, reject, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from todo.domain.recurrence import (
    WEEKDAYS,
    Frequency,
    MissingDay,
    RecurrenceBasis,
    RecurrenceRule,
    format_rrule,
    parse_rrule,
)

NY = "America/New_York"
AWARE = datetime(2027, 1, 1, tzinfo=UTC)


def rule(**kwargs: Any) -> RecurrenceRule:
    return RecurrenceRule.model_validate(kwargs)


@pytest.mark.parametrize(
    ("kwargs", "text"),
    [
        ({"frequency": "daily"}, "FREQ=DAILY"),
        ({"frequency": "daily", "interval": 3}, "FREQ=DAILY;INTERVAL=3"),
        (
            {
                "frequency": "weekly",
                "interval": 2,
                "by_day": [{"weekday": "WE"}, {"weekday": "MO"}],
            },
            "FREQ=WEEKLY;INTERVAL=2;BYDAY=MO,WE",
        ),
        ({"frequency": "monthly", "by_month_day": [-1]}, "FREQ=MONTHLY;BYMONTHDAY=-1"),
        ({"frequency": "monthly", "by_month_day": [-3, 1, 15]}, "FREQ=MONTHLY;BYMONTHDAY=1,15,-3"),
        (
            {"frequency": "monthly", "by_day": [{"weekday": "MO", "ordinal": -2}]},
            "FREQ=MONTHLY;BYDAY=-2MO",
        ),
        (
            {
                "frequency": "monthly",
                "by_day": [{"weekday": d} for d in ("MO", "TU", "WE", "TH", "FR")],
                "by_set_position": [-1],
            },
            "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=-1",
        ),
        (
            {
                "frequency": "yearly",
                "by_month": [10, 3],
                "by_day": [{"weekday": "SU", "ordinal": -1}],
            },
            "FREQ=YEARLY;BYMONTH=3,10;BYDAY=-1SU",
        ),
        (
            {"frequency": "monthly", "by_month_day": [31], "missing_day": "last_day"},
            "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;SKIP=BACKWARD",
        ),
        (
            {"frequency": "weekly", "week_start": "SU", "by_day": [{"weekday": "TU"}]},
            "FREQ=WEEKLY;BYDAY=TU;WKST=SU",
        ),
        ({"frequency": "yearly", "count": 5}, "FREQ=YEARLY;COUNT=5"),
        ({"frequency": "daily", "until": AWARE}, "FREQ=DAILY;UNTIL=20270101T000000Z"),
        (
            {"frequency": "daily", "until": datetime(2027, 1, 1, 9, 30, 15, tzinfo=ZoneInfo(NY))},
            "FREQ=DAILY;UNTIL=20270101T143015Z",
        ),
        (
            {"frequency": "daily", "until": datetime(987, 6, 5, 4, 3, 2, tzinfo=UTC)},
            "FREQ=DAILY;UNTIL=09870605T040302Z",
        ),
        ({"frequency": "daily", "basis": "completion"}, "FREQ=DAILY"),
    ],
)
def test_format_rrule(kwargs: dict[str, Any], text: str) -> None:
    r = rule(**kwargs)

    assert format_rrule(r) == text
    assert parse_rrule(text, r.basis) == r


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("RRULE:FREQ=DAILY", {"frequency": "daily"}),
        (
            "rrule:freq=weekly;byday=fr,mo",
            {"frequency": "weekly", "by_day": [{"weekday": "MO"}, {"weekday": "FR"}]},
        ),
        ("FREQ=DAILY;INTERVAL=1", {"frequency": "daily"}),
        ("FREQ=WEEKLY;WKST=MO", {"frequency": "weekly"}),
        (" FREQ=MONTHLY ; BYMONTHDAY=15 ", {"frequency": "monthly", "by_month_day": [15]}),
        ("COUNT=4;FREQ=YEARLY", {"frequency": "yearly", "count": 4}),
        (
            "FREQ=MONTHLY;BYDAY=+3WE",
            {"frequency": "monthly", "by_day": [{"weekday": "WE", "ordinal": 3}]},
        ),
        (
            "FREQ=WEEKLY;UNTIL=20281231T235959Z",
            {"frequency": "weekly", "until": datetime(2028, 12, 31, 23, 59, 59, tzinfo=UTC)},
        ),
        # RFC 7529 wants RSCALE with SKIP; SKIP alone is read too, OMIT is the default.
        (
            "FREQ=YEARLY;SKIP=BACKWARD",
            {"frequency": "yearly", "missing_day": "last_day"},
        ),
        ("RSCALE=GREGORIAN;FREQ=YEARLY;SKIP=OMIT", {"frequency": "yearly"}),
        ("FREQ=YEARLY;RSCALE=gregorian", {"frequency": "yearly"}),
    ],
)
def test_parse_rrule(text: str, expected: dict[str, Any]) -> None:
    assert parse_rrule(text) == rule(**expected)


def test_parse_rrule_takes_the_basis_separately() -> None:
    assert parse_rrule("FREQ=DAILY", RecurrenceBasis.COMPLETION).basis is RecurrenceBasis.COMPLETION


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "RRULE is empty"),
        ("RRULE:", "RRULE is empty"),
        ("F" * 1001, "RRULE is longer than 1000 characters"),
        (
            "DTSTART:20260105T090000Z\nRRULE:FREQ=DAILY",
            "the start (DTSTART) is the task's due date",
        ),
        ("DTSTART;TZID=Europe/Berlin:20260105T090000", "give only the RRULE value"),
        ("INTERVAL=2", "RRULE must have a FREQ part"),
        ("FREQ=HOURLY", "FREQ=HOURLY is not supported"),
        ("FREQ=SECONDLY", "FREQ=SECONDLY is not supported"),
        ("FREQ=DAILY;BYHOUR=9", "RRULE part BYHOUR is not supported: the time of day comes"),
        ("FREQ=DAILY;BYMINUTE=30", "RRULE part BYMINUTE is not supported"),
        ("FREQ=YEARLY;BYYEARDAY=100", "RRULE part BYYEARDAY is not supported: use BYMONTH"),
        ("FREQ=YEARLY;BYWEEKNO=20", "RRULE part BYWEEKNO is not supported"),
        ("FREQ=DAILY;X-NAME=1", "RRULE part X-NAME is not supported"),
        ("FREQ=YEARLY;RSCALE=HEBREW", "RSCALE=HEBREW is not supported (only GREGORIAN)"),
        ("RSCALE=GREGORIAN;FREQ=MONTHLY;SKIP=FORWARD", "SKIP=FORWARD is not supported"),
        ("FREQ=DAILY;FREQ=WEEKLY", "RRULE part FREQ appears more than once"),
        ("FREQ=DAILY;;COUNT=2", "RRULE part '' is not of the form NAME=VALUE"),
        ("FREQ=DAILY;COUNT", "RRULE part 'COUNT' is not of the form NAME=VALUE"),
        ("FREQ=DAILY;COUNT=", "is not of the form NAME=VALUE"),
        ("FREQ=DAILY;INTERVAL=two", "INTERVAL must be a positive integer"),
        ("FREQ=DAILY;INTERVAL=-2", "INTERVAL must be a positive integer"),
        ("FREQ=DAILY;INTERVAL=99999999999", "INTERVAL must be a positive integer"),
        ("FREQ=DAILY;INTERVAL=0", "interval: Input should be greater than or equal to 1"),
        ("FREQ=DAILY;COUNT=1.5", "COUNT must be a positive integer"),
        ("FREQ=DAILY;COUNT=10001", "count: Input should be less than or equal to 10000"),
        ("FREQ=WEEKLY;BYDAY=2TU", "BYDAY: an ordinal (2TU) is only allowed"),
        ("FREQ=WEEKLY;BYDAY=MO,XX", "BYDAY value 'XX' is not a weekday"),
        ("FREQ=WEEKLY;BYDAY=MO,MO", "BYDAY must not repeat a value: MO"),
        ("FREQ=MONTHLY;BYDAY=6FR", "BYDAY: 6FR cannot occur: a month has at most 5"),
        ("FREQ=MONTHLY;BYDAY=0FR", "BYDAY.0.ordinal: ordinal must not be 0"),
        ("FREQ=WEEKLY;BYMONTHDAY=1", "BYMONTHDAY is not allowed with frequency 'weekly'"),
        ("FREQ=MONTHLY;BYMONTHDAY=last", "BYMONTHDAY values must be integers"),
        ("FREQ=MONTHLY;BYMONTHDAY=0", "BYMONTHDAY must not contain 0"),
        ("FREQ=MONTHLY;BYMONTHDAY=32", "BYMONTHDAY.0: Input should be less than or equal to 31"),
        ("FREQ=YEARLY;BYMONTH=13", "BYMONTH.0: Input should be less than or equal to 12"),
        ("FREQ=MONTHLY;BYSETPOS=1", "BYSETPOS needs BYDAY, BYMONTHDAY or BYMONTH"),
        ("FREQ=WEEKLY;WKST=XX", "WKST must be a weekday"),
        (
            "FREQ=MONTHLY;BYMONTH=2;BYMONTHDAY=30,31",
            "BYMONTHDAY: none of these days exists in the months of BYMONTH",
        ),
        ("FREQ=MONTHLY;BYMONTHDAY=31;BYDAY=1MO", "never select a day together"),
        ("FREQ=DAILY;UNTIL=20270101", "UNTIL must be a UTC date-time"),
        ("FREQ=DAILY;UNTIL=20270101T000000", "UNTIL must be a UTC date-time"),
        ("FREQ=DAILY;UNTIL=20270230T000000Z", "UNTIL must be a UTC date-time"),
        ("FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z", "until and count are mutually exclusive"),
    ],
)
def test_parse_rrule_refuses(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        parse_rrule(text)


def test_parse_errors_are_plain_value_errors() -> None:
    with pytest.raises(ValueError, match="BYHOUR") as caught:
        parse_rrule("FREQ=DAILY;BYHOUR=9")

    assert not isinstance(caught.value, ValidationError)


# --- round trip --------------------------------------------------------------------------------

signed = st.integers(1, 31).flatmap(lambda d: st.sampled_from([d, -d]))
by_day = st.lists(
    st.fixed_dictionaries(
        {
            "weekday": st.sampled_from(WEEKDAYS),
            "ordinal": st.one_of(
                st.none(), st.integers(1, 5).flatmap(lambda n: st.sampled_from([n, -n]))
            ),
        }
    ),
    min_size=1,
    max_size=4,
    unique_by=lambda e: (e["weekday"], e["ordinal"]),
)


@st.composite
def any_rule(draw: st.DrawFn) -> RecurrenceRule:
    fields: dict[str, Any] = {
        "frequency": draw(st.sampled_from([Frequency.MONTHLY, Frequency.YEARLY])),
        "interval": draw(st.integers(1, 1000)),
        "week_start": draw(st.sampled_from(WEEKDAYS)),
        "missing_day": draw(st.sampled_from(list(MissingDay))),
        "basis": draw(st.sampled_from(list(RecurrenceBasis))),
        "by_month": draw(
            st.one_of(st.none(), st.lists(st.integers(1, 12), min_size=1, unique=True))
        ),
        "by_day": draw(st.one_of(st.none(), by_day)),
        "by_month_day": draw(
            st.one_of(st.none(), st.lists(signed, min_size=1, max_size=5, unique=True))
        ),
    }
    if draw(st.booleans()):
        fields["count"] = draw(st.integers(1, 10000))
    elif draw(st.booleans()):
        fields["until"] = draw(
            st.datetimes(datetime(1, 1, 2), datetime(9999, 12, 30), timezones=st.just(UTC))
        ).replace(microsecond=0)
    if fields["by_day"] or fields["by_month_day"]:
        fields["by_set_position"] = draw(
            st.one_of(st.none(), st.lists(st.sampled_from([1, 2, -1, -2]), min_size=1, unique=True))
        )
    try:
        return RecurrenceRule.model_validate(fields)
    except ValidationError:
        reject()


@settings(
    derandomize=True,
    database=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.filter_too_much],
)
@given(any_rule())
def test_text_and_structure_round_trip(r: RecurrenceRule) -> None:
    text = format_rrule(r)

    assert parse_rrule(text, r.basis) == r
    assert format_rrule(parse_rrule("RRULE:" + text.lower(), r.basis)) == text
