"""The aiosqlite dialect with one thread hop per statement (`todo.shared.sqlite_driver`):
each statement is one trip to the connection's thread, a connection given back without a
transaction costs none, and what a statement hands back is what SQLAlchemy's dialect
handed back (rows, row counts, errors, and a transaction left open rolled back). A write
marked to wait for the commit goes with the next statement or the commit, in its trip."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, exc, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from todo.shared import sqlite_driver
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


T = Table("t", MetaData(), Column("id", Integer, primary_key=True), Column("name", String))


def deferred_insert(*names: str) -> tuple[Any, list[dict[str, str]]]:
    """An INSERT of ``names`` (one row or many) that waits for the commit."""
    statement = insert(T).execution_options(**{sqlite_driver.DEFER_TO_COMMIT: True})
    return statement, [{"name": name} for name in names]


async def test_deferred_writes_go_with_the_commit_in_one_trip(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()
    async with engine.connect() as conn:
        with counting_trips(loop) as trips:
            first = await conn.execute(*deferred_insert("a"))
            many = await conn.execute(*deferred_insert("b", "c"))
            await conn.commit()
        assert trips.count == 1
        # Nothing was sent before the commit: no row count to give.
        assert (first.rowcount, many.rowcount) == (-1, -1)
    async with engine.connect() as conn:
        names = (await conn.exec_driver_sql("SELECT name FROM t ORDER BY id")).scalars().all()
    assert names == ["a", "b", "c"]


async def test_a_statement_after_deferred_ones_sees_them_in_the_same_trip(
    engine: AsyncEngine,
) -> None:
    loop = asyncio.get_running_loop()
    async with engine.connect() as conn:
        with counting_trips(loop) as trips:
            await conn.execute(*deferred_insert("a"))
            count = (await conn.exec_driver_sql("SELECT count(*) FROM t")).scalar()
        assert (count, trips.count) == (1, 1)
        await conn.rollback()
        assert (await conn.exec_driver_sql("SELECT count(*) FROM t")).scalar() == 0


async def test_a_rollback_drops_what_was_deferred(engine: AsyncEngine) -> None:
    loop = asyncio.get_running_loop()
    async with engine.connect() as conn:
        await conn.execute(*deferred_insert("dropped"))
        with counting_trips(loop) as trips:
            await conn.rollback()
        assert trips.count == 0, "nothing was sent, so nothing to undo"
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('kept')")
        await conn.commit()
        names = (await conn.exec_driver_sql("SELECT name FROM t")).scalars().all()
    assert names == ["kept"]


async def test_a_deferred_statements_error_is_raised_by_the_commit_and_undoes_it_all(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('taken')")
        await conn.commit()
        await conn.execute(*deferred_insert("new"))
        await conn.execute(*deferred_insert("taken"))
        with pytest.raises(exc.IntegrityError, match="UNIQUE constraint failed"):
            await conn.commit()
    async with engine.connect() as conn:
        names = (await conn.exec_driver_sql("SELECT name FROM t")).scalars().all()
        assert names == ["taken"], "the rows sent before the failing one were rolled back"
        # The connection serves on.
        await conn.execute(*deferred_insert("after"))
        await conn.commit()
        assert (await conn.exec_driver_sql("SELECT count(*) FROM t")).scalar() == 2


async def test_only_writes_without_a_result_can_be_deferred(engine: AsyncEngine) -> None:
    options = {sqlite_driver.DEFER_TO_COMMIT: True}
    async with engine.connect() as conn:
        with pytest.raises(ValueError, match="RETURNING"):
            await conn.execute(
                insert(T).values(name="a").returning(T.c.id).execution_options(**options)
            )
        with pytest.raises(ValueError, match="only for INSERT, UPDATE or DELETE"):
            await conn.execute(select(T.c.name).execution_options(**options))


async def test_a_commit_that_fails_leaves_no_transaction_open(engine: AsyncEngine) -> None:
    """SQLite checks a deferred foreign key at COMMIT, and a COMMIT it refuses leaves the
    transaction open; SQLAlchemy counts it as ended, so the pool would not roll it back."""
    async with engine.connect() as conn:
        await conn.exec_driver_sql(
            "CREATE TABLE child (id INTEGER PRIMARY KEY, "
            "t_id INTEGER REFERENCES t (id) DEFERRABLE INITIALLY DEFERRED)"
        )
        await conn.commit()
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('sent first')")
        await conn.exec_driver_sql("INSERT INTO child (t_id) VALUES (404)")
        with pytest.raises(exc.IntegrityError, match="FOREIGN KEY constraint failed"):
            await conn.commit()
    async with engine.connect() as conn:  # the single writer connection again
        await conn.exec_driver_sql("INSERT INTO t (name) VALUES ('next user')")
        await conn.commit()
        names = (await conn.exec_driver_sql("SELECT name FROM t")).scalars().all()
        orphans = (await conn.exec_driver_sql("SELECT count(*) FROM child")).scalar()
    assert (names, orphans) == (["next user"], 0)


async def test_deferred_writes_on_a_closed_connection_fail_the_commit(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        raw = await conn.get_raw_connection()
        await conn.execute(*deferred_insert("never sent"))
        await raw.driver_connection.close()  # type: ignore[union-attr]
        with pytest.raises(exc.DBAPIError, match="Connection closed"):
            await conn.commit()
