"""SQLAlchemy's aiosqlite dialect with one thread hop per statement.

aiosqlite runs each call on the connection's own thread and hands the result back to
the event loop. SQLAlchemy's adapter makes three or four such calls per statement
(open a cursor, execute, fetch the rows, close the cursor) and one more to roll back
every connection it returns to the pool, even one with no transaction open. Each call
waits for the event loop to come round to it, and under load the loop is busy: on the
single writer connection of the embedded shape a create made about twelve of them
while every other write waited, and a read made five.

Here a statement is one call (the cursor opened, executed, read and closed on
aiosqlite's thread), and a connection without an open transaction is not rolled back.
Everything else is SQLAlchemy's own dialect. The function goes through aiosqlite's own
queue of calls (`Connection._execute`), as SQLAlchemy's dialect already queues its
isolation level there; the lockfile pins aiosqlite, and `sqlite_driver_test` holds it.
URLs keep saying `sqlite+aiosqlite`: `todo.shared.db.create_engine` picks this dialect.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT

DRIVER = "todo_aiosqlite"

# What one statement hands back from aiosqlite's thread.
Outcome = tuple[Any, list[Any], int, int | None]


def _run(conn: sqlite3.Connection, operation: str, parameters: Any, many: bool) -> Outcome:
    cursor = conn.cursor()
    try:
        if many:
            cursor.executemany(operation, parameters)
        elif parameters is None:
            cursor.execute(operation)
        else:
            cursor.execute(operation, parameters)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneHopCursor(AsyncAdapt_aiosqlite_cursor):
    """A client-side cursor whose statement is one call on aiosqlite's thread; its
    description, row count and rows are kept here, so nothing is left open there."""

    __slots__ = ("_description", "_rowcount", "_lastrowid", "_arraysize")

    def __init__(self, adapt_connection: AsyncAdapt_aiosqlite_connection) -> None:
        self._adapt_connection = adapt_connection
        self._connection = adapt_connection._connection
        self._cursor = None  # type: ignore[assignment]
        self._soft_closed_memoized = EMPTY_DICT
        self._rows = deque()
        self._description: Any = None
        self._rowcount = -1
        self._lastrowid: int | None = None
        self._arraysize = 1

    @property
    def description(self) -> Any:
        return self._description

    @property
    def rowcount(self) -> int:
        return self._rowcount

    @property
    def lastrowid(self) -> Any:
        return self._lastrowid

    @property
    def arraysize(self) -> int:
        return self._arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._arraysize = value

    async def _async_soft_close(self) -> None:
        return None

    def close(self) -> None:
        self._rows.clear()

    def setinputsizes(self, *inputsizes: Any) -> None:
        return None

    async def _execute_async(self, operation: Any, parameters: Any) -> Any:
        return await self._run(operation, parameters, many=False)

    async def _executemany_async(self, operation: Any, seq_of_parameters: Sequence[Any]) -> Any:
        return await self._run(operation, seq_of_parameters, many=True)

    async def _run(self, operation: Any, parameters: Any, *, many: bool) -> None:
        connection = self._connection
        async with self._adapt_connection._execute_mutex:
            # aiosqlite's own queueing of a call on its thread (refused once closed);
            # `_conn` is read there.
            outcome: Outcome = await connection._execute(
                lambda: _run(connection._conn, operation, parameters, many)
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = deque(rows)


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ()

    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def rollback(self) -> None:
        # The pool rolls back every connection it gets back; after a commit, or after
        # reads only (SQLite opens no transaction for a SELECT), there is nothing to undo.
        # The flag is SQLite's autocommit state, which its C API reads from any thread.
        driver_connection = self._connection._connection
        if driver_connection is not None and not driver_connection.in_transaction:
            return
        super().rollback()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")
