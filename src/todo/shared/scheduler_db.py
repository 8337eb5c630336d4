"""The embedded shape's reminder scheduler: durable one-shot jobs in the database.

Jobs fire never before their due time; a job whose handler fails is retried with
backoff. Because jobs are rows, a job scheduled before a restart fires after it, and a
crash between the handler and the job's deletion only repeats a handler that is itself
idempotent.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib.resources import files
from typing import Any

from sqlalchemy import JSON, Column, delete
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import Field, SQLModel, col, select

from todo.domain.ports import JobHandler, PermanentEventError
from todo.shared import alembic_env
from todo.shared.background import BackgroundLoop
from todo.shared.db import UTCDateTime, dialect_name

log = logging.getLogger(__name__)


def new_id() -> str:
    return str(uuid.uuid4())


class ScheduledJob(SQLModel, table=True):
    """A durable one-shot job of the embedded scheduler (the Dapr Jobs API's stand-in
    for the one-process shape): survives restarts because it lives in the database."""

    __tablename__ = "scheduled_jobs"

    name: str = Field(primary_key=True, max_length=200)
    due_at: datetime = Field(sa_column=Column(UTCDateTime(), nullable=False, index=True))
    payload: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    # Changes on every (re)schedule, so a firing never deletes a newer replacement.
    generation: str = Field(default_factory=new_id, max_length=36)
    attempts: int = Field(default=0)


async def upgrade_store(database_url: str) -> None:
    """Create or migrate the scheduler's table in `database_url` (its migrations are the
    table's one owner, wherever the store lives)."""
    location = str(files("todo.shared") / "scheduler_migrations")
    await alembic_env.upgrade_async(location, database_url)


@dataclass
class DatabaseScheduler:
    """Jobs as rows of `scheduled_jobs`, fired by a loop that sleeps until the next one.

    `sessions` make the changes; `reads`, when given, look for due jobs beside them. On
    SQLite the changes share the one writer connection with the API's writes, and a
    lookup after every (re)schedule held it for two queries each time: the lookups read
    a snapshot of their own instead (WAL), and the writer is taken only to change a row.
    """

    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession] | None = None
    max_idle_seconds: float = 30.0
    max_attempts: int = 10
    _handler: JobHandler | None = None

    def __post_init__(self) -> None:
        self._loop = BackgroundLoop("db-scheduler", self.fire_due, max_backoff_seconds=1.0)

    def set_handler(self, handler: JobHandler) -> None:
        self._handler = handler

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        # One upsert: a read-then-write would race a firing job deleting the same row.
        values = {
            "name": name,
            "due_at": due_at,
            "payload": payload,
            "generation": new_id(),
            "attempts": 0,
        }
        async with self.sessions() as session:
            dialect = dialect_name(session)
            insert = pg_insert if dialect == "postgresql" else sqlite_insert
            table = ScheduledJob.__table__  # type: ignore[attr-defined]
            statement = insert(table).values(**values)
            statement = statement.on_conflict_do_update(
                index_elements=["name"],
                set_={k: statement.excluded[k] for k in values if k != "name"},
            )
            await session.execute(statement)
            await session.commit()
        self._loop.wake()

    async def cancel(self, name: str) -> None:
        async with self.sessions() as session:
            await session.execute(delete(ScheduledJob).where(col(ScheduledJob.name) == name))
            await session.commit()

    async def start(self) -> None:
        if self._handler is None:
            raise RuntimeError("DatabaseScheduler started without a job handler")
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def fire_due(self) -> float:
        """Fire every due job; returns seconds until the next one (capped)."""
        assert self._handler is not None
        reads = self.reads or self.sessions
        while True:
            now = datetime.now(UTC)
            async with reads() as session:
                # The earliest job: due, it fires; not yet, its time is the next wake-up.
                first = (
                    await session.execute(
                        select(
                            col(ScheduledJob.name),
                            col(ScheduledJob.generation),
                            col(ScheduledJob.payload),
                            col(ScheduledJob.due_at),
                        )
                        .order_by(col(ScheduledJob.due_at))
                        .limit(1)
                    )
                ).one_or_none()
            if first is None:
                return self.max_idle_seconds
            name, generation, payload = first.name, first.generation, first.payload
            due_at: datetime = first.due_at
            if due_at > now:
                return max(0.0, min(self.max_idle_seconds, (due_at - now).total_seconds()))
            await self._fire(name, generation, dict(payload))

    async def _fire(self, name: str, generation: str, payload: dict[str, Any]) -> None:
        assert self._handler is not None
        try:
            await self._handler(name, payload)
        except Exception as exc:
            permanent = isinstance(exc, PermanentEventError)
            await self._after_failure(name, generation, exc, permanent)
            return
        async with self.sessions() as session:
            # The handler may have rescheduled this name: only the generation that fired goes.
            await session.execute(
                delete(ScheduledJob).where(
                    col(ScheduledJob.name) == name, col(ScheduledJob.generation) == generation
                )
            )
            await session.commit()

    async def _after_failure(
        self, name: str, generation: str, exc: Exception, permanent: bool
    ) -> None:
        async with self.sessions() as session:
            job = await session.get(ScheduledJob, name)
            if job is None or job.generation != generation:
                return
            job.attempts += 1
            if permanent or job.attempts >= self.max_attempts:
                log.error("job dropped", extra={"job": name, "error": str(exc)})
                await session.delete(job)
            else:
                backoff = min(300.0, 0.5 * 2**job.attempts)
                log.warning("job failed, retrying", extra={"job": name, "attempt": job.attempts})
                job.due_at = datetime.now(UTC) + timedelta(seconds=backoff)
            await session.commit()
