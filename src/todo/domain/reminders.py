"""When a task's reminders fire: pure functions over a task snapshot."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from todo.domain.events import ReminderKind, ReminderSpec

REMINDER_JOB_PREFIX = "reminder-"


def reminder_job_name(task_id: str) -> str:
    """One job per task: it always stands for the task's next reminder."""
    return f"{REMINDER_JOB_PREFIX}{task_id}"


def fire_times(
    reminders: Iterable[ReminderSpec],
    due_at: datetime | None,
    snoozed_until: datetime | None = None,
) -> list[datetime]:
    """Every instant at which the task reminds, sorted, in UTC, without duplicates.

    A reminder relative to the due date has no instant while the task has no due date. An
    instant outside what a datetime can hold (a row stored before inputs were bounded)
    has none either: it can never fire, and it must not break the task's reading."""
    times: set[datetime] = set()
    for reminder in reminders:
        try:
            if reminder.kind is ReminderKind.ABSOLUTE and reminder.at is not None:
                times.add(reminder.at.astimezone(UTC))
            elif reminder.kind is ReminderKind.BEFORE_DUE and due_at is not None:
                before = timedelta(minutes=reminder.minutes_before or 0)
                times.add((due_at - before).astimezone(UTC))
        except OverflowError:
            continue
    if snoozed_until is not None:
        times.add(snoozed_until.astimezone(UTC))
    return sorted(times)


def next_fire_time(
    times: Iterable[datetime], after: datetime, *, inclusive: bool
) -> datetime | None:
    """The first fire time at or after (`inclusive`) / strictly after `after`."""
    for t in sorted(times):
        if t > after or (inclusive and t == after):
            return t
    return None
