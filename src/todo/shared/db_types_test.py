"""The column types hand back what the code above expects: aware UTC instants and enum
members, and refuse what no member or instant can be."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect

from todo.domain.events import ReminderKind, ReminderSpec
from todo.domain.tasks import Priority, TaskStatus
from todo.shared.db import JSONModel, StrEnumType, UTCDateTime, in_utc

PG = postgresql.dialect()  # type: ignore[no-untyped-call]
SQLITE = sqlite.dialect()


def test_an_instant_already_in_utc_is_handed_back_as_it_is() -> None:
    # astimezone() hands back the instant itself when it is in that zone already: no
    # copy for asyncpg's values, which come in UTC.
    instant = datetime(2031, 1, 2, 9, 30, tzinfo=UTC)
    assert in_utc(instant) is instant
    assert in_utc(None) is None


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        # SQLite's values are naive, and UTC.
        (datetime(2031, 1, 2, 9, 30), datetime(2031, 1, 2, 9, 30, tzinfo=UTC)),
        # Another zone, or another object for UTC (a named one: timezone(timedelta(0))
        # is UTC itself), ends up in UTC itself.
        (
            datetime(2031, 1, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))),
            datetime(2031, 1, 2, 9, 30, tzinfo=UTC),
        ),
        (
            datetime(2031, 1, 2, 9, 30, tzinfo=timezone(timedelta(0), "Z")),
            datetime(2031, 1, 2, 9, 30, tzinfo=UTC),
        ),
    ],
)
def test_other_instants_come_back_aware_and_in_utc(given: datetime, expected: datetime) -> None:
    assert given.tzinfo is not UTC
    made = in_utc(given)
    assert made == expected
    assert made is not None
    assert made.tzinfo is UTC


def test_a_utc_column_reads_instants_in_utc_on_both_databases() -> None:
    column = UTCDateTime()
    naive = datetime(2031, 1, 2, 9, 30)
    assert column.process_result_value(naive, SQLITE) == naive.replace(tzinfo=UTC)
    aware = naive.replace(tzinfo=UTC)
    assert column.process_result_value(aware, PG) is aware


@pytest.mark.parametrize("enum", [TaskStatus, Priority])
def test_an_enum_column_reads_members_and_refuses_unknown_values(enum: type[StrEnum]) -> None:
    column: StrEnumType[StrEnum] = StrEnumType(enum)
    for member in enum:
        assert column.process_result_value(member.value, PG) is member
    assert column.process_result_value(None, PG) is None
    with pytest.raises(ValueError, match="'urgent-ish' is not a valid"):
        column.process_result_value("urgent-ish", PG)


ASYNCPG = asyncpg_dialect.dialect()  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("enum", [TaskStatus, Priority])
def test_an_enum_read_from_the_driver_is_the_same_member_or_the_same_refusal(
    enum: type[StrEnum],
) -> None:
    read = StrEnumType(enum).driver_result_processor(ASYNCPG)
    assert read is not None
    for member in enum:
        assert read(member.value) is member
    assert read(None) is None
    with pytest.raises(ValueError, match="'urgent-ish' is not a valid"):
        read("urgent-ish")


@pytest.mark.parametrize("dialect", [ASYNCPG, SQLITE], ids=["asyncpg", "sqlite"])
def test_an_instant_from_the_driver_comes_back_aware_and_in_utc(dialect: Any) -> None:
    read = UTCDateTime().driver_result_processor(dialect)
    assert read is not None
    aware = datetime(2031, 1, 2, 9, 30, tzinfo=UTC)
    assert read(aware) == aware
    # asyncpg hands the largest instant back naive (datetime.max), SQLite every one.
    assert read(datetime.max) == datetime.max.replace(tzinfo=UTC)
    assert read(None) is None


def test_a_json_model_from_the_driver_is_validated_into_its_type() -> None:
    read = JSONModel(list[ReminderSpec]).driver_result_processor(ASYNCPG)
    assert read is not None
    assert read([{"kind": "before_due", "minutes_before": 5}]) == [
        ReminderSpec(kind=ReminderKind.BEFORE_DUE, minutes_before=5)
    ]
    assert read(None) is None
    with pytest.raises(ValueError, match="kind"):
        read([{"minutes_before": 5}])
