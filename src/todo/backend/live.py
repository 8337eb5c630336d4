"""Live updates: `task-updates` events fan out to each user's open browser streams.

Streams are bounded: a user may hold `per_user` at once (a browser tab each) and the
process `total`, since each holds a connection, a task and a queue for as long as it
stays open. `end_user` closes a user's streams at once (sign-out, password change,
account deletion on this replica).

`SubscriptionProbe` tells when this replica's own subscription delivers (readiness).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field

from todo.domain.events import CloudEvent, EventType, RefreshData, Topic, refresh_event
from todo.domain.ports import EventHandler, EventPublisher
from todo.shared.background import BackgroundLoop

log = logging.getLogger(__name__)

# What the probe's loop sleeps once the subscription delivered: it has nothing left to do.
IDLE_SECONDS = 3600.0

# Put into a stream's queue to make it end.
END = None
StreamQueue = asyncio.Queue[CloudEvent | None]


class TooManyStreams(Exception):
    def __init__(self, scope: str, limit: int) -> None:
        super().__init__(f"{scope} has {limit} live streams open already")
        self.scope = scope
        self.limit = limit


@dataclass
class LiveUpdates:
    queue_size: int = 100
    per_user: int = 5
    total: int = 2000
    _streams: dict[str, set[StreamQueue]] = field(default_factory=lambda: defaultdict(set))
    _open: int = 0

    def open(self, user_id: str) -> StreamQueue:
        if self._open >= self.total:
            raise TooManyStreams("this server", self.total)
        if len(self._streams.get(user_id, ())) >= self.per_user:
            raise TooManyStreams("this account", self.per_user)
        queue: StreamQueue = asyncio.Queue(maxsize=self.queue_size)
        self._streams[user_id].add(queue)
        self._open += 1
        return queue

    def close(self, user_id: str, queue: StreamQueue) -> None:
        streams = self._streams.get(user_id)
        if streams is not None and queue in streams:
            streams.discard(queue)
            self._open -= 1
            if not streams:
                del self._streams[user_id]

    def connected(self, user_id: str) -> int:
        return len(self._streams.get(user_id, ()))

    def end_user(self, user_id: str) -> None:
        for queue in list(self._streams.get(user_id, ())):
            _put_dropping_oldest(queue, END)

    async def __call__(self, event: CloudEvent) -> None:
        if event.type != EventType.CLIENT_REFRESH:
            return
        for queue in list(self._streams.get(event.partitionkey, ())):
            _put_dropping_oldest(queue, event)


def _put_dropping_oldest(queue: StreamQueue, item: CloudEvent | None) -> None:
    if queue.full():
        # A stalled client only needs to know it must reload: drop its oldest.
        queue.get_nowait()
    queue.put_nowait(item)


@dataclass
class SubscriptionProbe:
    """Whether this replica's `task-updates` subscription delivers yet.

    The subscription starts after the replica does: the broker assigns it partitions, and
    it reads from the newest event on (Dapr's broadcast component, and the Kafka shape's
    group subscribed `newest_only`). A refresh published before then never
    reaches this replica's streams, and a browser connected to it keeps a stale view. So
    the probe publishes a refresh addressed to nobody (a key of its own) every
    `interval_seconds` until its own subscription hands one back, and readiness waits
    for that, once: what fails later is the bus's readiness to tell.
    """

    publisher: EventPublisher
    interval_seconds: float = 1.0
    key: str = field(default_factory=lambda: f"live-probe-{uuid.uuid4().hex}")

    def __post_init__(self) -> None:
        self._delivered = asyncio.Event()
        self._loop = BackgroundLoop("live-subscription-probe", self._step)
        self._last_error = ""

    @property
    def delivered(self) -> bool:
        return self._delivered.is_set()

    def handing_on_to(self, handler: EventHandler) -> EventHandler:
        """`handler` for the subscription, with the probe's own events taken out."""

        async def observed(event: CloudEvent) -> None:
            if event.partitionkey == self.key:
                if not self.delivered:
                    log.info("live updates: this replica's subscription delivers")
                self._delivered.set()
                return
            await handler(event)

        return observed

    async def check(self, within: float = 0.0) -> None:
        """Readiness: raises unless the subscription has delivered a probe, or does so
        `within` seconds (an in-process bus hands it back in milliseconds: a first
        `/readyz` just after start need not fail for those)."""
        if not self.delivered and within > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._delivered.wait(), within)
        if not self.delivered:
            why = f" (publishing it: {self._last_error})" if self._last_error else ""
            raise ConnectionError(
                "task-updates has not yet delivered this replica's probe event: refreshes "
                f"published now would not reach its live streams{why}"
            )

    async def start(self) -> None:
        await self._loop.start()

    async def stop(self) -> None:
        await self._loop.stop()

    async def _step(self) -> float:
        if self.delivered:
            return IDLE_SECONDS
        probe = RefreshData(owner_id=self.key, kind="task", reason="subscription probe")
        try:
            await self.publisher.publish(Topic.TASK_UPDATES.value, refresh_event(probe))
            self._last_error = ""
        except Exception as exc:
            # The bus (a sidecar, a broker) is not there yet: its readiness says so too.
            self._last_error = f"{type(exc).__name__}: {exc}"[:300]
        return self.interval_seconds
