"""Transactional outbox: events are written with the change, and a relay publishes them.

A bus or sidecar outage delays events but never loses them: rows stay unpublished until
the bus accepts them. The relay publishes in commit order and stops a batch at the first
failure, so per-user order holds. On PostgreSQL only one relay at a time (an advisory
lock held for the batch transaction) publishes, whatever the number of replicas.

On SQLite (one process) the relay remembers how far it has published and marks what it
published in one write at most every `mark_seconds`, not after every batch: each mark
was a transaction on the one writer connection, after every change, that the API's next
write waited for. A crash before the mark publishes those events again at the next
start, as any crash between a publish and its mark always could: delivery is at least
once, and consumers are idempotent.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Row, Select, Update, insert, select, text, update
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session

from todo.backend.models import OutboxEvent
from todo.domain.events import TOPIC_OF_TYPE, CloudEvent
from todo.domain.metrics import OUTBOX_BATCH_EVENTS, OUTBOX_PUBLISH_LAG
from todo.domain.ports import EventPublisher
from todo.shared.background import BackgroundLoop, StepFailed
from todo.shared.db import DEFER_TO_COMMIT, dialect_name

log = logging.getLogger(__name__)

# An arbitrary constant: the key of the PostgreSQL advisory lock that elects the relay.
RELAY_LOCK_KEY = 0x70D0_0B0C


OUTBOX = OutboxEvent.__table__  # type: ignore[attr-defined]
# Built once (the same object, so no cache key to compute); written with the commit.
_INSERT_EVENTS = insert(OUTBOX).execution_options(**DEFER_TO_COMMIT)
_STAGED = "todo.outbox.staged"
_WRITTEN = "todo.outbox.written"


def event_row(event: CloudEvent) -> dict[str, Any]:
    """The outbox row of `event`, as a column-to-value mapping."""
    return {
        "event_id": event.id,
        "topic": TOPIC_OF_TYPE[event.type].value,
        "partition_key": event.partitionkey,
        "payload": event.model_dump(mode="json"),
        "created_at": datetime.now(UTC),
        "attempts": 0,
    }


def add_event(session: AsyncSession, event: CloudEvent) -> None:
    """Stage `event` in the caller's transaction: it is written as the transaction commits
    (one INSERT for all the events staged, no ORM objects), and the commit wakes the
    relay."""
    session.info.setdefault(_STAGED, []).append(event_row(event))


def events_written(session: AsyncSession) -> None:
    """Tell the unit of work that the caller wrote outbox rows itself (`event_row`, in a
    statement of its own): its commit wakes the relay as if they had been staged."""
    session.info[_WRITTEN] = True


@sa_event.listens_for(Session, "before_commit")
def _write_staged_events(session: Session) -> None:
    staged = session.info.pop(_STAGED, None)
    if staged:
        session.execute(_INSERT_EVENTS, staged)
        session.info[_WRITTEN] = True


@sa_event.listens_for(Session, "after_rollback")
def _drop_staged_events(session: Session) -> None:
    # What the rolled-back change staged is not the next transaction's.
    session.info.pop(_STAGED, None)
    session.info.pop(_WRITTEN, None)


@dataclass
class OutboxSignal:
    """The unit of work's hook: a commit that staged events wakes whatever waits for them
    (the relay), so no caller has to remember to. Pass `after_commit` to
    `todo.shared.db.session_factory`."""

    _listeners: list[Callable[[], None]] = field(default_factory=list)

    def after_commit(self, session: Session) -> None:
        if session.info.pop(_WRITTEN, False):
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
    # See `todo.shared.background`: under a stream of commits, one batch per linger.
    linger_seconds: float = 0.0
    # Sessions beside the writer, given on SQLite: the batch is read there and the single
    # writer connection is held only to mark it (see `publish_pending`).
    reads: async_sessionmaker[AsyncSession] | None = None
    # SQLite: the longest a published event waits for its mark (see the module's doc).
    mark_seconds: float = 1.0

    def __post_init__(self) -> None:
        self._loop = BackgroundLoop(
            "outbox-relay",
            self._step,
            max_backoff_seconds=self.max_backoff_seconds,
            linger_seconds=self.linger_seconds,
        )
        if self.signal is not None:
            self.signal.listen(self._loop.wake)
        # SQLite: the last seq published, and since when published rows await their mark.
        self._published_through = 0
        self._marked_through = 0
        self._unmarked_since: float | None = None

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()
        if self.reads is not None:
            try:
                await self.mark_published()
            except Exception:
                # Unmarked rows go out again at the next start: at least once, as ever.
                log.warning("outbox: marking published events at stop failed", exc_info=True)

    async def _step(self) -> float:
        published, failed = await self.publish_pending()
        if failed:
            raise StepFailed
        # A full batch means more may be waiting: go again at once.
        if published >= self.batch_size:
            return 0.0
        if self._unmarked_since is None:
            return self.poll_seconds
        if (wait := self._unmarked_since + self.mark_seconds - time.monotonic()) <= 0:
            await self.mark_published()
            return self.poll_seconds
        return min(self.poll_seconds, wait)

    async def publish_pending(self) -> tuple[int, bool]:
        """Publish one batch; returns (events published, whether one failed)."""
        if self.reads is None:
            return await self._publish_under_lock()
        return await self._publish_outside_the_writer()

    async def _publish_under_lock(self) -> tuple[int, bool]:
        # PostgreSQL: the batch is read, published and marked in one transaction that holds
        # the relay lock, so two replicas never publish one batch side by side.
        async with self.sessions() as session, session.begin():
            if dialect_name(session) == "postgresql":
                got = await session.scalar(
                    text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": RELAY_LOCK_KEY}
                )
                if not got:
                    return 0, False
            rows = (await session.execute(self._pending())).all()
            if not rows:
                return 0, False
            outcome = await self._publish(rows)
            await session.execute(self._mark(rows, outcome))
            return (0, True) if outcome else (len(rows), False)

    async def _publish_outside_the_writer(self) -> tuple[int, bool]:
        # SQLite, one process: the batch is read beside the writer, so the API's writes
        # never wait for a publish (a network call on the Kafka or Dapr bus), and what was
        # published is marked later, many batches in one write (`mark_published`).
        assert self.reads is not None
        async with self.reads() as session:
            rows = (await session.execute(self._pending(after=self._published_through))).all()
        if not rows:
            return 0, False
        outcome = await self._publish(rows)
        if outcome is not None:
            async with self.sessions() as session, session.begin():
                await session.execute(self._mark(rows, outcome))
            return 0, True
        self._observe_published(rows)
        self._published_through = rows[-1].seq
        if self._unmarked_since is None:
            self._unmarked_since = time.monotonic()
        if self._published_through - self._marked_through >= self.batch_size:
            await self.mark_published()
        return len(rows), False

    async def mark_published(self) -> None:
        """SQLite: mark every row published so far in one write. Rows commit in seq order
        there (one writer), so each row up to the last one published went out."""
        through = self._published_through
        if through <= self._marked_through:
            return
        async with self.sessions() as session, session.begin():
            await session.execute(
                update(OUTBOX)
                .where(OUTBOX.c.seq <= through, OUTBOX.c.published_at.is_(None))
                .values(published_at=datetime.now(UTC))
            )
        self._marked_through = through
        if self._published_through == through:
            self._unmarked_since = None

    def _pending(self, after: int = 0) -> Select[Any]:
        # Columns, not ORM objects, and one UPDATE for the batch: the relay shares the
        # API's event loop, and per-object bookkeeping of 200 rows showed in profiles.
        return (
            select(OUTBOX.c.seq, OUTBOX.c.topic, OUTBOX.c.payload, OUTBOX.c.created_at)
            .where(OUTBOX.c.published_at.is_(None), OUTBOX.c.seq > after)
            .order_by(OUTBOX.c.seq)
            .limit(self.batch_size)
        )

    async def _publish(self, rows: Sequence[Row[Any]]) -> str | None:
        """Publish the batch; None when it went out, else the error."""
        items = [(row.topic, CloudEvent.model_validate(row.payload)) for row in rows]
        try:
            await self.publisher.publish_batch(items)
        except Exception as exc:
            # Some of the batch may have gone out: delivery is at least once, and
            # consumers are idempotent, so the whole batch is sent again later.
            log.warning(
                "outbox publish failed; will retry",
                extra={"event_id": items[0][1].id, "seq": rows[0].seq},
            )
            return f"{type(exc).__name__}: {exc}"[:2000]
        return None

    @staticmethod
    def _observe_published(rows: Sequence[Row[Any]]) -> None:
        OUTBOX_BATCH_EVENTS.observe(len(rows))
        now = datetime.now(UTC)
        for row in rows:
            OUTBOX_PUBLISH_LAG.observe((now - row.created_at).total_seconds())

    def _mark(self, rows: Sequence[Row[Any]], error: str | None) -> Update:
        if error is not None:
            return (
                update(OUTBOX)
                .where(OUTBOX.c.seq == rows[0].seq)
                .values(attempts=OUTBOX.c.attempts + 1, last_error=error)
            )
        self._observe_published(rows)
        return (
            update(OUTBOX)
            .where(OUTBOX.c.seq.in_([row.seq for row in rows]))
            .values(published_at=datetime.now(UTC))
        )
