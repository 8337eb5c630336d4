"""The relay against a real database (SQLite and PostgreSQL) and a publisher that can be
told to refuse: what stays, what is retried, in which order."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col, select

from todo.backend.migrate import upgrade_async
from todo.backend.models import OutboxEvent
from todo.backend.outbox import OutboxRelay, OutboxSignal, add_event
from todo.domain.events import CloudEvent, RefreshData, refresh_event
from todo.shared.db import Database, create_engine, is_sqlite, open_database, session_factory


@dataclass
class RecordingPublisher:
    refuse: bool = False
    published: list[tuple[str, str]] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)

    async def publish(self, topic: str, event: CloudEvent) -> None:
        await self.publish_batch([(topic, event)])

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        if self.refuse:
            raise ConnectionError("broker unreachable")
        self.published.extend((topic, event.id) for topic, event in items)
        self.batches.append(len(items))


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    await upgrade_async(database_url)
    engine = create_engine(database_url)
    try:
        yield session_factory(engine)
    finally:
        await engine.dispose()


async def stage(sessions: async_sessionmaker[AsyncSession], count: int) -> list[str]:
    events = [
        refresh_event(RefreshData(owner_id=f"user-{n % 3}", kind="task", reason=f"change {n}"))
        for n in range(count)
    ]
    async with sessions() as session:
        for event in events:
            add_event(session, event)
        await session.commit()
    return [event.id for event in events]


async def outbox(sessions: async_sessionmaker[AsyncSession]) -> list[OutboxEvent]:
    async with sessions() as session:
        return list(
            (await session.scalars(select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all()
        )


async def test_a_refused_batch_stays_and_goes_out_in_order_later(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    publisher = RecordingPublisher(refuse=True)
    relay = OutboxRelay(sessions, publisher, batch_size=4)
    ids = await stage(sessions, 6)

    assert await relay.publish_pending() == (0, True)
    rows = await outbox(sessions)
    assert all(row.published_at is None for row in rows)
    assert rows[0].attempts == 1
    assert rows[0].last_error == "ConnectionError: broker unreachable"
    assert all(row.attempts == 0 for row in rows[1:])

    publisher.refuse = False
    assert await relay.publish_pending() == (4, False)
    assert await relay.publish_pending() == (2, False)
    assert await relay.publish_pending() == (0, False)
    assert [event_id for _, event_id in publisher.published] == ids
    assert {topic for topic, _ in publisher.published} == {"task-updates"}
    rows = await outbox(sessions)
    assert all(row.published_at is not None for row in rows)
    # One publishing moment per batch.
    assert len({row.published_at for row in rows}) == 2


def batch_histogram() -> tuple[float, float]:
    """(batches, events) the relay metric has counted so far in this process."""
    count = REGISTRY.get_sample_value("todo_outbox_batch_events_count") or 0.0
    total = REGISTRY.get_sample_value("todo_outbox_batch_events_sum") or 0.0
    return count, total


async def test_a_stream_of_commits_goes_out_in_few_full_batches(database_url: str) -> None:
    """With a linger, commits that come one after another are published together, each
    batch counted by the relay's metric; nothing is lost or reordered."""
    await upgrade_async(database_url)
    signal = OutboxSignal()
    engine = create_engine(database_url)
    sessions = session_factory(engine, signal.after_commit)
    publisher = RecordingPublisher()
    relay = OutboxRelay(sessions, publisher, signal, linger_seconds=0.5, poll_seconds=60)
    before = batch_histogram()
    await relay.start()
    try:
        ids: list[str] = []
        began = time.monotonic()
        for _ in range(20):  # each commit wakes the relay
            ids += await stage(sessions, 1)
        committing = time.monotonic() - began
        for _ in range(200):
            if len(publisher.published) == len(ids):
                break
            await asyncio.sleep(0.05)
    finally:
        await relay.stop()
        await engine.dispose()
    assert [event_id for _, event_id in publisher.published] == ids
    # One batch at the first wake, then at most one per linger while commits came (a
    # slow machine's commits just spread over more lingers), and one for the last ones.
    most = 2 + int(committing / 0.5)
    assert len(publisher.batches) <= most, f"batches: {publisher.batches} in {committing:.2f} s"
    after = batch_histogram()
    assert (after[0] - before[0], after[1] - before[1]) == (len(publisher.batches), 20)


@dataclass
class StalledPublisher:
    """A publish that hangs until released, as one to a slow broker does."""

    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def publish(self, topic: str, event: CloudEvent) -> None:
        await self.publish_batch([(topic, event)])

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        self.entered.set()
        await self.release.wait()


