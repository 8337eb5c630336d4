"""The worker's TaskGateway answered in process, for the embedded shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from todo.backend import notifications
from todo.backend.tasks import commands, queries
from todo.domain.errors import NotFound, Uncomputable
from todo.domain.events import TaskSnapshot
from todo.domain.ports import PermanentEventError


@dataclass
class LocalTaskGateway:
    """`sessions` for the changes; `reads` for the lookups, which then never take SQLite's
    one writer connection (see `todo.shared.db.Database`)."""

    sessions: async_sessionmaker[AsyncSession]
    reads: async_sessionmaker[AsyncSession]

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        async with self.reads() as session:
            return await queries.load_snapshot(session, task_id)

    async def create_next_occurrence(self, task_id: str, idempotency_key: str) -> str | None:
        async with self.sessions() as session:
            try:
                return await commands.create_next_occurrence(session, task_id, idempotency_key)
            except Uncomputable as exc:
                # What the HTTP gateway gets as a 422: retrying cannot help.
                raise PermanentEventError(str(exc)) from exc

    async def record_reminder(
        self, task_id: str, fire_at: datetime, title: str
    ) -> tuple[str, bool]:
        async with self.sessions() as session:
            try:
                return await notifications.record_reminder(session, task_id, fire_at, title)
            except NotFound as exc:
                raise PermanentEventError(str(exc)) from exc
