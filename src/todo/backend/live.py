"""Live updates: `task-updates` events fan out to each user's open browser streams.

Streams are bounded: a user may hold `per_user` at once (a browser tab each) and the
process `total`, since each holds a connection, a task and a queue for as long as it
stays open. `end_user` closes a user's streams at once (sign-out, password change,
account deletion on this replica).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from todo.domain.events import CloudEvent, EventType

log = logging.getLogger(__name__)

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
