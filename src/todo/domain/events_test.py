from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.resources import files

import pytest
from pydantic import ValidationError

from todo.domain.events import (
    TOPIC_OF_TYPE,
    EventType,
    RefreshData,
    TaskSnapshot,
    Topic,
    json_schemas,
    parse_event,
    refresh_event,
    task_event,
)
from todo.domain.recurrence import describe, format_rrule

# A v1 event exactly as producers emitted it: consumers must keep reading it.
V1_COMPLETED = {
    "specversion": "1.0",
    "id": "5d2f4c1e-8a53-4c7b-9a8e-0c1f5f0d9b11",
    "source": "/todo-cloud/backend",
    "type": "todo.task.completed.v1",
    "subject": "t-1",
    "time": "2026-11-26T10:00:00Z",
    "datacontenttype": "application/json",
    "partitionkey": "u-1",
    "traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "data": {
        "task": {
            "id": "t-1",
            "owner_id": "u-1",
            "title": "Water plants",
            "notes": "",
            "status": "completed",
            "priority": "medium",
            "tags": ["home"],
            "due_at": "2026-11-26T09:00:00Z",
            "time_zone": "Europe/Berlin",
            "reminders": [{"kind": "before_due", "at": None, "minutes_before": 15}],
            "snoozed_until": None,
            "recurrence": {
                "frequency": "weekly",
                "interval": 1,
                "weekdays": ["MO", "TH"],
                "month_day": None,
                "nth_weekday": None,
                "until": None,
                "count": None,
                "basis": "due",
            },
            "series_id": "t-1",
            "series_start": "2026-11-26T09:00:00Z",
            "occurrence_number": 1,
            "completed_at": "2026-11-26T10:00:00Z",
            "version": 3,
        },
        "changed_fields": ["status"],
    },
}


def test_v1_events_still_parse() -> None:
    event = parse_event(json.dumps(V1_COMPLETED))
    assert event.type == EventType.TASK_COMPLETED
    task = event.task_data().task
    assert task.recurrence is not None
    assert describe(task.recurrence) == "Every week on Mon, Thu"
    assert event.traceparent == V1_COMPLETED["traceparent"]


def test_a_v1_rule_in_the_earlier_shape_reads_as_the_current_one() -> None:
    # Events written before the RFC 5545 fields carry `weekdays`/`month_day`/`nth_weekday`;
    # a monthly rule of theirs fell back to a short month's last day, and still does.
    task = dict(V1_COMPLETED["data"]["task"])  # type: ignore[index]
    task["recurrence"] = {
        **task["recurrence"],
        "frequency": "monthly",
        "weekdays": None,
        "month_day": 31,
    }
    snapshot = TaskSnapshot.model_validate(task)

    assert snapshot.recurrence is not None
    assert format_rrule(snapshot.recurrence) == (
        "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;SKIP=BACKWARD"
    )


def test_events_carry_the_current_shape() -> None:
    snapshot = TaskSnapshot.model_validate(V1_COMPLETED["data"]["task"])  # type: ignore[index]
    event = task_event(EventType.TASK_COMPLETED, snapshot)

    assert event.data["task"]["recurrence"]["by_day"] == [
        {"weekday": "MO", "ordinal": None},
        {"weekday": "TH", "ordinal": None},
    ]
    assert "weekdays" not in event.data["task"]["recurrence"]
    assert parse_event(event.model_dump_json()).task_data().task == snapshot


def test_payload_is_validated_against_its_type() -> None:
    broken = {**V1_COMPLETED, "data": {"task": {"id": "t-1"}}}
    with pytest.raises(ValidationError):
        parse_event(broken)


def test_unknown_types_parse_with_their_data_untouched() -> None:
    event = parse_event({**V1_COMPLETED, "type": "todo.task.archived.v9", "data": {"x": 1}})
    assert event.data == {"x": 1}


def test_envelope_carries_subject_partition_key_and_topic() -> None:
    snapshot = TaskSnapshot.model_validate(V1_COMPLETED["data"]["task"])  # type: ignore[index]
    event = task_event(EventType.TASK_CREATED, snapshot, time=datetime(2026, 1, 1, tzinfo=UTC))
    assert event.subject == "t-1"
    assert event.partitionkey == "u-1"
    assert TOPIC_OF_TYPE[event.type] is Topic.TASK_EVENTS
    refresh = refresh_event(RefreshData(owner_id="u-1", kind="task", task_id="t-1", reason="x"))
    assert TOPIC_OF_TYPE[refresh.type] is Topic.TASK_UPDATES
    assert refresh.id != event.id


def test_schemas_match_the_checked_in_contract() -> None:
    checked_in = json.loads((files("todo.domain") / "event_schemas.json").read_text())
    current = json.loads(json.dumps(json_schemas(), sort_keys=True))
    assert current == checked_in, (
        "An event schema changed. If every consumer can still read the old events, "
        "regenerate the contract with `./pants run src/todo/domain/events.py`; if not, "
        "add a new event type version (…v2) and keep consuming v1."
    )
