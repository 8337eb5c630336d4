"""SQLite's journal mode: a database is in WAL mode from its migration on, and the first
connections of a process open it together without racing to switch it.

Switching a rollback-journal database to WAL needs every other connection out of it, and
SQLite refuses at once (no busy wait) a switch that two connections attempt together. The
backend's readers and its writer used to make that switch on their first connection: when
a request and the outbox relay's first read opened theirs at the same moment, one of them
answered 503 "database is locked" on a database that was perfectly healthy."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from todo.shared.db import Database, create_engine, open_database
from todo.shared.scheduler_db import upgrade_store


def journal_mode(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        return str(connection.execute("PRAGMA journal_mode").fetchone()[0])


def rollback_journal_database(path: Path) -> str:
    """A database as SQLite makes it (rollback journal), with one table and row."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x INTEGER)")
        connection.execute("INSERT INTO t VALUES (1)")
    connection.close()
    assert journal_mode(path) == "delete"
    return f"sqlite+aiosqlite:///{path}"


async def test_a_migrated_database_is_in_wal_mode_before_the_app_connects(
    tmp_path: Path,
) -> None:
    path = tmp_path / "migrated.db"
    await upgrade_store(f"sqlite+aiosqlite:///{path}")  # the scheduler's own migrations
    assert journal_mode(path) == "wal"


async def count_rows(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def test_first_connections_opened_together_all_succeed(tmp_path: Path) -> None:
    """Ten connections of a fresh pool open at once on a database not yet in WAL mode,
    twenty times over: every query answers, and the database ends in WAL mode."""
    for attempt in range(20):
        path = tmp_path / f"fresh-{attempt}.db"
        engine = create_engine(rollback_journal_database(path), max_connections=10)
        try:
            assert await asyncio.gather(*(count_rows(engine) for _ in range(10))) == [1] * 10
        finally:
            await engine.dispose()
        assert journal_mode(path) == "wal"


async def read_rows(database: Database) -> int:
    async with database.reads() as session:
        return int((await session.execute(text("SELECT count(*) FROM t"))).scalar_one())


async def add_row(database: Database) -> int:
    async with database.writes() as session:
        await session.execute(text("INSERT INTO t VALUES (2)"))
        await session.commit()
    return 1


async def test_the_writer_and_readers_of_a_database_open_together(tmp_path: Path) -> None:
    """What a backend's first moments do: its writer and several readers connect at once."""
    for attempt in range(20):
        path = tmp_path / f"app-{attempt}.db"
        database = open_database(rollback_journal_database(path), max_connections=5)
        try:
            added, *counts = await asyncio.gather(
                add_row(database), *(read_rows(database) for _ in range(5))
            )
        finally:
            await database.dispose()
        assert added == 1
        assert set(counts) <= {1, 2}
        assert journal_mode(path) == "wal"
