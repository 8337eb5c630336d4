"""Async database engine and sessions (SQLite or PostgreSQL, chosen by URL)."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Generic, TypeVar

from pydantic import TypeAdapter
from pydantic_core import from_json
from sqlalchemy import JSON, DateTime, String, event
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util.concurrency import await_

from todo.shared import sqlite_driver
from todo.shared.database_url import asyncpg_url
from todo.shared.fair_pool import FairAsyncPool


class UTCDateTime(TypeDecorator[datetime]):
    """Stores instants in UTC and always hands back aware datetimes, on SQLite too
    (which has no time zone type and would otherwise return naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return in_utc(value)

    def driver_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # asyncpg hands timestamptz values back aware and in UTC (one check each), except
        # at the ends of the range: the largest instant comes back naive (datetime.max).
        if dialect.driver == "asyncpg":
            return in_utc
        return self.result_processor(dialect, None)


def in_utc(instant: datetime | None) -> datetime | None:
    """An instant as a `UTCDateTime` column hands it back: aware, in UTC (SQLite's naive
    values are UTC)."""
    if instant is None:
        return None
    zone = instant.tzinfo
    # asyncpg hands back timestamptz values in UTC already: 200 of them a page of tasks.
    if zone is UTC:
        return instant
    if zone is None:
        return instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


E = TypeVar("E", bound=StrEnum)


class StrEnumType(TypeDecorator[E], Generic[E]):
    """A `StrEnum` stored as its value in a plain string column (no database enum type,
    so adding a member needs no migration), handed back as the enum member."""

    impl = String(16)
    cache_ok = True

    def __init__(self, enum: type[E]) -> None:
        super().__init__()
        self.enum = enum
        # A member found by its value in a dict: calling the enum class to look it up runs
        # EnumType.__call__ and __new__, a few hundred times per page of tasks.
        self._members = _Members(enum)

    def process_bind_param(self, value: E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self.enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> E | None:
        # A value no member has is refused as before (ValueError naming it).
        member: E | None = self._members[value]
        return member

    def driver_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # One lookup in C for a stored value, the only kind there is in practice.
        return self._members.__getitem__


class _Members(dict[Any, Any]):
    """An enum's members by value; None for None, and the enum's own ValueError for a
    value no member has."""

    def __init__(self, enum: type[StrEnum]) -> None:
        super().__init__({member.value: member for member in enum})
        self.enum = enum

    def __missing__(self, value: Any) -> Any:
        return None if value is None else self.enum(value)


@cache
def _adapter(annotation: Any) -> TypeAdapter[Any]:
    return TypeAdapter(annotation)


class JSONModel(TypeDecorator[Any]):
    """A pydantic-typed value (a model, or a list of them) in a JSON column: dumped in
    JSON mode on the way in, validated back into the type on the way out, so code above
    never handles raw dicts."""

    impl = JSON
    cache_ok = True

    def __init__(self, annotation: Any) -> None:
        super().__init__()
        # The annotation (hashable) is the cache key; the adapter is built once per type.
        self.annotation = annotation

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _adapter(self.annotation).dump_python(value, mode="json")

    def process_result_value(self, value: Any, dialect: Dialect) -> Any:
        return None if value is None else _adapter(self.annotation).validate_python(value)

    def driver_result_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        # The driver decodes JSON itself (the codec SQLAlchemy's dialect installs).
        if dialect.driver != "asyncpg":
            return self.result_processor(dialect, None)
        validate = _adapter(self.annotation).validate_python

        def read(value: Any) -> Any:
            return None if value is None else validate(value)

        return read


# Execution options of a write whose result nobody reads: on SQLite's writer it goes to
# the database with the next statement or the commit, in one call (todo.shared.sqlite_driver);
# elsewhere it runs at once.
DEFER_TO_COMMIT: dict[str, Any] = {sqlite_driver.DEFER_TO_COMMIT: True}


def dialect_name(session: AsyncSession) -> str:
    bind = session.bind
    if bind is None:
        raise RuntimeError("session is not bound to an engine")
    return bind.dialect.name


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def driver_url(url: str) -> str:
    """`url` with the dialect this project runs it on: aiosqlite with one thread hop per
    statement (`todo.shared.sqlite_driver`) for `sqlite+aiosqlite`; asyncpg, with libpq's
    `sslmode`, for PostgreSQL (`todo.shared.database_url`)."""
    if url.startswith("sqlite+aiosqlite:"):
        return f"sqlite+{sqlite_driver.DRIVER}:" + url.removeprefix("sqlite+aiosqlite:")
    return asyncpg_url(url)


def create_engine(
    url: str, max_connections: int = 20, *, single_writer: bool = False
) -> AsyncEngine:
    """An engine of `url`. PostgreSQL connections are not pinged before each use (a round
    trip per request, a tenth of the backend's CPU under load): a connection the server
    dropped fails its first use, which invalidates the whole pool, so after a restart one
    request answers 503 and the next ones get fresh connections. `single_writer` (SQLite):
    one connection, so writers queue in the pool in order instead of sleeping in SQLite's
    busy handler (which sleeps up to 100 ms a try, and made 16 writers wait a second).

    A pool keeps every connection it opened, up to `max_connections` (no overflow): an
    overflow connection was closed as it came back whenever the pool's idle ones were
    full, which under a steady load happened after every burst of responses, and the next
    burst connected again (TLS, authentication and the driver's set-up each time, about
    a dozen new connections a second at 900 reads/s)."""
    kwargs: dict[str, Any] = {}
    if is_sqlite(url):
        # The busy timeout still covers another process writing the same file.
        kwargs["connect_args"] = {"timeout": 30}
        if single_writer:
            kwargs.update(pool_size=1, max_overflow=0, pool_timeout=60)
        else:
            kwargs.update(pool_size=max_connections, max_overflow=0)
    else:
        kwargs.update(pool_size=max_connections, max_overflow=0, pool_recycle=1800)
        # A database that stops answering (a partition, a half-open connection) fails a
        # request after these instead of holding it, and a pooled connection, forever.
        kwargs["connect_args"] = {"timeout": 10, "command_timeout": 30}
    if ":memory:" not in url:
        kwargs["poolclass"] = FairAsyncPool
    # JSON columns are parsed by pydantic's parser, one call in Rust: the standard
    # library's json.loads spent most of its time in its Python wrappers, two tiny
    # documents (reminders, recurrence) per row of a page.
    engine = create_async_engine(driver_url(url), json_deserializer=from_json, **kwargs)
    if is_sqlite(url):

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            _use_wal(cursor)
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()
            # SQLite's lower() folds ASCII only: "Ü" would never match "ü" in a
            # case-insensitive search. Python's folds every script.
            dbapi_conn.create_function("lower", 1, _lower, deterministic=True)

    return engine


# How long a connection of a database not yet in WAL mode retries the switch.
_WAL_SWITCH_TRIES = 40
_WAL_SWITCH_PAUSE_SECONDS = 0.05


def _use_wal(cursor: Any) -> None:
    """Put the database in WAL mode (readers beside the writer), unless it is already.

    WAL is a property of the file: a migrated database has it from its first migration
    (`todo.shared.alembic_env`), and a connection only reads the mode, which takes no lock.
    Switching needs every other connection out of the file, and SQLite refuses at once,
    without its busy wait, one of two connections that switch together: a database made
    without a migration is switched here, a refused switch retried while the other
    connection finishes its own (it then finds WAL mode already set)."""
    cursor.execute("PRAGMA journal_mode")
    if cursor.fetchone()[0] == "wal":
        return
    for attempt in range(1, _WAL_SWITCH_TRIES + 1):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or attempt == _WAL_SWITCH_TRIES:
                raise
        # The connect hook runs in SQLAlchemy's greenlet on the event loop: wait there.
        await_(asyncio.sleep(_WAL_SWITCH_PAUSE_SECONDS))


AfterCommit = Callable[[Session], None]


@dataclass
class Database:
    """One process's database, with sessions for each kind of work:

    - `writes`: transactions for changes. On SQLite they share one connection: writers
      queue in order, the way SQLite serialises them anyway, and readers never wait for
      them (WAL).
    - `reads`: queries, without a transaction (no BEGIN and ROLLBACK round trips; each
      statement reads one consistent snapshot). On PostgreSQL the same pool in autocommit
      mode; on SQLite an engine of their own, so readers run beside the writer.
    """

    engine: AsyncEngine
    read_engine: AsyncEngine
    writes: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]
    # SQLite: one writer connection that nothing may hold across a slow await.
    single_writer_connection: bool = False

    async def dispose(self) -> None:
        if self.read_engine is not self.engine:
            await self.read_engine.dispose()
        await self.engine.dispose()


def open_database(
    url: str, max_connections: int = 20, after_commit: AfterCommit | None = None
) -> Database:
    """Engines and session factories of `url` (no connection is made yet)."""
    engine = create_engine(url, max_connections, single_writer=True)
    if is_sqlite(url):
        read_engine = create_engine(url, max_connections)
    else:
        read_engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    reads = async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False)
    return Database(
        engine,
        read_engine,
        session_factory(engine, after_commit),
        reads,
        single_writer_connection=is_sqlite(url),
    )


def session_factory(
    engine: AsyncEngine, after_commit: AfterCommit | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of `engine`; `after_commit` runs after every commit of one of them (the
    unit of work's hook: the outbox wakes its relay there, so callers never have to)."""
    session_class: type[Session] = type("TodoSession", (Session,), {})
    if after_commit is not None:
        event.listen(session_class, "after_commit", after_commit)
    return async_sessionmaker(engine, expire_on_commit=False, sync_session_class=session_class)
