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

A statement whose result nobody reads (an INSERT of a task, its tags, its events) can be
marked `DEFER_TO_COMMIT` (an execution option): it is not sent on its own but with the
next statement or the commit, in the same call, in the order they were made. A create is
then one call, its INSERTs and the COMMIT together, where it was four, each of which held
the single writer connection while waiting for the event loop. An error of a deferred
statement (a constraint) is raised by the statement or commit it went with (naming that
statement's SQL), and the statements deferred after it were not run: a caller that
catches such an error must roll back, as every caller here does, never commit. A
rollback drops what was not sent. Not for a transaction with savepoints or streamed
(server-side) reads on the writer, which do not send what waits; a statement without
parameters is never deferred. Other dialects ignore the option: PostgreSQL runs the
statement at once.
Everything else is SQLAlchemy's own dialect. The function goes through aiosqlite's own
queue of calls (`Connection._execute`), as SQLAlchemy's dialect already queues its
isolation level there; the lockfile pins aiosqlite, and `sqlite_driver_test` holds it.
URLs keep saying `sqlite+aiosqlite`: `todo.shared.db.create_engine` picks this dialect.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.aiosqlite import (
    AsyncAdapt_aiosqlite_connection,
    AsyncAdapt_aiosqlite_cursor,
    AsyncAdapt_aiosqlite_dbapi,
    SQLiteDialect_aiosqlite,
)
from sqlalchemy.util import EMPTY_DICT
from sqlalchemy.util.concurrency import await_

DRIVER = "todo_aiosqlite"
# The execution option that defers a statement to the next call on its connection.
DEFER_TO_COMMIT = "todo_defer_to_commit"

# What one statement hands back from aiosqlite's thread.
Outcome = tuple[Any, list[Any], int, int | None]
# A statement to run: its SQL, its parameters and whether they are many rows.
Statement = tuple[str, Any, bool]


def _execute(cursor: sqlite3.Cursor, operation: str, parameters: Any, many: bool) -> None:
    if many:
        cursor.executemany(operation, parameters)
    elif parameters is None:
        cursor.execute(operation)
    else:
        cursor.execute(operation, parameters)


def _run(conn: sqlite3.Connection, deferred: list[Statement], statement: Statement) -> Outcome:
    cursor = conn.cursor()
    try:
        for earlier in deferred:
            _execute(cursor, *earlier)
        _execute(cursor, *statement)
        description = cursor.description
        rows = cursor.fetchall() if description else []
        return description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


def _commit(conn: sqlite3.Connection, deferred: list[Statement]) -> None:
    cursor = conn.cursor()
    try:
        for statement in deferred:
            _execute(cursor, *statement)
        conn.commit()
    except BaseException:
        # A commit that fails leaves nothing, as PostgreSQL's does. SQLAlchemy counts the
        # transaction as ended by the commit, and its pool would not roll it back: what was
        # written before the failure would stay open, for the connection's next user to
        # commit.
        conn.rollback()
        raise
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
        adapt_connection = cast("OneHopConnection", self._adapt_connection)
        connection = self._connection
        async with adapt_connection._execute_mutex:
            deferred = adapt_connection.take_deferred()
            # aiosqlite's own queueing of a call on its thread (refused once closed);
            # `_conn` is read there.
            outcome: Outcome = await connection._execute(
                lambda: _run(connection._conn, deferred, (operation, parameters, many))
            )
        self._description, rows, self._rowcount, self._lastrowid = outcome
        self._rows = deque(rows)

    def defer(self, operation: str, parameters: Any, *, many: bool) -> None:
        """Keep the statement for the connection's next call; it has no result to read
        (its row count is unknown, -1, as the DB-API allows, and so is a row id)."""
        cast("OneHopConnection", self._adapt_connection).defer((operation, parameters, many))
        self._description = None
        self._rowcount = -1
        self._lastrowid = None
        self._rows.clear()
        # SQLAlchemy's async execution refuses a statement that never awaited (its check
        # for a driver that is not async); this await completes at once, on this thread.
        await_(_at_once())


async def _at_once() -> None:
    return None


class OneHopConnection(AsyncAdapt_aiosqlite_connection):
    __slots__ = ("_deferred",)

    _cursor_cls = OneHopCursor  # type: ignore[assignment]

    def __init__(self, dbapi: Any, connection: Any) -> None:
        super().__init__(dbapi, connection)
        self._deferred: list[Statement] = []

    def defer(self, statement: Statement) -> None:
        self._deferred.append(statement)

    def take_deferred(self) -> list[Statement]:
        deferred, self._deferred = self._deferred, []
        return deferred

    def commit(self) -> None:
        connection = self._connection
        deferred = self.take_deferred()
        if not connection._connection:
            if deferred:
                # Writes that were never sent must not pass for committed.
                self._handle_exception(ValueError("Connection closed"))
            return  # as SQLAlchemy's adapter: nothing to commit on a closed connection
        try:
            await_(connection._execute(lambda: _commit(connection._conn, deferred)))
        except Exception as error:
            self._handle_exception(error)

    def rollback(self) -> None:
        # What was deferred was never sent: nothing of it to undo.
        self._deferred.clear()
        # The pool rolls back every connection it gets back; after a commit, or after
        # reads only (SQLite opens no transaction for a SELECT), there is nothing to undo.
        # The flag is SQLite's autocommit state, which its C API reads from any thread.
        driver_connection = self._connection._connection
        if driver_connection is not None and not driver_connection.in_transaction:
            return
        super().rollback()

    def close(self) -> None:
        self._deferred.clear()
        super().close()


class OneHopDBAPI(AsyncAdapt_aiosqlite_dbapi):
    def connect(self, *arg: Any, **kw: Any) -> OneHopConnection:
        adapted = super().connect(*arg, **kw)
        return OneHopConnection(self, adapted._connection)


def _deferred(context: Any) -> bool:
    """Whether the statement of `context` is to be deferred; refused for a query or a
    statement with RETURNING, whose rows are its result."""
    if context is None or not context.execution_options.get(DEFER_TO_COMMIT):
        return False
    compiled = context.compiled
    if compiled is None or not (context.isinsert or context.isupdate or context.isdelete):
        raise ValueError(f"{DEFER_TO_COMMIT}: only for INSERT, UPDATE or DELETE statements")
    if compiled.effective_returning:
        raise ValueError(f"{DEFER_TO_COMMIT}: a statement with RETURNING cannot wait")
    return True


class OneHopDialect(SQLiteDialect_aiosqlite):
    driver = DRIVER
    supports_statement_cache = True

    def do_execute(self, cursor: Any, statement: Any, parameters: Any, context: Any = None) -> None:
        if _deferred(context):
            cursor.defer(statement, parameters, many=False)
            return
        cursor.execute(statement, parameters)

    def do_executemany(
        self, cursor: Any, statement: Any, parameters: Any, context: Any = None
    ) -> None:
        if _deferred(context):
            cursor.defer(statement, parameters, many=True)
            return
        cursor.executemany(statement, parameters)

    @classmethod
    def import_dbapi(cls) -> OneHopDBAPI:
        return OneHopDBAPI(__import__("aiosqlite"), __import__("sqlite3"))


registry.register(f"sqlite.{DRIVER}", __name__, "OneHopDialect")
