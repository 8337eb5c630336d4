"""The aiosqlite dialect with one thread hop per statement (`todo.shared.sqlite_driver`):
each statement is one trip to the connection's thread, a connection given back without a
transaction costs none, and what a statement hands back is what SQLAlchemy's dialect
handed back (rows, row counts, errors, and a transaction left open rolled back)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import exc
from sqlalchemy.ext.asyncio import AsyncEngine

from todo.shared.db import create_engine


class Trips:
    """Calls handed back to the event loop from another thread (an aiosqlite thread's
    results) while counting."""

    count = 0


@contextmanager
def counting_trips(loop: asyncio.AbstractEventLoop) -> Iterator[Trips]:
    trips = Trips()
    original = loop.call_soon_threadsafe

    def counted(callback: Any, *args: Any, **kwargs: Any) -> Any:
        trips.count += 1
        return original(callback, *args, **kwargs)

    loop.call_soon_threadsafe = counted  # type: ignore[assignment]
    try:
        yield trips
    finally:
        del loop.call_soon_threadsafe


@pytest.fixture
async def engine(tmp_path: Path) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}", single_writer=True)
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
        yield engine
    finally:
        await engine.dispose()


async def test_a_statement_is_one_trip_and_a_committed_connection_returns_for_free(
    engine: AsyncEngine,
) -> None:
    loop = asyncio.get_running_loop()
    async with engine.connect() as conn:
        with counting_trips(loop) as insert:
            result = await conn.exec_driver_sql(
                "INSERT INTO t (name) VALUES ('a'), ('b') RETURNING id, name"
            )
        assert [tuple(row) for row in result.all()] == [(1, "a"), (2, "b")]
        assert insert.count == 1
        with counting_trips(loop) as update:
            result = await conn.exec_driver_sql("UPDATE t SET name = name || '!'")
        assert (result.rowcount, update.count) == (2, 1)
        with counting_trips(loop) as commit:
            await conn.commit()
        assert commit.count == 1
        with counting_trips(loop) as many:
            result = await conn.exec_driver_sql(
                "INSERT INTO t (name) VALUES (?)", [("c",), ("d",), ("e",)]
            )
        assert (result.rowcount, many.count) == (3, 1)
        await conn.commit()
        with counting_trips(loop) as back:
            await conn.close()
        assert back.count == 0, "a connection without a transaction was rolled back"
    async with engine.connect() as conn:
        with counting_trips(loop) as read:
            names = (await conn.exec_driver_sql("SELECT name FROM t ORDER BY id")).scalars()
        assert list(names) == ["a!", "b!", "c", "d", "e"]
        assert read.count == 1


async def test_a_transaction_left_open_is_rolled_back_on_return(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('kept')")
        await conn.commit()
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('abandoned')")
    async with engine.connect() as conn:
        names = (await conn.exec_driver_sql("SELECT name FROM t")).scalars().all()
    assert names == ["kept"]


async def test_errors_are_sqlalchemys_and_the_connection_serves_on(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('a')")
        with pytest.raises(exc.IntegrityError, match="UNIQUE constraint failed"):
            await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('a')")
        await conn.rollback()
        with pytest.raises(exc.OperationalError, match="no such table"):
            await conn.exec_driver_sql("SELECT * FROM missing")
        assert (await conn.exec_driver_sql("SELECT count(*) FROM t")).scalar() == 0
