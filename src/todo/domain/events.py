"""CloudEvents 1.0 envelopes and the versioned payload schemas of every Todo Cloud event.

A schema change that a consumer could not read gets a new `type` version; consumers keep
accepting the old version until no producer emits it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from todo.domain.recurrence import RecurrenceRule

SOURCE_BACKEND = "/todo-cloud/backend"


class Topic(StrEnum):
    TASK_EVENTS = "task-events"
    REMINDERS = "reminders"
    TASK_UPDATES = "task-updates"


class EventType(StrEnum):
    TASK_CREATED = "todo.task.created.v1"
    TASK_UPDATED = "todo.task.updated.v1"
    TASK_COMPLETED = "todo.task.completed.v1"
    TASK_REOPENED = "todo.task.reopened.v1"
    TASK_DELETED = "todo.task.deleted.v1"
    REMINDER_DUE = "todo.reminder.due.v1"
    CLIENT_REFRESH = "todo.client.refresh.v1"


TASK_EVENT_TYPES = frozenset(
    {
        EventType.TASK_CREATED,
        EventType.TASK_UPDATED,
        EventType.TASK_COMPLETED,
        EventType.TASK_REOPENED,
        EventType.TASK_DELETED,
    }
)


class ReminderKind(StrEnum):
    ABSOLUTE = "absolute"
    BEFORE_DUE = "before_due"


class ReminderSpec(BaseModel):
    """One reminder of a task: at a fixed instant, or a number of minutes before it is due."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ReminderKind
    at: AwareDatetime | None = None
    minutes_before: int | None = Field(default=None, ge=0, le=60 * 24 * 366)


class TaskSnapshot(BaseModel):
    """The full state of a task after a change: consumers never need to call back for it."""

    model_config = ConfigDict(extra="ignore")

    id: str
    owner_id: str
    title: str
    notes: str = ""
    status: Literal["open", "completed"]
    priority: str
    tags: list[str] = Field(default_factory=list)
    due_at: AwareDatetime | None = None
    time_zone: str = "UTC"
    reminders: list[ReminderSpec] = Field(default_factory=list)
    snoozed_until: AwareDatetime | None = None
    recurrence: RecurrenceRule | None = None
    series_id: str
    series_start: AwareDatetime | None = None
    occurrence_number: int = 1
    completed_at: AwareDatetime | None = None
    version: int


class TaskEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task: TaskSnapshot
    changed_fields: list[str] = Field(default_factory=list)


class ReminderDueData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    task_id: str
    owner_id: str
    title: str
    fire_at: AwareDatetime
    due_at: AwareDatetime | None = None
    notification_id: str


class RefreshData(BaseModel):
    """Tells live clients of one user what to reload; carries no task contents."""

    model_config = ConfigDict(extra="ignore")

    owner_id: str
    kind: Literal["task", "notification"]
    task_id: str | None = None
    reason: str


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 structured-mode JSON event."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: AwareDatetime = Field(default_factory=lambda: datetime.now(UTC))
    datacontenttype: Literal["application/json"] = "application/json"
    # Extension attributes: the partition key (owner id) and the W3C trace context.
    partitionkey: str
    traceparent: str | None = None
    data: dict[str, Any]

    def task_data(self) -> TaskEventData:
        return TaskEventData.model_validate(self.data)

    def reminder_data(self) -> ReminderDueData:
        return ReminderDueData.model_validate(self.data)


def task_event(
    event_type: EventType,
    snapshot: TaskSnapshot,
    *,
    changed_fields: list[str] | None = None,
    time: datetime | None = None,
    traceparent: str | None = None,
) -> CloudEvent:
    data = TaskEventData(task=snapshot, changed_fields=changed_fields or [])
    return CloudEvent(
        source=SOURCE_BACKEND,
        type=event_type,
        subject=snapshot.id,
        time=time or datetime.now(UTC),
        partitionkey=snapshot.owner_id,
        traceparent=traceparent,
        data=data.model_dump(mode="json"),
    )


def reminder_due_event(data: ReminderDueData, *, traceparent: str | None = None) -> CloudEvent:
    # Written by the backend with the notification, in the same transaction.
    return CloudEvent(
        source=SOURCE_BACKEND,
        type=EventType.REMINDER_DUE,
        subject=data.task_id,
        partitionkey=data.owner_id,
        traceparent=traceparent,
        data=data.model_dump(mode="json"),
    )


def refresh_event(data: RefreshData) -> CloudEvent:
    return CloudEvent(
        source=SOURCE_BACKEND,
        type=EventType.CLIENT_REFRESH,
        subject=data.task_id,
        partitionkey=data.owner_id,
        data=data.model_dump(mode="json"),
    )


TOPIC_OF_TYPE: dict[str, Topic] = {
    **{t.value: Topic.TASK_EVENTS for t in TASK_EVENT_TYPES},
    EventType.REMINDER_DUE.value: Topic.REMINDERS,
    EventType.CLIENT_REFRESH.value: Topic.TASK_UPDATES,
}

PAYLOAD_SCHEMAS: dict[str, type[BaseModel]] = {
    **{t.value: TaskEventData for t in TASK_EVENT_TYPES},
    EventType.REMINDER_DUE.value: ReminderDueData,
    EventType.CLIENT_REFRESH.value: RefreshData,
}

_event_adapter: TypeAdapter[CloudEvent] = TypeAdapter(CloudEvent)


def parse_event(raw: bytes | str | dict[str, Any]) -> CloudEvent:
    """Parse a structured CloudEvent; the payload is validated against its type's schema."""
    if isinstance(raw, dict):
        event = _event_adapter.validate_python(raw)
    else:
        event = _event_adapter.validate_json(raw)
    schema = PAYLOAD_SCHEMAS.get(event.type)
    if schema is not None:
        schema.model_validate(event.data)
    return event


def json_schemas() -> dict[str, dict[str, Any]]:
    """The JSON Schema of every event type's payload plus the envelope, for the checked-in
    contract that tests compare against."""
    out: dict[str, dict[str, Any]] = {"envelope": CloudEvent.model_json_schema()}
    for event_type, model in sorted(PAYLOAD_SCHEMAS.items()):
        out[event_type] = model.model_json_schema()
    return out


if __name__ == "__main__":
    # Regenerates the checked-in contract: ./pants run src/todo/domain/events.py
    import json
    import pathlib

    target = pathlib.Path("src/todo/domain/event_schemas.json")
    target.write_text(json.dumps(json_schemas(), indent=2, sort_keys=True) + "\n")
    print(f"wrote {target}")
