"""Hot statements run by the driver itself, asyncpg, on the connection a session holds.

SQLAlchemy's path from `session.execute` to the driver and back (the session, its
connection, an execution context, the cursor adapter, a result and its rows) cost about
0.2 ms of CPU a statement on PostgreSQL, where asyncpg alone took 0.13 ms: more than half
of a read of one task. The statements every request runs (a task by id, a page, a
create) are still built and compiled by SQLAlchemy, once per statement and dialect, and
then sent by asyncpg directly, on the same pooled connection.

Values still pass through the columns' own types: the parameters through each one's
`bind_processor`, the columns of a row through its `result_processor`, the public hooks
SQLAlchemy itself runs, so a row reads the same either way (`driver_statements_test`).
A type of our own may say more directly what the driver's value needs, with a
`driver_result_processor(dialect)` (`todo.shared.db`): an instant from asyncpg is one
check, an enum member one dict lookup; a page of 200 tasks has 2,000 such values.

Only in autocommit mode (reads, and a write that is a whole transaction by itself): the
driver adapter opens a transaction lazily, with the first statement that goes through
it, and a statement sent past it would run outside that transaction. A failure is raised
and handled as SQLAlchemy would: its exception classes, and a broken connection never
handed out again.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql import ClauseElement, Select
from sqlalchemy.sql.compiler import SQLCompiler

Processor = Callable[[Any], Any]
_MISSING = object()

# What leaves a connection broken or in an unknown state: the server gone or restarting,
# the socket failed, or the statement abandoned halfway (a request cancelled, a timeout).
# SQLAlchemy invalidates a connection on the same (its disconnect and exit exceptions); a
# cancelled statement is handled apart.
_BROKEN = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.CannotConnectNowError,
    OSError,
    TimeoutError,
)


class DriverStatement:
    """A Core statement compiled once for one dialect: its SQL in the driver's own form
    (`$1`, `$2`...), how to order and convert its parameters, and how to convert the
    columns of its rows."""

    def __init__(self, statement: ClauseElement, dialect: Dialect) -> None:
        compiled = statement.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler), f"not a SQL statement: {statement!r}"
        self.sql = compiled.string
        for name, bind in compiled.binds.items():
            if bind.expanding or bind.callable is not None:
                # Rendered per call (an IN list, one placeholder per value): no one text.
                raise ValueError(f"parameter {name!r} is expanded per call: not for the driver")
        parameters: list[tuple[str, Processor | None, Any]] = []
        for name in compiled.positiontup or ():
            bind = compiled.binds[name]
            literal = _MISSING if bind.required else bind.value
            parameters.append((name, bind.type.bind_processor(dialect), literal))
        self._parameters = tuple(parameters)
        columns = statement.selected_columns if isinstance(statement, Select) else ()
        self.keys: tuple[str, ...] = tuple(columns.keys()) if columns else ()
        readers = []
        for index, column in enumerate(columns):
            reader = _reader(column.type, dialect)
            if reader is not None:
                readers.append((index, reader))
        self._readers: tuple[tuple[int, Processor], ...] = tuple(readers)

    def arguments(self, values: Mapping[str, Any]) -> list[Any]:
        """The driver's positional arguments for `values` (by parameter name)."""
        arguments = []
        for name, process, literal in self._parameters:
            value = values[name] if literal is _MISSING else values.get(name, literal)
            arguments.append(process(value) if process is not None else value)
        return arguments

    def rows(self, records: Sequence[Any]) -> list[list[Any]]:
        """The driver's records as rows of converted values, in the columns' order."""
        readers = self._readers
        rows = []
        for record in records:
            row = list(record)
            for index, read in readers:
                row[index] = read(row[index])
            rows.append(row)
        return rows


def _reader(column_type: Any, dialect: Dialect) -> Processor | None:
    """How a value of `column_type` comes from the driver to the code above: the type's
    own `driver_result_processor` where it has one (it knows what this driver hands back
    already), else its SQLAlchemy `result_processor`."""
    for_driver = getattr(column_type, "driver_result_processor", None)
    if for_driver is not None:
        reader: Processor | None = for_driver(dialect)
        return reader
    return column_type.result_processor(dialect, None)  # type: ignore[no-any-return]


