"""Reading tasks: one task, a filtered page, the snapshot events carry.

Reads are Core statements over the tasks table: rows come back typed (enums, reminder
and recurrence models) from the column types, and no ORM object is built for a read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, lru_cache
from operator import itemgetter
from typing import Any, Literal, NamedTuple, Protocol

from sqlalchemy import (
    Integer,
    Select,
    String,
    and_,
    any_,
    bindparam,
    exists,
    func,
    literal_column,
    or_,
    select,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend.models import TASK_SEARCH_DOCUMENT, TASK_TAGS, TASKS, TaskJson, TaskPublic
from todo.domain.errors import NotFound
from todo.domain.events import ReminderSpec, TaskSnapshot
from todo.domain.recurrence import RecurrenceRule, describe, format_rrule
from todo.domain.reminders import fire_times, next_fire_time
from todo.domain.tasks import Priority, TaskStatus
from todo.shared import driver_statements
from todo.shared.db import dialect_name

SortKey = Literal["due", "-due", "priority", "-priority", "created", "-created", "title", "-title"]


class TaskRow(Protocol):
    """What a stored task offers to read: a row of the tasks table, a `StoredTask` or a
    `Task` (read-only, so a named tuple is one)."""

    @property
    def id(self) -> str: ...

    @property
    def owner_id(self) -> str: ...

    @property
    def title(self) -> str: ...

    @property
    def notes(self) -> str: ...

    @property
    def status(self) -> TaskStatus: ...

    @property
    def priority(self) -> Priority: ...

    @property
    def due_at(self) -> datetime | None: ...

    @property
    def time_zone(self) -> str: ...

    @property
    def reminders(self) -> list[ReminderSpec]: ...

    @property
    def snoozed_until(self) -> datetime | None: ...

    @property
    def recurrence(self) -> RecurrenceRule | None: ...

    @property
    def series_id(self) -> str: ...

    @property
    def series_start(self) -> datetime | None: ...

    @property
    def occurrence_number(self) -> int: ...

    @property
    def completed_at(self) -> datetime | None: ...

    @property
    def created_at(self) -> datetime: ...

    @property
    def updated_at(self) -> datetime: ...

    @property
    def version(self) -> int: ...


class StoredTask(NamedTuple):
    """A row of the tasks table read by position: a page reads 20 fields of 200 rows, and a
    SQLAlchemy row's attribute costs about ten times its index (0.4 against 0.05 us)."""

    id: str
    owner_id: str
    title: str
    notes: str
    status: TaskStatus
    priority: Priority
    due_at: datetime | None
    time_zone: str
    reminders: list[ReminderSpec]
    snoozed_until: datetime | None
    recurrence: RecurrenceRule | None
    series_id: str
    series_start: datetime | None
    occurrence_number: int
    completed_at: datetime | None
    created_at: datetime
    updated_at: datetime
    version: int


@dataclass(frozen=True)
class TaskQuery:
    q: str | None = None
    status: TaskStatus | None = None
    priority: Sequence[Priority] | None = None
    tag: Sequence[str] | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    overdue: bool | None = None
    sort: SortKey = "due"
    limit: int = 50
    offset: int = 0


def snapshot(task: TaskRow, tags: list[str]) -> TaskSnapshot:
    return TaskSnapshot(
        id=task.id,
        owner_id=task.owner_id,
        title=task.title,
        notes=task.notes,
        status=task.status.value,
        priority=task.priority.value,
        tags=tags,
        due_at=task.due_at,
        time_zone=task.time_zone,
        reminders=task.reminders,
        snoozed_until=task.snoozed_until,
        recurrence=task.recurrence,
        series_id=task.series_id,
        series_start=task.series_start,
        occurrence_number=task.occurrence_number,
        completed_at=task.completed_at,
        version=task.version,
    )


# Read once: an enum member looked up on its class is a descriptor call, 200 times a page.
_OPEN = TaskStatus.OPEN


