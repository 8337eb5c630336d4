"""The bare baseline of the HTTP benchmark: what the machine gives for our SQL with
nothing of ours around it.

A raw ASGI app (no framework) on uvicorn with one asyncpg pool. `POST /tasks` runs the
INSERT our create runs, `GET /tasks?limit=N` the page query our list runs (both compiled
from the backend's own statements, so the SQL is the same text). The bearer token is taken
for the owner's id as it is (several owners spread the rows as our users do): no
authentication, no validation, no outbox, no events.

    python -m loadtests.bare_baseline --database-url postgresql://... --port 8090

The tables are ours: run the backend's migrations on the database first (the benchmark
does).
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import asyncpg
import uvicorn
from sqlalchemy import bindparam, insert
from sqlalchemy.dialects import postgresql

from todo.backend.models import TASKS
from todo.backend.tasks import queries

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

OWNER_ID = "00000000-0000-4000-8000-000000000001"
_DIALECT = postgresql.asyncpg.dialect(paramstyle="numeric_dollar")  # type: ignore[no-untyped-call]


def _compiled(statement: Any) -> tuple[str, list[str], dict[str, Any]]:
    """asyncpg SQL text ($1, $2, ...), the parameter names in their order, and the
    values bound in the statement."""
    compiled = statement.compile(dialect=_DIALECT)
    return str(compiled), list(compiled.positiontup or []), dict(compiled.params)


INSERT_SQL, INSERT_PARAMS, _ = _compiled(
    insert(TASKS).values({column.name: bindparam(column.name) for column in TASKS.c})
)
# The same statement the list route runs, with its values as parameters.
PAGE_SQL, PAGE_PARAMS, _PAGE_LITERALS = _compiled(
    queries.page_statement(queries.TaskQuery(), "postgresql")
)
PAGE_BOUND: dict[str, Any] = {**_PAGE_LITERALS, "owner_id": OWNER_ID, "limit": 25, "offset": 0}


def _owner(scope: Scope) -> str:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value.startswith(b"Bearer "):
            return str(value[7:].decode())
    return OWNER_ID


def _insert_values(title: str, owner_id: str = OWNER_ID) -> list[Any]:
    now = datetime.now(UTC)
    task_id = str(uuid.uuid4())
    values: dict[str, Any] = {
        "id": task_id,
        "owner_id": owner_id,
        "title": title,
        "notes": "",
        "status": "open",
        "priority": "medium",
        "priority_rank": 1,
        "due_at": None,
        "time_zone": "UTC",
        "reminders": "[]",
        "snoozed_until": None,
        "recurrence": None,
        "series_id": task_id,
        "series_start": None,
        "occurrence_number": 1,
        "origin_key": None,
        "completed_at": None,
        "created_at": now,
        "updated_at": now,
        "version": 1,
    }
    return [values[name] for name in INSERT_PARAMS]


class BareApp:
    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.pool: asyncpg.Pool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        assert self.pool is not None
        if scope["method"] == "POST":
            body = b""
            while True:
                message = await receive()
                body += message.get("body", b"")
                if not message.get("more_body"):
                    break
            title = str(json.loads(body or b"{}").get("title", "bare"))
            values = _insert_values(title, _owner(scope))
            row = await self.pool.fetchrow(INSERT_SQL + " RETURNING id", *values)
            await _answer(send, 201, {"id": row["id"] if row else None})
            return
        query = parse_qs(scope.get("query_string", b"").decode())
        limit = int(query.get("limit", ["25"])[0])
        params = {**PAGE_BOUND, "limit": limit, "owner_id": _owner(scope)}
        rows = await self.pool.fetch(PAGE_SQL, *[params[p] for p in PAGE_PARAMS])
        data = [{"id": r["id"], "title": r["title"], "tags": r["tags"]} for r in rows]
        await _answer(send, 200, {"data": data, "count": int(rows[0]["total"]) if rows else 0})

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.pool = await asyncpg.create_pool(self.database_url, min_size=4, max_size=10)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self.pool is not None:
                    await self.pool.close()
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _answer(send: Send, status: int, payload: Any) -> None:
    body = json.dumps(payload, default=str).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="postgresql://user:pass@host/db")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    url = args.database_url.replace("postgresql+asyncpg://", "postgresql://")
    uvicorn.run(BareApp(url), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
