"""Changing tasks: every change is one compare-and-set and commits with its events.

Each state change is a single `UPDATE ... WHERE version = :read` (or a `DELETE` of that
version) that returns the new row, on PostgreSQL and SQLite alike: of N concurrent
writers of one version exactly one wins. A writer that named the version it read
(`If-Match`, or `version` in the body) and lost gets `VersionConflict`; one that did not
re-reads and applies its change on top of the winner's, so no field is lost. The events
of a change are staged in the same transaction (the outbox), and the commit wakes the
relay by itself (`todo.backend.outbox.OutboxSignal`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError
from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend.models import TASK_TAGS, TASKS, TaskCreate, TaskPublic, TaskUpdate, new_id, utcnow
from todo.backend.outbox import add_event
from todo.backend.tasks import created_in_one_statement
from todo.backend.tasks.queries import (
    StoredTask,
    TaskRow,
    get_owned,
    snapshot,
    tags_of,
    to_public,
)
from todo.domain.errors import InvalidChange, Uncomputable, VersionConflict
from todo.domain.events import (
    CloudEvent,
    EventType,
    RefreshData,
    ReminderSpec,
    refresh_event,
    task_event,
)
from todo.domain.recurrence import next_occurrence
from todo.domain.tasks import TaskStatus, check_schedule, shifted_reminders
from todo.shared.db import DEFER_TO_COMMIT, dialect_name, in_utc

log = logging.getLogger(__name__)

# Built once: a statement with its values in it is built, keyed and looked up in the
# compiled cache on every call; these take their rows as parameters and are the same
# object each time. Their result is never read, so they wait for the commit.
_INSERT_TASK = insert(TASKS).execution_options(**DEFER_TO_COMMIT)
_INSERT_TAGS = insert(TASK_TAGS).execution_options(**DEFER_TO_COMMIT)

# A writer without If-Match that keeps losing to others re-reads this often, then gives
# up with a conflict (only a storm of writers on one task gets there).
MAX_REAPPLY = 20


def _events(
    event_type: EventType,
    task: TaskRow,
    tags: list[str],
    changed: list[str] | None = None,
    *,
    deleted: bool = False,
) -> tuple[CloudEvent, CloudEvent]:
    """The events of a change: the task's own, and the refresh its owner's views follow."""
    state = snapshot(task, tags)
    # An event's time is when its change happened: the row's update, or now for a deletion
    # (the deleted row still holds the time of its last update, maybe long before).
    at = task.updated_at
    if deleted:
        state = state.model_copy(update={"version": task.version + 1})
        at = utcnow()
    return (
        task_event(event_type, state, changed_fields=changed, time=at),
        refresh_event(
            RefreshData(
                owner_id=task.owner_id, kind="task", task_id=task.id, reason=event_type.value
            )
        ),
    )


def _emit(
    session: AsyncSession,
    event_type: EventType,
    task: TaskRow,
    tags: list[str],
    changed: list[str] | None = None,
    *,
    deleted: bool = False,
) -> None:
    for event in _events(event_type, task, tags, changed, deleted=deleted):
        add_event(session, event)


async def _set_tags(
    session: AsyncSession, task_id: str, owner_id: str, tags: list[str], *, new: bool = False
) -> None:
    # A task created in this transaction has no tags to replace: one statement fewer on
    # the write path (on SQLite, one hop fewer while the single writer connection is held).
    if not new:
        await session.execute(delete(TASK_TAGS).where(TASK_TAGS.c.task_id == task_id))
    if tags:
        await session.execute(
            _INSERT_TAGS,
            [{"task_id": task_id, "tag": t, "owner_id": owner_id} for t in tags],
        )


async def _compare_and_set(
    session: AsyncSession, task: TaskRow, values: Mapping[str, Any], *conditions: Any
) -> Any | None:
    """Write `values` over exactly the version read; None when another writer was first."""
    statement = (
        update(TASKS)
        .where(TASKS.c.id == task.id, TASKS.c.version == task.version, *conditions)
        .values(**values, version=task.version + 1)
        .returning(*TASKS.c)
    )
    return (await session.execute(statement)).one_or_none()


def _expect(task: TaskRow, version: int | None, via: Literal["if-match", "body"]) -> None:
    if version is not None and version != task.version:
        raise VersionConflict(task.version, version, via)


async def create_task(
    session: AsyncSession,
    owner_id: str,
    data: TaskCreate,
    *,
    series: tuple[str, datetime | None, int] | None = None,
    origin_key: str | None = None,
) -> TaskPublic:
    check_schedule(data.reminders, data.recurrence, data.due_at)
    now = utcnow()
    task_id = new_id()
    due_at = in_utc(data.due_at)
    series_id, series_start, number = series or (task_id, due_at, 1)
    # No RETURNING: the row is what is written (instants in UTC, as the table hands them
    # back). On PostgreSQL the task, its tags and its events are one statement, one round
    # trip (`created_in_one_statement`). On SQLite the INSERTs wait for the commit, and the
    # whole create is one call on the writer connection. A constraint it breaks (a
    # recurrence's successor made twice) is raised by that statement or the commit.
    row = StoredTask(
        id=task_id,
        owner_id=owner_id,
        title=data.title,
        notes=data.notes,
        status=TaskStatus.OPEN,
        priority=data.priority,
        due_at=due_at,
        time_zone=data.time_zone,
        reminders=[ReminderSpec.model_validate(r.model_dump()) for r in data.reminders],
        snoozed_until=None,
        recurrence=data.recurrence,
        series_id=series_id,
        series_start=in_utc(series_start),
        occurrence_number=number,
        completed_at=None,
        created_at=now,
        updated_at=now,
        version=1,
    )
    values = {**row._asdict(), "priority_rank": data.priority.rank, "origin_key": origin_key}
    if dialect_name(session) == "postgresql":
        events = _events(EventType.TASK_CREATED, row, data.tags)
        await created_in_one_statement.insert_created(session, values, data.tags, events)
    else:
        await session.execute(_INSERT_TASK, values)
        await _set_tags(session, task_id, owner_id, data.tags, new=True)
        _emit(session, EventType.TASK_CREATED, row, data.tags)
    await session.commit()
    return to_public(row, data.tags)


def _updated_values(task: TaskRow, data: TaskUpdate, fields: set[str]) -> dict[str, Any]:
    """The columns a PATCH changes, applied to the version read."""
    for name in ("title", "priority", "time_zone", "notes"):
        if name in fields and getattr(data, name) is None:
            raise InvalidChange(name, "must not be null")
    values: dict[str, Any] = {}
    for name in ("title", "notes", "time_zone"):
        if name in fields:
            values[name] = getattr(data, name)
    if "priority" in fields and data.priority is not None:
        values["priority"] = data.priority
        values["priority_rank"] = data.priority.rank
    due_at = task.due_at
    series_start = task.series_start
    if "due_at" in fields:
        due_at = values["due_at"] = data.due_at
        if task.occurrence_number == 1:
            series_start = values["series_start"] = data.due_at
        # A new due date ends any snooze of the old one.
        values["snoozed_until"] = None
    reminders = task.reminders
    if "reminders" in fields:
        reminders = values["reminders"] = [
            ReminderSpec.model_validate(r.model_dump()) for r in data.reminders or []
        ]
    recurrence = task.recurrence
    if "recurrence" in fields:
        recurrence = values["recurrence"] = data.recurrence
        if recurrence is not None and series_start is None:
            values["series_start"] = due_at
    check_schedule(reminders, recurrence, due_at)
    return values


async def update_task(
    session: AsyncSession,
    owner_id: str,
    task_id: str,
    data: TaskUpdate,
    *,
    if_match: int | None = None,
) -> TaskPublic:
    fields = data.model_fields_set - {"version"}
    for _ in range(MAX_REAPPLY):
        task = await get_owned(session, owner_id, task_id)
        _expect(task, if_match, "if-match")
        _expect(task, data.version, "body")
        if not fields:
            return to_public(task, (await tags_of(session, [task_id]))[task_id])
        values = _updated_values(task, data, fields)
        values["updated_at"] = utcnow()
        updated = await _compare_and_set(session, task, values)
        if updated is None:
            await session.rollback()
            continue
        if "tags" in fields:
            tags = data.tags or []
            await _set_tags(session, task_id, owner_id, tags)
        else:
            tags = (await tags_of(session, [task_id]))[task_id]
        _emit(session, EventType.TASK_UPDATED, updated, tags, sorted(fields))
        await session.commit()
        return to_public(updated, tags)
    raise _still_contended(task)


def _still_contended(task: TaskRow) -> VersionConflict:
    log.warning("task write kept losing to other writers", extra={"task_id": task.id})
    return VersionConflict(task.version + 1, task.version, "if-match")


async def set_status(
    session: AsyncSession,
    owner_id: str,
    task_id: str,
    completed: bool,
    *,
    if_match: int | None = None,
) -> TaskPublic:
    target = TaskStatus.COMPLETED if completed else TaskStatus.OPEN
    for _ in range(MAX_REAPPLY):
        task = await get_owned(session, owner_id, task_id)
        _expect(task, if_match, "if-match")
        if task.status is target:
            # Completing a completed task (a retried click, a concurrent one) changes
            # nothing and emits nothing.
            return to_public(task, (await tags_of(session, [task_id]))[task_id])
        now = utcnow()
        values = {
            "status": target,
            "completed_at": now if completed else None,
            "snoozed_until": None,
            "updated_at": now,
        }
        updated = await _compare_and_set(session, task, values, TASKS.c.status != target)
        if updated is None:
            await session.rollback()
            continue
        tags = (await tags_of(session, [task_id]))[task_id]
        event_type = EventType.TASK_COMPLETED if completed else EventType.TASK_REOPENED
        _emit(session, event_type, updated, tags, ["status"])
        if not completed:
            await _withdraw_generated_successor(session, updated)
        await session.commit()
        return to_public(updated, tags)
    raise _still_contended(task)


async def _withdraw_generated_successor(session: AsyncSession, task: TaskRow) -> None:
    """Reopening takes a completion back: the next occurrence that completion generated
    goes too, if nobody has touched it since, so the series never has two open
    occurrences (completing again generates it again)."""
    successor = (
        await session.execute(
            delete(TASKS)
            .where(
                TASKS.c.series_id == task.series_id,
                TASKS.c.occurrence_number == task.occurrence_number + 1,
                TASKS.c.origin_key.is_not(None),
                TASKS.c.status == TaskStatus.OPEN,
                TASKS.c.version == 1,
            )
            .returning(*TASKS.c)
        )
    ).one_or_none()
    if successor is None:
        return
    tags = (await tags_of(session, [successor.id]))[successor.id]
    await session.execute(delete(TASK_TAGS).where(TASK_TAGS.c.task_id == successor.id))
    _emit(session, EventType.TASK_DELETED, successor, tags, deleted=True)


async def snooze(session: AsyncSession, owner_id: str, task_id: str, until: datetime) -> TaskPublic:
    if until <= utcnow():
        raise InvalidChange("until", "must be in the future")
    for _ in range(MAX_REAPPLY):
        task = await get_owned(session, owner_id, task_id)
        if task.status is not TaskStatus.OPEN:
            raise InvalidChange("task", "only an open task can be snoozed")
        values = {"snoozed_until": until, "updated_at": utcnow()}
        updated = await _compare_and_set(session, task, values, TASKS.c.status == TaskStatus.OPEN)
        if updated is None:
            await session.rollback()
            continue
        tags = (await tags_of(session, [task_id]))[task_id]
        _emit(session, EventType.TASK_UPDATED, updated, tags, ["snoozed_until"])
        await session.commit()
        return to_public(updated, tags)
    raise _still_contended(task)


def snooze_until(minutes: int | None, until: datetime | None) -> datetime:
    return until if until is not None else utcnow() + timedelta(minutes=minutes or 0)


async def delete_task(
    session: AsyncSession, owner_id: str, task_id: str, *, if_match: int | None = None
) -> None:
    for _ in range(MAX_REAPPLY):
        task = await get_owned(session, owner_id, task_id)
        _expect(task, if_match, "if-match")
        tags = (await tags_of(session, [task_id]))[task_id]
        deleted = (
            await session.execute(
                delete(TASKS)
                .where(TASKS.c.id == task_id, TASKS.c.version == task.version)
                .returning(*TASKS.c)
            )
        ).one_or_none()
        if deleted is None:
            await session.rollback()
            continue
        await session.execute(delete(TASK_TAGS).where(TASK_TAGS.c.task_id == task_id))
        _emit(session, EventType.TASK_DELETED, deleted, tags, deleted=True)
        await session.commit()
        return
    raise _still_contended(task)


async def create_next_occurrence(
    session: AsyncSession, task_id: str, idempotency_key: str
) -> str | None:
    """The occurrence after `task_id`, made once: returns its id (also when it already
    existed), or None when the series is over, or the task is gone or open again.

    The occurrence is unique by (series, number) in the database. The source row is
    locked first by a no-op update that also checks it is still completed (PostgreSQL's
    row lock, SQLite's write lock): a concurrent reopen either commits before (and this
    sees an open task) or after (and withdraws what this made)."""
    source = (
        await session.execute(
            update(TASKS)
            .where(TASKS.c.id == task_id, TASKS.c.status == TaskStatus.COMPLETED)
            .values(version=TASKS.c.version)
            .returning(*TASKS.c)
        )
    ).one_or_none()
    if source is None or source.recurrence is None or source.due_at is None:
        await session.rollback()
        return None
    existing = await _successor_id(session, source)
    if existing is not None:
        await session.rollback()
        return existing
    try:
        # Off the event loop: a step costs microseconds, but a rule whose next occurrence is
        # far off (or absent) costs a bounded search of milliseconds.
        following = await asyncio.to_thread(
            next_occurrence,
            source.recurrence,
            series_start=source.series_start or source.due_at,
            current_due=source.due_at,
            time_zone=source.time_zone,
            occurrence_number=source.occurrence_number,
            completed_at=source.completed_at or utcnow(),
        )
    except (ValueError, OverflowError) as exc:
        await session.rollback()
        raise Uncomputable("recurrence", f"no next occurrence can be computed: {exc}") from exc
    if following is None:
        await session.rollback()
        return None
    due = following.due_at
    tags = (await tags_of(session, [task_id]))[task_id]
    try:
        data = TaskCreate.model_validate(
            {
                "title": source.title,
                "notes": source.notes,
                "priority": source.priority,
                "tags": tags,
                "due_at": due,
                "time_zone": source.time_zone,
                "reminders": [
                    r.model_dump() for r in shifted_reminders(source.reminders, due - source.due_at)
                ],
                "recurrence": source.recurrence,
            }
        )
    except (ValidationError, OverflowError) as exc:
        await session.rollback()
        raise Uncomputable("recurrence", f"the next occurrence is out of range: {exc}") from exc
    try:
        created = await create_task(
            session,
            source.owner_id,
            data,
            series=(source.series_id, source.series_start, following.number),
            origin_key=idempotency_key,
        )
    except IntegrityError:
        # Another delivery made it first (same key, or the same (series, number)).
        await session.rollback()
        return await _successor_id(session, source)
    return created.id


async def _successor_id(session: AsyncSession, task: TaskRow) -> str | None:
    found: str | None = await session.scalar(
        select(TASKS.c.id).where(
            TASKS.c.series_id == task.series_id,
            TASKS.c.occurrence_number == task.occurrence_number + 1,
        )
    )
    return found