def public_record(task: TaskRow | StoredTask, tags: list[str], now: datetime) -> TaskJson:
    """What the API shows of a task, as a plain record (a row of a page)."""
    is_open = task.status is _OPEN
    next_reminder = None
    if is_open and (task.reminders or task.snoozed_until is not None):
        times = fire_times(task.reminders, task.due_at, task.snoozed_until)
        next_reminder = next_fire_time(times, now, inclusive=True)
    rule = task.recurrence
    return TaskJson(
        title=task.title,
        notes=task.notes,
        priority=task.priority,
        due_at=task.due_at,
        time_zone=task.time_zone,
        id=task.id,
        status=task.status,
        tags=tags,
        reminders=task.reminders,
        snoozed_until=task.snoozed_until,
        next_reminder_at=next_reminder,
        recurrence=rule,
        recurrence_text=describe(rule) if rule else None,
        series_id=task.series_id,
        occurrence_number=task.occurrence_number,
        completed_at=task.completed_at,
        created_at=task.created_at,
        updated_at=task.updated_at,
        version=task.version,
        overdue=is_open and task.due_at is not None and task.due_at < now,
        rrule=format_rrule(rule) if rule else None,
    )


def to_public(task: TaskRow, tags: list[str], now: datetime | None = None) -> TaskPublic:
    record = public_record(task, tags, now or datetime.now(UTC))
    # Built without validation: every value comes typed from the table's own column types.
    # `rrule` is the model's computed field.
    fields = {name: getattr(record, name) for name in TaskPublic.model_fields}
    return TaskPublic.model_construct(**fields)


