"""Transactional outbox: events are written with the change, and a relay publishes them.

A bus or sidecar outage delays events but never loses them: rows stay unpublished until
the bus accepts them. The relay publishes in commit order and stops a batch at the first
failure, so per-user order holds. On PostgreSQL only one relay at a time (an advisory
lock held for the batch transaction) publishes, whatever the number of replicas.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from todo.backend.models import OutboxEvent
from todo.domain.events import TOPIC_OF_TYPE, CloudEvent
from todo.domain.metrics import OUTBOX_PUBLISH_LAG
from todo.domain.ports import EventPublisher
from todo.shared.background import BackgroundLoop, StepFailed
from todo.shared.db import dialect_name

log = logging.getLogger(__name__)

# An arbitrary constant: the key of the PostgreSQL advisory lock that elects the relay.
RELAY_LOCK_KEY = 0x70D0_0B0C


OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
_STAGED = "todo.outbox.staged"


def add_event(session: AsyncSession, event: CloudEvent) -> None:
    """Stage `event` in the caller's transaction; its commit wakes the relay."""
    session.add(
        OutboxEvent(
            event_id=event.id,
            topic=TOPIC_OF_TYPE[event.type].value,
            partition_key=event.partitionkey,
            payload=event.model_dump(mode="json"),
        )
    )
    session.info[_STAGED] = True


@dataclass
class OutboxSignal:
    """The unit of work's hook: a commit that staged events wakes whatever waits for them
    (the relay), so no caller has to remember to. Pass `after_commit` to
    `todo.shared.db.session_factory`."""

    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, session: Session) -> None:
        if session.info.pop(_STAGED, False):
            for listener in self._listeners:
                listener()

    def listen(self, listener: Callable[[], None]) -> None:
        self._listeners.append(listener)


@dataclass
class OutboxRelay:
    sessions: async_sessionmaker[AsyncSession]
    publisher: EventPublisher
    signal: OutboxSignal | None = None
    poll_seconds: float = 1.0
    batch_size: int = 200
    max_backoff_seconds: float = 5.0

    def __post_init__(self) -> None:
        self._loop = BackgroundLoop(
            "outbox-relay", self._step, max_backoff_seconds=self.max_backoff_seconds
        )
        if self.signal is not None:
            self.signal.listen(self._loop.wake)

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self) -> float:
        published, failed = await self.publish_pending()
        if failed:
            raise StepFailed
        # A full batch means more may be waiting: go again at once.
        return 0.0 if published >= self.batch_size else self.poll_seconds

    async def publish_pending(self) -> tuple[int, bool]:
        """Publish one batch; returns (events published, whether one failed)."""
        async with self.sessions() as session, session.begin():
            if dialect_name(session) == "postgresql":
                got = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK_KEY}
                )
                if not got:
                    return 0, False
            # Columns, not ORM objects, and one UPDATE for the batch: the relay shares the
            # API's event loop, and per-object bookkeeping of 200 rows showed in profiles.
            table = OutboxEvent.__table__  # type: ignore[attr-defined]
            rows = (
                await session.execute(
                    select(table.c.seq, table.c.topic, table.c.payload, table.c.created_at)
                    .where(table.c.published_at.is_(None))
                    .order_by(table.c.seq)
                    .limit(self.batch_size)
                )
            ).all()
            if not rows:
                return 0, False
            items = [(row.topic, CloudEvent.model_validate(row.payload)) for row in rows]
            try:
                await self.publisher.publish_batch(items)
            except Exception as exc:
                # Some of the batch may have gone out: delivery is at least once, and
                # consumers are idempotent, so the whole batch is sent again later.
                head = rows[0]
                await session.execute(
                    update(table)
                    .where(table.c.seq == head.seq)
                    .values(
                        attempts=table.c.attempts + 1,
                        last_error=f"{type(exc).__name__}: {exc}"[:2000],
                    )
                )
                log.warning(
                    "outbox publish failed; will retry",
                    extra={"event_id": items[0][1].id, "seq": head.seq},
                )
                return 0, True
            now = datetime.now(UTC)
            await session.execute(
                update(table)
                .where(table.c.seq.in_([row.seq for row in rows]))
                .values(published_at=now)
            )
            for row in rows:
                OUTBOX_PUBLISH_LAG.observe((now - row.created_at).total_seconds())
            return len(rows), False
