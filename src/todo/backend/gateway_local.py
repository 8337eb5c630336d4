"""The worker's TaskGateway answered in process, for the embedded shape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from todo.backend import tasks_service
from todo.backend.outbox import OutboxRelay
from todo.domain.events import TaskSnapshot


@dataclass
class LocalTaskGateway:
    sessions: async_sessionmaker[AsyncSession]
    relay: OutboxRelay

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        async with self.sessions() as session:
            return await tasks_service.load_snapshot(session, task_id)

    async def create_next_occurrence(self, task_id: str, idempotency_key: str) -> str | None:
        async with self.sessions() as session:
            created = await tasks_service.create_next_occurrence(session, task_id, idempotency_key)
        self.relay.poke()
        return created

    async def record_reminder(
        self, task_id: str, fire_at: datetime, title: str
    ) -> tuple[str, bool]:
        async with self.sessions() as session:
            result = await tasks_service.record_reminder(session, task_id, fire_at, title)
        self.relay.poke()
        return result
