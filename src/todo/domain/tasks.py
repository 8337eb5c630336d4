"""Task rules: what a task is made of and which states and changes are allowed.

Pure functions and value types only: persistence and HTTP live above, and both shapes
(embedded and distributed) apply the same rules.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from todo.domain.errors import InvalidChange
from todo.domain.events import ReminderKind, ReminderSpec
from todo.domain.recurrence import RecurrenceRule


class TaskStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"


class Priority(StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    URGENT = "urgent"

    @property
    def rank(self) -> int:
        """Sort key: higher is more urgent."""
        return _RANK[self]


_RANK = {Priority.LOW: 0, Priority.MEDIUM: 1, Priority.HIGH: 2, Priority.URGENT: 3}

MAX_TAGS = 20
MAX_TAG_LENGTH = 40
MAX_REMINDERS = 10


def normalise_tags(tags: Sequence[str]) -> list[str]:
    """Lower-cased, stripped, unique, in first-seen order; refuses what cannot be a tag."""
    seen: dict[str, None] = {}
    for raw in tags:
        tag = raw.strip().lower()
        if not tag:
            raise ValueError("tags must not be empty strings")
        if len(tag) > MAX_TAG_LENGTH:
            raise ValueError(f"tag {tag[:MAX_TAG_LENGTH]!r}... is longer than 40 characters")
        if any(c.isspace() or c == "," for c in tag):
            raise ValueError(f"tag {tag!r} must not contain spaces or commas")
        seen[tag] = None
    if len(seen) > MAX_TAGS:
        raise ValueError(f"at most {MAX_TAGS} tags per task")
    return list(seen)


def check_schedule(
    reminders: Sequence[ReminderSpec],
    recurrence: RecurrenceRule | None,
    due_at: datetime | None,
) -> None:
    """Reminders relative to the due date, and recurrence, need a due date; a repeat
    cannot end before it begins."""
    if due_at is None and any(r.kind is ReminderKind.BEFORE_DUE for r in reminders):
        raise InvalidChange("reminders", "a before_due reminder needs the task to have a due_at")
    if recurrence is not None and due_at is None:
        raise InvalidChange("recurrence", "a recurring task needs a due_at to recur from")
    until = recurrence.until if recurrence is not None else None
    if until is not None and due_at is not None and until < due_at:
        raise InvalidChange(
            "recurrence", "the repeat ends (until) before the first due date (due_at)"
        )


def shifted_reminders(reminders: Sequence[ReminderSpec], shift: timedelta) -> list[ReminderSpec]:
    """The reminders of the next occurrence: absolute ones move with the due date,
    relative ones follow it by themselves."""
    return [r.model_copy(update={"at": r.at + shift}) if r.at is not None else r for r in reminders]
