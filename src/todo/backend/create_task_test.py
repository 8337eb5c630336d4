"""A create writes the task, its tags and its events without RETURNING: what it hands back
is what the table holds, on SQLite and PostgreSQL. On SQLite the whole create is one trip
to the writer connection's thread; on PostgreSQL one round trip to the server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from todo.backend.migrate import upgrade_async
from todo.backend.models import TASK_TAGS, TaskCreate, User
from todo.backend.outbox import OUTBOX
from todo.backend.postgres_wire_test import wire_counter
from todo.backend.tasks.commands import create_task
from todo.backend.tasks.queries import get_owned, tags_of, to_public
from todo.shared.db import Database, open_database
from todo.shared.sqlite_driver_test import counting_trips


def new_task(**extra: Any) -> TaskCreate:
    return TaskCreate.model_validate(
        {
            "title": "Pay the rent",
            "notes": "before noon",
            "priority": "high",
            "tags": ["home", "money"],
            # Not in UTC: the table hands instants back in UTC.
            "due_at": "2031-03-01T12:00:00.123456+02:00",
            "time_zone": "Europe/Berlin",
            "reminders": [
                {"kind": "before_due", "minutes_before": 30},
                {"kind": "absolute", "at": "2031-03-01T08:00:00+01:00"},
            ],
            "recurrence": {"frequency": "monthly", "interval": 1},
            **extra,
        }
    )


async def test_the_created_task_is_what_the_table_holds(database: Database, owner: str) -> None:
    created = await create_task_in(database, owner, new_task())
    async with database.reads() as session:
        row = await get_owned(session, owner, created.id)
        stored = to_public(row, (await tags_of(session, [created.id]))[created.id])
        events = (
            await session.execute(
                select(OUTBOX.c.topic, OUTBOX.c.payload, OUTBOX.c.created_at).order_by(OUTBOX.c.seq)
            )
        ).all()
    assert created.model_dump() == stored.model_dump()
    assert created.due_at is not None
    assert created.due_at.isoformat() == "2031-03-01T10:00:00.123456+00:00"
    # The task's own event first, then its owner's refresh: the order they go out in.
    assert [topic for topic, _, _ in events] == ["task-events", "task-updates"]
    task_event = events[0].payload
    assert (task_event["type"], task_event["subject"]) == ("todo.task.created.v1", created.id)
    assert task_event["data"]["task"]["tags"] == ["home", "money"]
    assert all(at.tzinfo is not None for _, _, at in events)


async def test_a_broken_constraint_is_raised_and_nothing_of_the_create_stays(
    database: Database, owner: str
) -> None:
    await create_task_in(database, owner, new_task(), origin_key="delivery-1")
    with pytest.raises(IntegrityError):
        await create_task_in(database, owner, new_task(title="twice"), origin_key="delivery-1")
    async with database.reads() as session:
        tags = await session.scalar(select(func.count()).select_from(TASK_TAGS))
        events = await session.scalar(select(func.count()).select_from(OUTBOX))
    assert (tags, events) == (2, 2), "the refused create left rows behind"
    # The writer connection serves on.
    await create_task_in(database, owner, new_task(title="after"))


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_on_sqlite_a_create_is_one_trip_to_the_writer(database: Database, owner: str) -> None:
    await create_task_in(database, owner, new_task())  # a warm connection
    with counting_trips(asyncio.get_running_loop()) as trips:
        await create_task_in(database, owner, new_task())
    assert trips.count == 1, "the task, its tags, its events and the commit in one call"


async def create_task_in(database: Database, owner: str, data: TaskCreate, **kw: Any) -> Any:
    async with database.writes() as session:
        return await create_task(session, owner, data, **kw)


@pytest.mark.postgres()
async def test_on_postgresql_a_create_is_one_round_trip(postgres_url: str) -> None:
    """Counted on the wire: the task, its tags and its events in one statement, with no
    BEGIN or COMMIT around it (five round trips before)."""
    await upgrade_async(postgres_url)
    async with wire_counter(postgres_url) as (url, counter):
        database = open_database(url)
        try:
            async with database.writes() as session:
                user = User(email="owner@example.com")
                session.add(user)
                await session.commit()
            # A warm connection, with the statement prepared.
            await create_task_in(database, user.id, new_task())
            before = counter.snapshot()
            created = await create_task_in(database, user.id, new_task(title="counted"))
            sent = counter.snapshot() - before
            async with database.reads() as session:
                stored = await get_owned(session, user.id, created.id)
                tags = (await tags_of(session, [created.id]))[created.id]
                events = await session.scalar(select(func.count()).select_from(OUTBOX))
        finally:
            await database.dispose()
    assert sent["S"] + sent["Q"] == 1, f"round trips of one create: {dict(sent)}"
    assert sent["Q"] == 0, "no BEGIN or COMMIT"
    assert to_public(stored, tags).model_dump() == created.model_dump()
    assert events == 4
