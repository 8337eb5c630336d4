"""Task use cases: every state change commits together with its events in the outbox."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Select, and_, exists, func, literal_column, or_, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, delete, select

from todo.backend.models import (
    PRIORITY_RANK,
    TASK_SEARCH_DOCUMENT,
    Notification,
    Priority,
    ReminderIn,
    Task,
    TaskCreate,
    TaskPublic,
    TaskStatus,
    TaskTag,
    TaskUpdate,
    new_id,
    utcnow,
)
from todo.backend.outbox import add_event
from todo.domain.events import (
    EventType,
    RefreshData,
    ReminderDueData,
    ReminderSpec,
    TaskSnapshot,
    refresh_event,
    reminder_due_event,
    task_event,
)
from todo.domain.recurrence import RecurrenceRule, next_occurrence
from todo.domain.reminders import fire_times, next_fire_time
from todo.shared.db import dialect_name


class TaskNotFound(Exception):
    pass


class VersionConflict(Exception):
    def __init__(self, current: int, expected: int, via: Literal["if-match", "body"]) -> None:
        super().__init__(f"task is at version {current}, not {expected}")
        self.current = current
        self.expected = expected
        self.via = via


class InvalidChange(Exception):
    """A request that is well-formed but not allowed by the task's state (HTTP 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


SortKey = Literal["due", "-due", "priority", "-priority", "created", "-created", "title", "-title"]


@dataclass(frozen=True)
class TaskQuery:
    q: str | None = None
    status: TaskStatus | None = None
    priority: list[Priority] | None = None
    tag: list[str] | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    overdue: bool | None = None
    sort: SortKey = "due"
    limit: int = 50
    offset: int = 0


# --- conversions ---------------------------------------------------------------------


def _reminders(task: Task) -> list[ReminderSpec]:
    return [ReminderSpec.model_validate(r) for r in task.reminders]


def _recurrence(task: Task) -> RecurrenceRule | None:
    return RecurrenceRule.model_validate(task.recurrence) if task.recurrence else None


def snapshot(task: Task, tags: list[str]) -> TaskSnapshot:
    return TaskSnapshot(
        id=task.id,
        owner_id=task.owner_id,
        title=task.title,
        notes=task.notes,
        status="completed" if task.status == TaskStatus.COMPLETED else "open",
        priority=task.priority,
        tags=tags,
        due_at=task.due_at,
        time_zone=task.time_zone,
        reminders=_reminders(task),
        snoozed_until=task.snoozed_until,
        recurrence=_recurrence(task),
        series_id=task.series_id,
        series_start=task.series_start,
        occurrence_number=task.occurrence_number,
        completed_at=task.completed_at,
        version=task.version,
    )


def to_public(task: Task, tags: list[str], now: datetime | None = None) -> TaskPublic:
    now = now or datetime.now(UTC)
    rule = _recurrence(task)
    times = fire_times(_reminders(task), task.due_at, task.snoozed_until)
    is_open = task.status == TaskStatus.OPEN
    return TaskPublic(
        id=task.id,
        title=task.title,
        notes=task.notes,
        status=TaskStatus(task.status),
        priority=Priority(task.priority),
        tags=tags,
        due_at=task.due_at,
        time_zone=task.time_zone,
        reminders=_reminders(task),
        snoozed_until=task.snoozed_until,
        next_reminder_at=next_fire_time(times, now, inclusive=True) if is_open else None,
        recurrence=rule,
        recurrence_text=rule.describe() if rule else None,
        series_id=task.series_id,
        occurrence_number=task.occurrence_number,
        completed_at=task.completed_at,
        created_at=task.created_at,
        updated_at=task.updated_at,
        version=task.version,
        overdue=is_open and task.due_at is not None and task.due_at < now,
    )


# --- reads ---------------------------------------------------------------------------