# Compiled once per statement and dialect; both are weakly held (a statement built per
# page shape may be dropped from its own cache, and tests make engines of their own).
_COMPILED: weakref.WeakKeyDictionary[ClauseElement, weakref.WeakKeyDictionary[Dialect, Any]]
_COMPILED = weakref.WeakKeyDictionary()


def compiled_for(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    by_dialect = _COMPILED.get(statement)
    if by_dialect is None:
        by_dialect = _COMPILED[statement] = weakref.WeakKeyDictionary()
    found: DriverStatement | None = by_dialect.get(dialect)
    if found is None:
        found = by_dialect[dialect] = DriverStatement(statement, dialect)
    return found


async def _driver(session: AsyncSession) -> tuple[AsyncConnection, Any]:
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if not adapted.autocommit:
        raise RuntimeError(
            "a driver statement runs only in autocommit mode (it would bypass the "
            "transaction SQLAlchemy's adapter opens with its next statement)"
        )
    return connection, raw


async def fetch(
    session: AsyncSession, statement: ClauseElement, values: Mapping[str, Any]
) -> tuple[DriverStatement, list[list[Any]]]:
    """Run `statement` with `values` and return its compiled form (its `keys`) and rows."""
    connection, raw = await _driver(session)
    compiled = compiled_for(statement, connection.dialect)
    arguments = compiled.arguments(values)
    try:
        records = await raw.driver_connection.fetch(compiled.sql, *arguments)
    except BaseException as error:
        raise await _failed(connection, raw, compiled, arguments, error) from error
    return compiled, compiled.rows(records)


async def execute(
    session: AsyncSession, statement: ClauseElement, values: Mapping[str, Any]
) -> None:
    """Run `statement` (a write, no rows) with `values`."""
    connection, raw = await _driver(session)
    compiled = compiled_for(statement, connection.dialect)
    arguments = compiled.arguments(values)
    try:
        await raw.driver_connection.execute(compiled.sql, *arguments)
    except BaseException as error:
        raise await _failed(connection, raw, compiled, arguments, error) from error


async def _failed(
    connection: AsyncConnection,
    raw: Any,
    compiled: DriverStatement,
    arguments: list[Any],
    error: BaseException,
) -> BaseException:
    """What to raise for `error`, as SQLAlchemy would have raised it: asyncpg's errors as
    its own (an `IntegrityError` stays one for the code above), and a connection that
    broke invalidated with every older one of its pool, so after a restart of the server
    one request fails and the next ones get fresh connections (`todo.shared.db`)."""
    if not isinstance(error, Exception):
        # Cancelled halfway (the request went away): the connection's state is unknown.
        await connection.invalidate()
        return error
    dialect = connection.dialect
    translated = _translated(raw.dbapi_connection, error)
    broken = isinstance(error, _BROKEN) or (
        isinstance(translated, dialect.loaded_dbapi.Error)
        and dialect.is_disconnect(translated, raw.dbapi_connection, None)
    )
    if broken:
        # SQLAlchemy's own handling of a disconnect: the pool's older connections are
        # replaced as they are next checked out, this one at once.
        await connection.invalidate(translated)
        connection.sync_engine.pool._invalidate(raw, translated, _checkin=False)
    if not isinstance(translated, dialect.loaded_dbapi.Error):
        return error
    return sa_exc.DBAPIError.instance(
        compiled.sql,
        arguments,
        translated,
        dialect.loaded_dbapi.Error,
        connection_invalidated=broken,
        dialect=dialect,
    )


def _translated(adapted: Any, error: Exception) -> Exception:
    """`error` as the DBAPI error SQLAlchemy's asyncpg adapter makes of it (the class its
    code and ours catch: IntegrityError, OperationalError, ...)."""
    try:
        adapted._handle_exception(error)
    except Exception as translated:
        return translated
    return error
