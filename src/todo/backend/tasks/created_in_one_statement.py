"""PostgreSQL: a new task, its tags and its events written by one statement.

Sent as three INSERTs in a transaction, a create took five round trips to the server
(BEGIN, the task, its tags, its events, COMMIT), each a turn of the driver and of the
event loop: in profiles of a create load the driver's protocol was the largest share of
the backend's CPU. Here the task and its tags are data-modifying CTEs of the INSERT of
its events. One statement is atomic by itself, so a request with no transaction open
sends it in autocommit mode: one round trip, no BEGIN, no COMMIT. Inside a transaction
(the next occurrence of a series, made after reads) it is one statement of that
transaction. The foreign key of a tag on its task holds: PostgreSQL checks it at the
end of the statement, when the task's row is there.

The statement is built once, from the tables' own columns and types (the same bind
processing as any other write of theirs), so its compiled form and the driver's
prepared statement are reused; tags and events travel as one array and one JSON
document, so their number does not change the statement.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pydantic_core
from sqlalchemy import String, bindparam, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend.models import TASK_TAGS, TASKS
from todo.backend.outbox import OUTBOX, event_row, events_written
from todo.domain.events import CloudEvent
from todo.shared import driver_statements

# The task's columns a create writes (the others keep their defaults).
TASK_COLUMNS = (
    "id",
    "owner_id",
    "title",
    "notes",
    "status",
    "priority",
    "priority_rank",
    "due_at",
    "time_zone",
    "reminders",
    "snoozed_until",
    "recurrence",
    "series_id",
    "series_start",
    "occurrence_number",
    "origin_key",
    "completed_at",
    "created_at",
    "updated_at",
    "version",
)
# An outbox row's columns, as `todo.backend.outbox.event_row` makes them.
EVENT_COLUMNS = ("event_id", "topic", "partition_key", "payload", "created_at", "attempts")
_EVENT_TYPES = {
    "event_id": "text",
    "topic": "text",
    "partition_key": "text",
    "payload": "json",
    "created_at": "timestamptz",
    "attempts": "integer",
}


def _statement() -> Any:
    for name in TASK_COLUMNS:
        assert name in TASKS.c, f"tasks has no column {name}"
    for name in EVENT_COLUMNS:
        assert name in OUTBOX.c, f"outbox has no column {name}"
    task_columns = ", ".join(TASK_COLUMNS)
    task_values = ", ".join(f":{name}" for name in TASK_COLUMNS)
    event_columns = ", ".join(EVENT_COLUMNS)
    event_record = ", ".join(f"{name} {_EVENT_TYPES[name]}" for name in EVENT_COLUMNS)
    # Only names of our own tables and columns go into the text; every value is a
    # parameter.
    sql = (
        f"WITH new_task AS (INSERT INTO {TASKS.name} ({task_columns}) VALUES ({task_values})), "  # noqa: S608
        f"new_tags AS (INSERT INTO {TASK_TAGS.name} (task_id, tag, owner_id) "
        "SELECT :id, tag, :owner_id FROM unnest(CAST(:tags AS text[])) AS tag) "
        f"INSERT INTO {OUTBOX.name} ({event_columns}) "
        f"SELECT {event_columns} FROM ROWS FROM "
        f"(json_to_recordset(CAST(:events AS json)) AS ({event_record})) "
        # In the order given: their sequence numbers are the order they are published in.
        f"WITH ORDINALITY AS event({event_columns}, position) ORDER BY position"
    )
    return text(sql).bindparams(
        *(bindparam(name, type_=TASKS.c[name].type) for name in TASK_COLUMNS),
        bindparam("tags", type_=ARRAY(String)),
        bindparam("events", type_=String),
    )


STATEMENT = _statement()


async def insert_created(
    session: AsyncSession,
    task: Mapping[str, Any],
    tags: Sequence[str],
    events: Sequence[CloudEvent],
) -> None:
    """Write `task` (every column of `TASK_COLUMNS`), its `tags` and its `events`; the
    caller commits (which wakes the outbox's relay). Raises what the statement breaks
    (IntegrityError of a unique key) at once, not at the commit."""
    # Instants go as ISO 8601 with their offset: PostgreSQL reads them back exactly.
    rows = pydantic_core.to_json([event_row(event) for event in events]).decode()
    values = {**task, "tags": list(tags), "events": rows}
    if session.in_transaction():
        await session.execute(STATEMENT, values)
    else:
        # Nothing read or written yet in this unit of work: the one statement is the
        # whole transaction, sent by the driver itself (`todo.shared.driver_statements`).
        await session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
        await driver_statements.execute(session, STATEMENT, values)
    events_written(session)