async def tags_of(session: AsyncSession, task_ids: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {tid: [] for tid in task_ids}
    if not task_ids:
        return out
    rows = await session.execute(
        select(TaskTag.task_id, TaskTag.tag).where(col(TaskTag.task_id).in_(task_ids))
    )
    for task_id, tag in rows.all():
        out[task_id].append(tag)
    # Sorted here, not by the database's collation: the same order as list_tasks gives.
    return {task_id: sorted(tags) for task_id, tags in out.items()}


async def get_owned(session: AsyncSession, owner_id: str, task_id: str) -> Task:
    """The caller's task; another user's task is as absent as a missing one."""
    task = await session.get(Task, task_id)
    if task is None or task.owner_id != owner_id:
        raise TaskNotFound(task_id)
    return task


def _search_clause(dialect: str, q: str) -> Any:
    """Every word of `q` must start a word of the title or notes (PostgreSQL: full-text
    index with prefix matching) or occur in them (SQLite)."""
    terms = re.findall(r"\w+", q.lower())
    if not terms:
        return true()
    if dialect == "postgresql":
        query = " & ".join(f"{term}:*" for term in terms)
        document: Any = literal_column(TASK_SEARCH_DOCUMENT)
        return document.op("@@")(func.to_tsquery(literal_column("'simple'"), query))
    clauses = []
    for term in terms:
        pattern = f"%{term.replace('_', '')}%"
        clauses.append(or_(col(Task.title).ilike(pattern), col(Task.notes).ilike(pattern)))
    return and_(*clauses)


def _filtered(owner_id: str, query: TaskQuery, dialect: str, now: datetime) -> Select[Any]:
    stmt: Select[Any] = select(Task).where(col(Task.owner_id) == owner_id)
    if query.q and query.q.strip():
        stmt = stmt.where(_search_clause(dialect, query.q.strip()))
    if query.status is not None:
        stmt = stmt.where(col(Task.status) == query.status.value)
    if query.priority:
        stmt = stmt.where(col(Task.priority).in_([p.value for p in query.priority]))
    for tag in query.tag or []:
        stmt = stmt.where(
            exists().where(
                and_(col(TaskTag.task_id) == col(Task.id), col(TaskTag.tag) == tag.lower())
            )
        )
    if query.due_after is not None:
        stmt = stmt.where(col(Task.due_at) >= query.due_after)
    if query.due_before is not None:
        stmt = stmt.where(col(Task.due_at) < query.due_before)
    if query.overdue is True:
        stmt = stmt.where(col(Task.status) == TaskStatus.OPEN.value, col(Task.due_at) < now)
    elif query.overdue is False:
        stmt = stmt.where(or_(col(Task.due_at).is_(None), col(Task.due_at) >= now))
    return stmt


def _ordered(stmt: Select[Any], sort: SortKey) -> Select[Any]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column: Any = {
        "due": col(Task.due_at),
        "priority": col(Task.priority_rank),
        "created": col(Task.created_at),
        "title": func.lower(col(Task.title)),
    }[key]
    if key == "priority":
        # "priority" means most urgent first; "-priority" the reverse.
        descending = not descending
    primary = column.desc() if descending else column.asc()
    # Tasks without a due date go last whichever the direction.
    nulls = [col(Task.due_at).is_(None).asc()] if key == "due" else []
    return stmt.order_by(*nulls, primary, col(Task.created_at).asc(), col(Task.id).asc())


async def list_tasks(
    session: AsyncSession, owner_id: str, query: TaskQuery
) -> tuple[list[TaskPublic], int]:
    now = datetime.now(UTC)
    dialect = dialect_name(session)
    base = _filtered(owner_id, query, dialect, now)
    # One query for the page: the total rides along as a window count and each task's
    # tags as a comma-joined aggregate (tags cannot hold commas), instead of a count query
    # before and a tags query after (list is 40% of the requests under load).
    page = (
        _ordered(
            base.add_columns(func.count().over().label("total"), _joined_tags(dialect)),
            query.sort,
        )
        .limit(query.limit)
        .offset(query.offset)
    )
    result = (await session.execute(page)).all()
    if result:
        total = int(result[0].total)
    elif query.offset == 0:
        total = 0
    else:
        # A page past the end has no row to carry the total: count separately.
        total = int(await session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    return [
        to_public(row[0], sorted(row.tags.split(",")) if row.tags else [], now) for row in result
    ], total


def _joined_tags(dialect: str) -> Any:
    """A task's tags, comma-joined, as a correlated subquery (NULL without tags)."""
    tag = col(TaskTag.tag)
    joined = func.string_agg(tag, ",") if dialect == "postgresql" else func.group_concat(tag, ",")
    return (
        select(joined)
        .where(col(TaskTag.task_id) == col(Task.id))
        .correlate(Task)
        .scalar_subquery()
        .label("tags")
    )


# --- writes --------------------------------------------------------------------------


async def _set_tags(session: AsyncSession, task: Task, tags: list[str]) -> None:
    await session.execute(delete(TaskTag).where(col(TaskTag.task_id) == task.id))
    for tag in tags:
        session.add(TaskTag(task_id=task.id, tag=tag, owner_id=task.owner_id))


def _emit(
    session: AsyncSession,
    event_type: EventType,
    task: Task,
    tags: list[str],
    changed: list[str] | None = None,
) -> None:
    add_event(
        session,
        task_event(event_type, snapshot(task, tags), changed_fields=changed, time=task.updated_at),
    )
    add_event(
        session,
        refresh_event(
            RefreshData(
                owner_id=task.owner_id, kind="task", task_id=task.id, reason=event_type.value
            )
        ),
    )


def _check_reminders_have_due(reminders: list[dict[str, Any]], due_at: datetime | None) -> None:
    if due_at is None and any(r["kind"] == "before_due" for r in reminders):
        raise InvalidChange("reminders", "a before_due reminder needs the task to have a due_at")


def _check_recurrence_has_due(rule: dict[str, Any] | None, due_at: datetime | None) -> None:
    if rule is not None and due_at is None:
        raise InvalidChange("recurrence", "a recurring task needs a due_at to recur from")
    until = rule.get("until") if rule is not None else None
    if until is not None and due_at is not None and datetime.fromisoformat(until) < due_at:
        raise InvalidChange(
            "recurrence", "the repeat ends (until) before the first due date (due_at)"
        )


async def create_task(
    session: AsyncSession,
    owner_id: str,
    data: TaskCreate,
    *,
    series: tuple[str, datetime | None, int] | None = None,
    origin_key: str | None = None,
) -> TaskPublic:
    reminders = [r.model_dump(mode="json", exclude_none=True) for r in data.reminders]
    recurrence = data.recurrence.model_dump(mode="json") if data.recurrence else None
    _check_reminders_have_due(reminders, data.due_at)
    _check_recurrence_has_due(recurrence, data.due_at)
    now = utcnow()
    task_id = new_id()
    series_id, series_start, number = series or (task_id, data.due_at, 1)
    task = Task(
        id=task_id,
        owner_id=owner_id,
        title=data.title,
        notes=data.notes,
        priority=data.priority.value,
        priority_rank=PRIORITY_RANK[data.priority],
        due_at=data.due_at,
        time_zone=data.time_zone,
        reminders=reminders,
        recurrence=recurrence,
        series_id=series_id,
        series_start=series_start,
        occurrence_number=number,
        origin_key=origin_key,
        created_at=now,
        updated_at=now,
    )
    session.add(task)
    await session.flush()
    await _set_tags(session, task, data.tags)
    _emit(session, EventType.TASK_CREATED, task, data.tags)
    await session.commit()
    return to_public(task, data.tags)


def _check_version(task: Task, if_match: int | None, body_version: int | None) -> None:
    if if_match is not None and if_match != task.version:
        raise VersionConflict(task.version, if_match, "if-match")
    if body_version is not None and body_version != task.version:
        raise VersionConflict(task.version, body_version, "body")


async def update_task(
    session: AsyncSession,
    owner_id: str,
    task_id: str,
    data: TaskUpdate,
    *,
    if_match: int | None = None,
) -> TaskPublic:
    task = await get_owned(session, owner_id, task_id)
    _check_version(task, if_match, data.version)
    fields = data.model_fields_set - {"version"}
    for name in ("title", "priority", "time_zone", "notes"):
        if name in fields and getattr(data, name) is None:
            raise InvalidChange(name, "must not be null")
    tags = (await tags_of(session, [task.id]))[task.id]
    if "title" in fields and data.title is not None:
        task.title = data.title
    if "notes" in fields and data.notes is not None:
        task.notes = data.notes
    if "priority" in fields and data.priority is not None:
        task.priority = data.priority.value
        task.priority_rank = PRIORITY_RANK[data.priority]
    if "time_zone" in fields and data.time_zone is not None:
        task.time_zone = data.time_zone
    if "due_at" in fields:
        task.due_at = data.due_at
        if task.occurrence_number == 1:
            task.series_start = data.due_at
        # A new due date ends any snooze of the old one.
        task.snoozed_until = None
    if "reminders" in fields:
        task.reminders = [
            r.model_dump(mode="json", exclude_none=True) for r in (data.reminders or [])
        ]
    if "recurrence" in fields:
        task.recurrence = data.recurrence.model_dump(mode="json") if data.recurrence else None
        if task.recurrence and task.series_start is None:
            task.series_start = task.due_at
    _check_reminders_have_due(task.reminders, task.due_at)
    _check_recurrence_has_due(task.recurrence, task.due_at)
    if "tags" in fields:
        tags = data.tags or []
        await _set_tags(session, task, tags)
    changed = sorted(fields)
    if not changed:
        return to_public(task, tags)
    task.version += 1
    task.updated_at = utcnow()
    _emit(session, EventType.TASK_UPDATED, task, tags, changed)
    await session.commit()
    return to_public(task, tags)


async def set_status(
    session: AsyncSession,
    owner_id: str,
    task_id: str,
    completed: bool,
    *,
    if_match: int | None = None,
) -> TaskPublic:
    task = await get_owned(session, owner_id, task_id)
    _check_version(task, if_match, None)
    tags = (await tags_of(session, [task.id]))[task.id]
    target = TaskStatus.COMPLETED if completed else TaskStatus.OPEN
    if task.status == target.value:
        # Completing a completed task (a retried click) changes nothing and emits nothing.
        return to_public(task, tags)
    now = utcnow()
    task.status = target.value
    task.completed_at = now if completed else None
    task.snoozed_until = None
    task.version += 1
    task.updated_at = now
    event_type = EventType.TASK_COMPLETED if completed else EventType.TASK_REOPENED
    _emit(session, event_type, task, tags, ["status"])
    if not completed and task.recurrence is not None:
        await _withdraw_next_occurrence(session, task, now)
    await session.commit()
    return to_public(task, tags)


async def _withdraw_next_occurrence(session: AsyncSession, task: Task, now: datetime) -> None:
    """Reopening an occurrence undoes its completion: the occurrence that completion
    created goes away while still open, or the series would hold two open copies."""
    generated = await session.scalar(
        select(Task).where(
            col(Task.series_id) == task.series_id,
            col(Task.occurrence_number) == task.occurrence_number + 1,
            col(Task.status) == TaskStatus.OPEN.value,
            col(Task.origin_key).is_not(None),
        )
    )
    if generated is None:
        return
    tags = (await tags_of(session, [generated.id]))[generated.id]
    generated.version += 1
    generated.updated_at = now
    _emit(session, EventType.TASK_DELETED, generated, tags)
    await session.delete(generated)


async def snooze(session: AsyncSession, owner_id: str, task_id: str, until: datetime) -> TaskPublic:
    task = await get_owned(session, owner_id, task_id)
    if task.status != TaskStatus.OPEN.value:
        raise InvalidChange("task", "only an open task can be snoozed")
    if until <= utcnow():
        raise InvalidChange("until", "must be in the future")
    tags = (await tags_of(session, [task.id]))[task.id]
    task.snoozed_until = until
    task.version += 1
    task.updated_at = utcnow()
    _emit(session, EventType.TASK_UPDATED, task, tags, ["snoozed_until"])
    await session.commit()
    return to_public(task, tags)


def snooze_until(minutes: int | None, until: datetime | None) -> datetime:
    return until if until is not None else utcnow() + timedelta(minutes=minutes or 0)


async def delete_task(
    session: AsyncSession, owner_id: str, task_id: str, *, if_match: int | None = None
) -> None:
    task = await get_owned(session, owner_id, task_id)
    _check_version(task, if_match, None)
    tags = (await tags_of(session, [task.id]))[task.id]
    task.version += 1
    task.updated_at = utcnow()
    _emit(session, EventType.TASK_DELETED, task, tags)
    await session.delete(task)
    await session.commit()


# --- what the worker asks for --------------------------------------------------------


async def load_snapshot(session: AsyncSession, task_id: str) -> TaskSnapshot | None:
    task = await session.get(Task, task_id)
    if task is None:
        return None
    tags = (await tags_of(session, [task.id]))[task.id]
    return snapshot(task, tags)


async def create_next_occurrence(
    session: AsyncSession, task_id: str, idempotency_key: str
) -> str | None:
    """Create the occurrence after `task_id` once per key; returns its id (also when it
    already existed), or None when the series is over, the task is gone or reopened."""
    existing = await session.scalar(select(Task.id).where(col(Task.origin_key) == idempotency_key))
    if existing is not None:
        return existing
    task = await session.get(Task, task_id)
    if task is None or task.recurrence is None or task.due_at is None:
        return None
    if task.status != TaskStatus.COMPLETED.value:
        # Reopened before this completion was handled: the completion was undone.
        return None
    rule = RecurrenceRule.model_validate(task.recurrence)
    due = next_occurrence(
        rule,
        series_start=task.series_start or task.due_at,
        current_due=task.due_at,
        time_zone=task.time_zone,
        occurrence_number=task.occurrence_number,
        completed_at=task.completed_at or utcnow(),
    )
    if due is None:
        return None
    shift = due - task.due_at
    reminders = []
    for r in _reminders(task):
        # Absolute reminders move with the due date; relative ones follow it by themselves.
        moved = r.model_copy(update={"at": r.at + shift}) if r.at is not None else r
        reminders.append(moved)
    tags = (await tags_of(session, [task.id]))[task.id]
    data = TaskCreate(
        title=task.title,
        notes=task.notes,
        priority=Priority(task.priority),
        tags=tags,
        due_at=due,
        time_zone=task.time_zone,
        reminders=[ReminderIn.model_validate(r.model_dump()) for r in reminders],
        recurrence=rule,
    )
    try:
        created = await create_task(
            session,
            task.owner_id,
            data,
            series=(task.series_id, task.series_start, task.occurrence_number + 1),
            origin_key=idempotency_key,
        )
    except IntegrityError:
        # A concurrent delivery of the same event won the unique origin_key.
        await session.rollback()
        return await session.scalar(select(Task.id).where(col(Task.origin_key) == idempotency_key))
    return created.id


async def record_reminder(
    session: AsyncSession, task_id: str, fire_at: datetime, title: str
) -> tuple[str, bool]:
    """One notification per (task, fire time); the reminder event goes out with it."""
    found = await session.scalar(
        select(Notification).where(
            col(Notification.task_id) == task_id, col(Notification.fire_at) == fire_at
        )
    )
    if found is not None:
        return found.id, False
    task = await session.get(Task, task_id)
    if task is None:
        raise TaskNotFound(task_id)
    notification = Notification(
        owner_id=task.owner_id, task_id=task_id, title=title, fire_at=fire_at
    )
    session.add(notification)
    add_event(
        session,
        reminder_due_event(
            ReminderDueData(
                task_id=task_id,
                owner_id=task.owner_id,
                title=title,
                fire_at=fire_at,
                due_at=task.due_at,
                notification_id=notification.id,
            )
        ),
    )
    add_event(
        session,
        refresh_event(
            RefreshData(
                owner_id=task.owner_id, kind="notification", task_id=task_id, reason="reminder"
            )
        ),
    )
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        again = await session.scalar(
            select(Notification.id).where(
                col(Notification.task_id) == task_id, col(Notification.fire_at) == fire_at
            )
        )
        if again is None:
            raise
        return again, False
    return notification.id, True
