"""A page's rows (`TaskJson`) say exactly what `TaskPublic` says of the same task."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from todo.backend.models import TASKS_JSON, TaskPublic, TasksJson, TasksPublic
from todo.backend.tasks.queries import StoredTask, TaskRow, public_record, to_public
from todo.domain.events import ReminderKind, ReminderSpec
from todo.domain.recurrence import RecurrenceRule, parse_rrule
from todo.domain.tasks import Priority, TaskStatus

NOW = datetime(2026, 12, 1, 18, 0, tzinfo=UTC)


@dataclass
class Row:
    """A stored task as the tasks table returns it (`queries.TaskRow`)."""

    id: str = "t1"
    owner_id: str = "u1"
    title: str = "Write the report"
    notes: str = ""
    status: TaskStatus = TaskStatus.OPEN
    priority: Priority = Priority.MEDIUM
    due_at: datetime | None = None
    time_zone: str = "UTC"
    reminders: list[ReminderSpec] = field(default_factory=list)
    snoozed_until: datetime | None = None
    recurrence: RecurrenceRule | None = None
    series_id: str = "s1"
    series_start: datetime | None = None
    occurrence_number: int = 1
    completed_at: datetime | None = None
    created_at: datetime = NOW - timedelta(days=3)
    updated_at: datetime = NOW - timedelta(days=1)
    version: int = 1


ROWS = {
    "plain": Row(),
    "overdue with reminders": Row(
        due_at=NOW - timedelta(hours=2),
        time_zone="Europe/Paris",
        priority=Priority.URGENT,
        reminders=[
            ReminderSpec(kind=ReminderKind.BEFORE_DUE, minutes_before=30),
            ReminderSpec(kind=ReminderKind.ABSOLUTE, at=NOW + timedelta(hours=1)),
        ],
    ),
    "snoozed without reminders": Row(snoozed_until=NOW + timedelta(minutes=10)),
    "recurring": Row(
        due_at=NOW + timedelta(days=2),
        recurrence=parse_rrule("FREQ=MONTHLY;BYDAY=-2MO"),
        occurrence_number=4,
        series_start=NOW - timedelta(days=90),
    ),
    "completed": Row(
        status=TaskStatus.COMPLETED,
        due_at=NOW - timedelta(days=1),
        completed_at=NOW - timedelta(hours=3),
        reminders=[ReminderSpec(kind=ReminderKind.BEFORE_DUE, minutes_before=0)],
        version=7,
    ),
    "unusual text": Row(title='Ünïcødé 🗓 "quoted" <b>', notes="line\nbreak\ttab \\ slash"),
}


def test_a_page_row_has_the_fields_of_the_public_task_in_its_order() -> None:
    names = [f.name for f in dataclasses.fields(public_record(Row(), [], NOW))]
    assert names == [*TaskPublic.model_fields, *TaskPublic.model_computed_fields]
    page = [f.name for f in dataclasses.fields(TasksJson(data=[], count=0, limit=1, offset=0))]
    assert page == list(TasksPublic.model_fields)


@pytest.mark.parametrize("name", ROWS)
def test_a_page_row_serializes_as_the_public_task(name: str) -> None:
    row, tags = ROWS[name], ["home", "work"]
    expected = to_public(row, tags, NOW).model_dump_json()
    page = TASKS_JSON.dump_json(
        TasksJson(data=[public_record(row, tags, NOW)], count=9, limit=1, offset=3)
    )
    decoded: dict[str, Any] = json.loads(page)
    # The same text, key for key in the same order, not only the same values.
    assert json.dumps(decoded["data"][0]) == json.dumps(json.loads(expected))
    assert {k: v for k, v in decoded.items() if k != "data"} == {
        "count": 9,
        "limit": 1,
        "offset": 3,
    }
    # And what a client validates against the documented model comes back equal.
    public = TasksPublic.model_validate_json(page)
    assert public.data[0] == TaskPublic.model_validate_json(expected)


def test_a_page_reads_by_position_every_field_a_stored_task_offers() -> None:
    offered = [name for name, member in vars(TaskRow).items() if isinstance(member, property)]
    assert list(StoredTask._fields) == offered
    assert list(StoredTask._fields) == [f.name for f in dataclasses.fields(Row)]