async def tags_of(session: AsyncSession, task_ids: Sequence[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {tid: [] for tid in task_ids}
    if not task_ids:
        return out
    rows = await session.execute(
        select(TASK_TAGS.c.task_id, TASK_TAGS.c.tag).where(TASK_TAGS.c.task_id.in_(task_ids))
    )
    for task_id, tag in rows.all():
        out[task_id].append(tag)
    # Sorted here, not by the database's collation: the same order as list_tasks gives.
    return {task_id: sorted(tags) for task_id, tags in out.items()}


async def find(session: AsyncSession, task_id: str) -> Any | None:
    """The task's row, whoever owns it (the worker's view), or None."""
    return (await session.execute(select(TASKS).where(TASKS.c.id == task_id))).one_or_none()


async def get_owned(session: AsyncSession, owner_id: str, task_id: str) -> Any:
    """The caller's task row; another user's task is as absent as a missing one."""
    row = (
        await session.execute(
            select(TASKS).where(TASKS.c.id == task_id, TASKS.c.owner_id == owner_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("task", task_id)
    return row


@cache
def _one_with_tags(dialect: str) -> Select[Any]:
    """A task and its tags by id and owner, built once per dialect: building the statement
    and its cache key on every read cost a tenth of a read's CPU."""
    return select(TASKS, _joined_tags(dialect)).where(
        TASKS.c.id == bindparam("task_id"), TASKS.c.owner_id == bindparam("owner_id")
    )


async def get_public(session: AsyncSession, owner_id: str, task_id: str) -> TaskPublic:
    """The caller's task with its tags, in one query."""
    dialect = dialect_name(session)
    statement = _one_with_tags(dialect)
    values = {"task_id": task_id, "owner_id": owner_id}
    if dialect == "postgresql":
        compiled, rows = await driver_statements.fetch(session, statement, values)
        if not rows:
            raise NotFound("task", task_id)
        task, joined = _stored_with_tags(compiled.keys)(rows[0])
    else:
        row = (await session.execute(statement, values)).one_or_none()
        if row is None:
            raise NotFound("task", task_id)
        task, joined = row, row.tags
    return to_public(task, sorted(joined.split(",")) if joined else [])


@cache
def _stored_with_tags(keys: tuple[str, ...]) -> Callable[[Sequence[Any]], tuple[StoredTask, str]]:
    """A row of `keys` (a task's columns and its comma-joined `tags`, in any order) as the
    `StoredTask` and the tags it holds."""
    stored = itemgetter(*(keys.index(name) for name in StoredTask._fields))
    tags_at = keys.index("tags")

    def split(row: Sequence[Any]) -> tuple[StoredTask, str]:
        return StoredTask._make(stored(row)), row[tags_at]

    return split


async def load_snapshot(session: AsyncSession, task_id: str) -> TaskSnapshot | None:
    row = await find(session, task_id)
    if row is None:
        return None
    return snapshot(row, (await tags_of(session, [task_id]))[task_id])


def _search_terms(q: str | None) -> list[str]:
    return re.findall(r"\w+", q.lower()) if q and q.strip() else []


def _search_clause(dialect: str, terms: int) -> Any:
    """Every word searched for must start a word of the title or notes (PostgreSQL:
    full-text index with prefix matching, the words as one tsquery) or occur in them
    (SQLite: one pattern per word)."""
    if dialect == "postgresql":
        document: Any = literal_column(TASK_SEARCH_DOCUMENT)
        query = bindparam("tsquery", type_=String)
        return document.op("@@")(func.to_tsquery(literal_column("'simple'"), query))
    clauses = []
    for i in range(terms):
        pattern = bindparam(f"term_{i}", type_=String)
        clauses.append(or_(TASKS.c.title.ilike(pattern), TASKS.c.notes.ilike(pattern)))
    return and_(*clauses)


@dataclass(frozen=True)
class _PageShape:
    """What a page's statement depends on; the values it is run with are parameters."""

    dialect: str
    sort: SortKey
    terms: int
    status: bool
    priorities: bool
    tags: int
    due_after: bool
    due_before: bool
    overdue: bool | None

    @classmethod
    def of(cls, query: TaskQuery, dialect: str, terms: int) -> _PageShape:
        return cls(
            dialect=dialect,
            sort=query.sort,
            terms=_shape_terms(dialect, terms),
            status=query.status is not None,
            priorities=bool(query.priority),
            tags=len(_distinct_tags(query)),
            due_after=query.due_after is not None,
            due_before=query.due_before is not None,
            overdue=query.overdue,
        )


def _distinct_tags(query: TaskQuery) -> list[str]:
    return list(dict.fromkeys(t.lower() for t in query.tag or []))


def _filtered(shape: _PageShape) -> Select[Any]:
    stmt: Select[Any] = select(TASKS).where(TASKS.c.owner_id == bindparam("owner_id"))
    if shape.terms:
        stmt = stmt.where(_search_clause(shape.dialect, shape.terms))
    if shape.status:
        stmt = stmt.where(TASKS.c.status == bindparam("status"))
    if shape.priorities:
        if shape.dialect == "postgresql":
            # One array parameter: one statement text for any number of priorities.
            wanted = bindparam("priorities", type_=ARRAY(String))
            stmt = stmt.where(TASKS.c.priority == any_(wanted))
        else:
            stmt = stmt.where(TASKS.c.priority.in_(bindparam("priorities", expanding=True)))
    for i in range(shape.tags):
        stmt = stmt.where(
            exists().where(
                and_(TASK_TAGS.c.task_id == TASKS.c.id, TASK_TAGS.c.tag == bindparam(f"tag_{i}"))
            )
        )
    if shape.due_after:
        stmt = stmt.where(TASKS.c.due_at >= bindparam("due_after"))
    if shape.due_before:
        stmt = stmt.where(TASKS.c.due_at < bindparam("due_before"))
    if shape.overdue is True:
        stmt = stmt.where(TASKS.c.status == _OPEN, TASKS.c.due_at < bindparam("now"))
    elif shape.overdue is False:
        stmt = stmt.where(or_(TASKS.c.due_at.is_(None), TASKS.c.due_at >= bindparam("now")))
    return stmt


def _parameters(
    owner_id: str, query: TaskQuery, dialect: str, terms: list[str], now: datetime
) -> dict[str, Any]:
    """The values a page's statement (`_PageShape`) is run with."""
    values: dict[str, Any] = {
        "owner_id": owner_id,
        "limit": query.limit,
        "offset": query.offset,
    }
    if terms:
        if dialect == "postgresql":
            values["tsquery"] = " & ".join(f"{term}:*" for term in terms)
        else:
            for i, term in enumerate(terms):
                values[f"term_{i}"] = f"%{term.replace('_', '')}%"
    if query.status is not None:
        values["status"] = query.status
    if query.priority:
        values["priorities"] = [priority.value for priority in query.priority]
    for i, tag in enumerate(_distinct_tags(query)):
        values[f"tag_{i}"] = tag
    if query.due_after is not None:
        values["due_after"] = query.due_after
    if query.due_before is not None:
        values["due_before"] = query.due_before
    if query.overdue is not None:
        values["now"] = now
    return values


def _ordered(stmt: Select[Any], sort: SortKey) -> Select[Any]:
    descending = sort.startswith("-")
    key = sort.lstrip("-")
    column: Any = {
        "due": TASKS.c.due_at,
        "priority": TASKS.c.priority_rank,
        "created": TASKS.c.created_at,
        "title": func.lower(TASKS.c.title),
    }[key]
    if key == "priority":
        # "priority" means most urgent first; "-priority" the reverse.
        descending = not descending
    primary = column.desc() if descending else column.asc()
    # Tasks without a due date go last whichever the direction.
    nulls = [TASKS.c.due_at.is_(None).asc()] if key == "due" else []
    return stmt.order_by(*nulls, primary, TASKS.c.created_at.asc(), TASKS.c.id.asc())


def _joined_tags(dialect: str) -> Any:
    """A task's tags, comma-joined, as a correlated subquery (NULL without tags)."""
    tag = TASK_TAGS.c.tag
    joined = func.string_agg(tag, ",") if dialect == "postgresql" else func.group_concat(tag, ",")
    return (
        select(joined)
        .where(TASK_TAGS.c.task_id == TASKS.c.id)
        .correlate(TASKS)
        .scalar_subquery()
        .label("tags")
    )


@lru_cache(maxsize=256)
def _page_statements(shape: _PageShape) -> tuple[Select[Any], Select[Any]]:
    """A page's statement and its count's, built once per shape: building a statement and
    its cache key took about a tenth of a page's CPU. The values go as parameters."""
    base = _filtered(shape)
    count = select(func.count()).select_from(base.subquery())
    # One query for the page: the total rides along and each task's tags come as a
    # comma-joined aggregate (tags cannot hold commas), instead of a count query before
    # and a tags query after (list is 40% of the requests under load). The total is a
    # subquery of its own, run once before the page (an InitPlan): as a window count over
    # the page's rows it made PostgreSQL read and sort every matching row, all its
    # columns, where the page in its index's order needs only its own rows (0.75 ms of
    # the server's CPU against 0.2 ms for an owner of 1,000 tasks).
    # SQLite computes such a total by materialising every matching row, all its columns,
    # before the page: 5 ms of CPU for an account of 3,000 open tasks, where the page alone
    # took 1 ms and a count of its own 0.1 ms (it reads the index alone). There the total
    # is counted apart, and not at all when the first page holds every match.
    columns = [_joined_tags(shape.dialect)]
    if not _counted_apart(shape.dialect):
        columns.insert(0, count.scalar_subquery().label("total"))
    page = (
        _ordered(base.add_columns(*columns), shape.sort)
        .limit(bindparam("limit", type_=Integer))
        .offset(bindparam("offset", type_=Integer))
    )
    return page, count


def page_statement(query: TaskQuery, dialect: str) -> Select[Any]:
    """The statement a list of `query` runs (its values as parameters: `owner_id`, `limit`,
    `offset` and one per filter), as the benchmark's bare baseline runs it too."""
    return _page_statements(_PageShape.of(query, dialect, len(_search_terms(query.q))))[0]


def _shape_terms(dialect: str, terms: int) -> int:
    # PostgreSQL sends every word in one tsquery: one statement for any number of words
    # (else a long search could fill the cache with copies of one statement).
    return min(terms, 1) if dialect == "postgresql" else terms


def _counted_apart(dialect: str) -> bool:
    return dialect == "sqlite"


async def list_tasks(
    session: AsyncSession, owner_id: str, query: TaskQuery
) -> tuple[list[TaskJson], int]:
    now = datetime.now(UTC)
    dialect = dialect_name(session)
    terms = _search_terms(query.q)
    page, count = _page_statements(_PageShape.of(query, dialect, len(terms)))
    values = _parameters(owner_id, query, dialect, terms, now)
    rows: Sequence[Sequence[Any]]
    if dialect == "postgresql":
        compiled, rows = await driver_statements.fetch(session, page, values)
        keys = compiled.keys
    else:
        result = await session.execute(page, values)
        keys = tuple(result.keys())
        rows = result.all()
    if query.offset == 0 and len(rows) < query.limit:
        total = len(rows)
    elif rows and not _counted_apart(dialect):
        total = int(rows[0][keys.index("total")])
    else:
        # Counted apart (SQLite), or a page past the end with no row to carry the total.
        total = int(await session.scalar(count, values) or 0)
    split = _stored_with_tags(keys)
    records = []
    for row in rows:
        task, joined = split(row)
        records.append(public_record(task, sorted(joined.split(",")) if joined else [], now))
    return records, total