async def test_on_sqlite_a_slow_publish_never_holds_the_writer(database_url: str) -> None:
    if not is_sqlite(database_url):
        pytest.skip("PostgreSQL keeps the batch under its relay lock, on a pool of its own")
    await upgrade_async(database_url)
    database = open_database(database_url)
    try:
        assert database.single_writer_connection
        publisher = StalledPublisher()
        relay = OutboxRelay(database.writes, publisher, reads=database.reads)
        await stage(database.writes, 3)
        publishing = asyncio.create_task(relay.publish_pending())
        await asyncio.wait_for(publisher.entered.wait(), 10)
        # The API's next change goes through while the publish hangs.
        await asyncio.wait_for(stage(database.writes, 1), 10)
        publisher.release.set()
        assert await publishing == (3, False)
        await relay.mark_published()
        rows = await outbox(database.writes)
        assert [row.published_at is not None for row in rows] == [True, True, True, False]
    finally:
        await database.dispose()


@pytest.fixture
async def sqlite_database(tmp_path: Path) -> AsyncIterator[Database]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}"
    await upgrade_async(url)
    database = open_database(url)
    try:
        yield database
    finally:
        await database.dispose()


def count_writes(database: Database) -> list[str]:
    """The statements that change the database, as they run."""
    writes: list[str] = []

    @sa_event.listens_for(database.engine.sync_engine, "before_cursor_execute")
    def _record(_c: Any, _cur: Any, statement: str, *_rest: Any) -> None:
        if statement.lstrip().upper().startswith(("UPDATE", "INSERT", "DELETE")):
            writes.append(statement)

    return writes


async def test_on_sqlite_batches_are_marked_together_and_never_published_twice(
    sqlite_database: Database,
) -> None:
    publisher = RecordingPublisher()
    relay = OutboxRelay(sqlite_database.writes, publisher, reads=sqlite_database.reads)
    ids = [*await stage(sqlite_database.writes, 2), *await stage(sqlite_database.writes, 3)]
    writes = count_writes(sqlite_database)

    assert await relay.publish_pending() == (5, False)
    more = await stage(sqlite_database.writes, 1)
    assert await relay.publish_pending() == (1, False)
    assert await relay.publish_pending() == (0, False)

    # Each event went out once, in commit order, and the relay wrote nothing yet.
    assert [event_id for _, event_id in publisher.published] == ids + more
    assert [w for w in writes if "outbox" in w and w.startswith("UPDATE")] == []
    assert all(row.published_at is None for row in await outbox(sqlite_database.writes))
    await relay.mark_published()
    marks = [w for w in writes if w.startswith("UPDATE")]
    assert len(marks) == 1
    rows = await outbox(sqlite_database.writes)
    assert all(row.published_at is not None for row in rows)


async def test_on_sqlite_the_relay_marks_within_mark_seconds_and_when_it_stops(
    sqlite_database: Database,
) -> None:
    publisher = RecordingPublisher()
    signal = OutboxSignal()
    relay = OutboxRelay(
        session_factory(sqlite_database.engine, signal.after_commit),
        publisher,
        signal,
        reads=sqlite_database.reads,
        mark_seconds=0.2,
    )
    await relay.start()
    try:
        await stage(relay.sessions, 2)
        await wait_until(lambda: len(publisher.published) == 2)
        # Marked by the running relay once mark_seconds have passed.
        await wait_until_marked(sqlite_database, 2)
        await stage(relay.sessions, 1)
        await wait_until(lambda: len(publisher.published) == 3)
    finally:
        relay.mark_seconds = 3600.0
        await relay.stop()
    # What was published since the last mark is marked as the relay stops.
    await wait_until_marked(sqlite_database, 3)


async def test_on_sqlite_a_crash_before_the_mark_publishes_again_at_the_next_start(
    sqlite_database: Database,
) -> None:
    before = RecordingPublisher()
    crashed = OutboxRelay(sqlite_database.writes, before, reads=sqlite_database.reads)
    ids = await stage(sqlite_database.writes, 3)
    assert await crashed.publish_pending() == (3, False)

    after = RecordingPublisher()
    restarted = OutboxRelay(sqlite_database.writes, after, reads=sqlite_database.reads)
    assert await restarted.publish_pending() == (3, False)

    # At least once: consumers see these again and are idempotent.
    assert [event_id for _, event_id in after.published] == ids


async def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


async def wait_until_marked(database: Database, count: int, timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            rows = await outbox(database.writes)
            if sum(row.published_at is not None for row in rows) == count:
                return
            await asyncio.sleep(0.02)
