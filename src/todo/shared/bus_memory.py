"""In-process event bus for the embedded shape.

Per consumer group and topic, a few partitions as on Kafka: an event goes to the
partition its key (the owner's user id) hashes to, and each partition has its own queue
and delivery task. A group gets the events of one key in publish order (per-user order),
and a slow handler of one user does not hold up the others: with one queue, the embedded
worker fell minutes behind under load, one SQLite write after the other
(docs/performance.md). Handlers that raise are retried with backoff, and events that
still fail are dead-lettered (logged and counted), the same contract as the Kafka and
Dapr adapters.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

from todo.domain.events import CloudEvent
from todo.domain.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_PUBLISHED
from todo.domain.ports import EventHandler
from todo.shared import delivery
from todo.shared.background import raise_if_cancelled
from todo.shared.delivery import RetryPolicy

log = logging.getLogger(__name__)


@dataclass
class _Subscription:
    topic: str
    group: str
    handler: EventHandler
    queues: list[asyncio.Queue[CloudEvent]]
    tasks: list[asyncio.Task[None]] = field(default_factory=list)


@dataclass
class MemoryEventBus:
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    partitions: int = 8
    _subs: list[_Subscription] = field(default_factory=list)
    dead_letters: list[tuple[CloudEvent, str]] = field(default_factory=list)

    def subscribe(
        self, topic: str, group: str, handler: EventHandler, *, newest_only: bool = False
    ) -> None:
        # In process there is no history before the subscription: every group is newest-only.
        queues: list[asyncio.Queue[CloudEvent]] = [asyncio.Queue() for _ in range(self.partitions)]
        self._subs.append(_Subscription(topic, group, handler, queues))

    def partition_of(self, event: CloudEvent) -> int:
        # crc32, not hash(): the same key lands in the same partition in every process.
        return zlib.crc32(event.partitionkey.encode()) % self.partitions

    async def publish(self, topic: str, event: CloudEvent) -> None:
        partition = self.partition_of(event)
        for sub in self._subs:
            if sub.topic == topic:
                sub.queues[partition].put_nowait(event)
        EVENTS_PUBLISHED.labels(topic=topic, adapter="memory").inc()

    @property
    def ready(self) -> bool:
        return True

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        for topic, event in items:
            await self.publish(topic, event)

    async def start(self) -> None:
        for sub in self._subs:
            if not sub.tasks:
                sub.tasks = [
                    asyncio.create_task(self._deliver(sub, queue), name=f"bus:{sub.group}:{n}")
                    for n, queue in enumerate(sub.queues)
                ]

    async def stop(self) -> None:
        tasks = [task for s in self._subs for task in s.tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for sub in self._subs:
            sub.tasks = []

    async def drain(self) -> None:
        """Wait until every queued event has been handled (tests, orderly shutdown)."""
        for sub in self._subs:
            for queue in sub.queues:
                await queue.join()

    async def _deliver(self, sub: _Subscription, queue: asyncio.Queue[CloudEvent]) -> None:
        while True:
            event = await queue.get()
            try:
                await self._handle(sub, event)
            finally:
                queue.task_done()
            raise_if_cancelled()

    async def _handle(self, sub: _Subscription, event: CloudEvent) -> None:
        reason = await delivery.handle(
            sub.handler, event, self.retry, topic=sub.topic, group=sub.group
        )
        if reason is not None:
            self._dead_letter(sub, event, reason)

    def _dead_letter(self, sub: _Subscription, event: CloudEvent, error: str) -> None:
        log.error(
            "event dead-lettered",
            extra={"group": sub.group, "event_id": event.id, "type": event.type, "error": error},
        )
        EVENTS_CONSUMED.labels(topic=sub.topic, group=sub.group, outcome="dead_letter").inc()
        EVENTS_DEAD_LETTERED.labels(topic=sub.topic, group=sub.group).inc()
        self.dead_letters.append((event, error))
