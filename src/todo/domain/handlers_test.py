"""The handlers' decisions, with in-memory ports (pure logic; the integration runs in
todo.backend.embedded_test against real databases)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from todo.domain.events import EventType, ReminderKind, ReminderSpec, TaskSnapshot, task_event
from todo.domain.handlers import ReminderService, TaskEventHandler
from todo.domain.ports import PermanentEventError
from todo.domain.recurrence import Frequency, RecurrenceRule

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class FakeScheduler:
    jobs: dict[str, tuple[datetime, dict[str, Any]]] = field(default_factory=dict)

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        self.jobs[name] = (due_at, payload)

    async def cancel(self, name: str) -> None:
        self.jobs.pop(name, None)


@dataclass
class FakeTasks:
    tasks: dict[str, TaskSnapshot] = field(default_factory=dict)
    notifications: set[tuple[str, datetime]] = field(default_factory=set)
    occurrences: dict[str, str] = field(default_factory=dict)

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        return self.tasks.get(task_id)

    async def create_next_occurrence(self, task_id: str, idempotency_key: str) -> str | None:
        return self.occurrences.setdefault(idempotency_key, f"next-of-{task_id}")

    async def record_reminder(
        self, task_id: str, fire_at: datetime, title: str
    ) -> tuple[str, bool]:
        key = (task_id, fire_at)
        created = key not in self.notifications
        self.notifications.add(key)
        return f"n-{task_id}-{fire_at.isoformat()}", created


def snapshot(**changes: Any) -> TaskSnapshot:
    base: dict[str, Any] = {
        "id": "t1",
        "owner_id": "u1",
        "title": "T",
        "status": "open",
        "priority": "medium",
        "due_at": NOW + timedelta(hours=2),
        "reminders": [
            ReminderSpec(kind=ReminderKind.BEFORE_DUE, minutes_before=30),
            ReminderSpec(kind=ReminderKind.ABSOLUTE, at=NOW + timedelta(minutes=10)),
        ],
        "series_id": "t1",
        "version": 1,
    }
    return TaskSnapshot.model_validate({**base, **changes})


@pytest.fixture
def parts() -> tuple[FakeScheduler, FakeTasks, ReminderService, TaskEventHandler]:
    scheduler, tasks = FakeScheduler(), FakeTasks()
    reminders = ReminderService(scheduler, tasks)
    return scheduler, tasks, reminders, TaskEventHandler(reminders, tasks)


async def test_created_task_schedules_its_earliest_future_reminder(parts: Any) -> None:
    scheduler, _, _, handler = parts
    await handler(task_event(EventType.TASK_CREATED, snapshot(), time=NOW))
    due_at, payload = scheduler.jobs["reminder-t1"]
    assert due_at == NOW + timedelta(minutes=10)
    assert payload == {"task_id": "t1", "owner_id": "u1", "fire_at": "2026-11-26T12:10:00Z"}


async def test_reminders_in_the_past_at_creation_are_skipped(parts: Any) -> None:
    scheduler, _, _, handler = parts
    task = snapshot(reminders=[ReminderSpec(kind=ReminderKind.ABSOLUTE, at=NOW - timedelta(1))])
    await handler(task_event(EventType.TASK_CREATED, task, time=NOW))
    assert scheduler.jobs == {}


@pytest.mark.parametrize("event_type", [EventType.TASK_COMPLETED, EventType.TASK_DELETED])
async def test_closing_a_task_cancels_its_reminder(parts: Any, event_type: EventType) -> None:
    scheduler, _, _, handler = parts
    await handler(task_event(EventType.TASK_CREATED, snapshot(), time=NOW))
    closed = snapshot(status="completed" if event_type is EventType.TASK_COMPLETED else "open")
    await handler(task_event(event_type, closed, time=NOW))
    assert scheduler.jobs == {}


async def test_firing_notifies_once_then_schedules_the_next(parts: Any) -> None:
    scheduler, tasks, reminders, _ = parts
    tasks.tasks["t1"] = snapshot()
    payload = {
        "task_id": "t1",
        "owner_id": "u1",
        "fire_at": (NOW + timedelta(minutes=10)).isoformat(),
    }
    await reminders.on_job("reminder-t1", payload)
    await reminders.on_job("reminder-t1", payload)
    assert tasks.notifications == {("t1", NOW + timedelta(minutes=10))}
    assert scheduler.jobs["reminder-t1"][0] == NOW + timedelta(minutes=90)


async def test_stale_or_closed_jobs_notify_nothing(parts: Any) -> None:
    _, tasks, reminders, _ = parts
    stale = {
        "task_id": "t1",
        "owner_id": "u1",
        "fire_at": (NOW + timedelta(minutes=11)).isoformat(),
    }
    tasks.tasks["t1"] = snapshot()
    await reminders.on_job("reminder-t1", stale)
    tasks.tasks["t1"] = snapshot(status="completed")
    current = {**stale, "fire_at": (NOW + timedelta(minutes=10)).isoformat()}
    await reminders.on_job("reminder-t1", current)
    del tasks.tasks["t1"]
    await reminders.on_job("reminder-t1", current)
    assert tasks.notifications == set()


async def test_malformed_job_payload_is_permanent(parts: Any) -> None:
    _, _, reminders, _ = parts
    with pytest.raises(PermanentEventError):
        await reminders.on_job("reminder-x", {"task_id": "x"})


async def test_completion_of_a_recurring_task_asks_for_the_next_once_per_event(
    parts: Any,
) -> None:
    _, tasks, _, handler = parts
    rule = RecurrenceRule(frequency=Frequency.DAILY)
    event = task_event(EventType.TASK_COMPLETED, snapshot(status="completed", recurrence=rule))
    await handler(event)
    await handler(event)
    assert tasks.occurrences == {event.id: "next-of-t1"}
    plain = task_event(EventType.TASK_COMPLETED, snapshot(status="completed"))
    await handler(plain)
    assert plain.id not in tasks.occurrences


async def test_a_bad_payload_is_permanent(parts: Any) -> None:
    _, _, _, handler = parts
    event = task_event(EventType.TASK_CREATED, snapshot())
    event.data = {"task": {"id": "only"}}
    with pytest.raises(PermanentEventError):
        await handler(event)


@dataclass
class CountingScheduler(FakeScheduler):
    calls: int = 0

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        self.calls += 1
        await super().schedule(name, due_at, payload)

    async def cancel(self, name: str) -> None:
        self.calls += 1
        await super().cancel(name)


@pytest.mark.parametrize(
    ("event_type", "task", "changed", "touches"),
    [
        (EventType.TASK_CREATED, {"reminders": []}, [], False),
        (EventType.TASK_UPDATED, {}, ["title", "tags"], False),
        (EventType.TASK_UPDATED, {}, ["due_at"], True),
        (EventType.TASK_UPDATED, {"reminders": []}, ["reminders"], True),
        (EventType.TASK_COMPLETED, {"status": "completed", "reminders": []}, ["status"], False),
        (EventType.TASK_COMPLETED, {"status": "completed"}, ["status"], True),
        (EventType.TASK_DELETED, {"reminders": []}, [], False),
        (EventType.TASK_DELETED, {}, [], True),
    ],
)
async def test_only_changes_that_can_move_a_reminder_touch_the_scheduler(
    event_type: EventType, task: dict[str, Any], changed: list[str], touches: bool
) -> None:
    scheduler, tasks = CountingScheduler(), FakeTasks()
    handler = TaskEventHandler(ReminderService(scheduler, tasks), tasks)
    await handler(task_event(event_type, snapshot(**task), changed_fields=changed, time=NOW))
    assert (scheduler.calls > 0) is touches
