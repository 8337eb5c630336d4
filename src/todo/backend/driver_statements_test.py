"""Statements sent by asyncpg itself (`todo.shared.driver_statements`) read what
SQLAlchemy reads, raise what it raises, and leave no broken connection in the pool:
against a real PostgreSQL server, on the tables of the app."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DBAPIError

from todo.backend.create_task_test import new_task
from todo.backend.models import TASKS
from todo.backend.tasks.commands import create_task, set_status
from todo.backend.tasks.queries import TaskQuery, _one_with_tags, page_statement
from todo.domain.tasks import Priority
from todo.shared import driver_statements
from todo.shared.db import Database

pytestmark = pytest.mark.postgres
# The fixtures `database` and `owner` (conftest), on PostgreSQL only.
ON_POSTGRESQL = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


async def seed(database: Database, owner: str) -> list[str]:
    """Tasks with every kind of column value: reminders, a rule or none, tags or none, a
    due date or none, open and completed."""
    ids = []
    for n in range(6):
        extra: dict[str, Any] = {"title": f"task {n} groceries", "priority": list(Priority)[n % 4]}
        if n % 2:
            extra.update(tags=[], reminders=[], recurrence=None, due_at=None)
        async with database.writes() as session:
            ids.append((await create_task(session, owner, new_task(**extra))).id)
    async with database.writes() as session:
        await set_status(session, owner, ids[0], True)
    return ids


async def both_ways(
    database: Database, statement: Any, values: dict[str, Any]
) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    async with database.reads() as session:
        by_sqlalchemy = [tuple(row) for row in (await session.execute(statement, values)).all()]
    async with database.reads() as session:
        compiled, rows = await driver_statements.fetch(session, statement, values)
    assert compiled.keys == tuple(statement.selected_columns.keys())
    return by_sqlalchemy, [tuple(row) for row in rows]


@ON_POSTGRESQL
async def test_rows_read_by_the_driver_are_the_rows_sqlalchemy_reads(
    database: Database, owner: str
) -> None:
    ids = await seed(database, owner)
    for task_id in ids:
        expected, got = await both_ways(
            database, _one_with_tags("postgresql"), {"task_id": task_id, "owner_id": owner}
        )
        assert len(got) == 1
        assert got == expected
    # Typed as the columns hand them back: enum members, aware instants, models.
    row = dict(zip(TASKS.c.keys(), got[0], strict=False))
    assert row["priority"] is Priority(row["priority"].value)
    assert row["created_at"].tzinfo is UTC
    page = {"owner_id": owner, "limit": 50, "offset": 0}
    queries: list[tuple[TaskQuery, dict[str, Any]]] = [
        (TaskQuery(), {}),
        (TaskQuery(sort="-priority"), {}),
        (TaskQuery(status="open"), {"status": "open"}),  # type: ignore[arg-type]
        (TaskQuery(priority=[Priority.HIGH, Priority.LOW]), {"priorities": ["high", "low"]}),
        (TaskQuery(tag=["home"]), {"tag_0": "home"}),
        (TaskQuery(q="groceries"), {"tsquery": "groceries:*"}),
        (
            TaskQuery(due_after=datetime(2030, 1, 1, tzinfo=UTC)),
            {"due_after": datetime(2030, 1, 1, tzinfo=UTC)},
        ),
    ]
    for query, values in queries:
        expected, got = await both_ways(
            database, page_statement(query, "postgresql"), {**page, **values}
        )
        assert got, query
        assert got == expected, query


@ON_POSTGRESQL
async def test_a_session_with_a_transaction_open_is_refused(database: Database) -> None:
    async with database.writes() as session:
        await session.execute(select(1))  # the adapter has begun its transaction
        with pytest.raises(RuntimeError, match="autocommit"):
            await driver_statements.fetch(session, select(func.now()), {})


def test_a_parameter_expanded_per_call_is_refused() -> None:
    statement = select(TASKS.c.id).where(TASKS.c.id.in_(bindparam("ids", expanding=True)))
    with pytest.raises(ValueError, match="expanded"):
        driver_statements.DriverStatement(statement, postgresql.dialect())  # type: ignore[no-untyped-call]


@ON_POSTGRESQL
async def test_a_refused_statement_raises_what_sqlalchemy_raises(database: Database) -> None:
    async with database.reads() as session:
        with pytest.raises(DBAPIError) as raised:
            await driver_statements.fetch(
                session, select(func.to_tsquery(text("'simple'"), bindparam("q"))), {"q": "a & "}
            )
        assert not raised.value.connection_invalidated
        # The connection serves on.
        _, rows = await driver_statements.fetch(session, select(func.now()), {})
        assert rows


async def backend_pids(database_url: str, running: str = "") -> set[int]:
    """The server processes of the pool's connections (of those running `running`)."""
    connection = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
    try:
        rows = await connection.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND query LIKE $1",
            f"%{running}%",
        )
        return {row["pid"] for row in rows}
    finally:
        await connection.close()


async def terminate(database_url: str, pids: set[int]) -> None:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", "", 1))
    try:
        await connection.execute(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid", list(pids)
        )
    finally:
        await connection.close()


async def read_now(database: Database) -> None:
    async with database.reads() as session:
        await driver_statements.fetch(session, select(func.now(), func.pg_sleep(0.05)), {})


@ON_POSTGRESQL
async def test_after_the_server_drops_every_connection_one_read_fails_and_the_rest_reconnect(
    database: Database, database_url: str
) -> None:
    await asyncio.gather(*(read_now(database) for _ in range(4)))  # four pooled connections
    pooled = await backend_pids(database_url)
    assert len(pooled) == 4
    await terminate(database_url, pooled)
    with pytest.raises(DBAPIError) as raised:
        await read_now(database)
    assert raised.value.connection_invalidated
    # Every older connection of the pool is replaced as it is next taken, not used.
    await asyncio.gather(*(read_now(database) for _ in range(4)))
    assert not (await backend_pids(database_url)) & pooled


@ON_POSTGRESQL
async def test_a_read_cancelled_halfway_leaves_no_connection_behind(
    database: Database, database_url: str
) -> None:
    async def slow_read() -> None:
        async with database.reads() as session:
            await driver_statements.fetch(session, select(func.pg_sleep(5)), {})

    reading = asyncio.create_task(slow_read())
    sleeping: set[int] = set()
    for _ in range(100):
        await asyncio.sleep(0.05)
        if sleeping := await backend_pids(database_url, running="pg_sleep"):
            break
    assert len(sleeping) == 1, "the slow read never started"
    reading.cancel()
    with pytest.raises(asyncio.CancelledError):
        await reading
    # Its connection was closed, not pooled mid-statement: its server process ends.
    for _ in range(100):
        if not await backend_pids(database_url) & sleeping:
            break
        await asyncio.sleep(0.05)
    assert not await backend_pids(database_url) & sleeping
    await read_now(database)  # and the pool serves on
