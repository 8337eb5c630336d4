"""Live updates: `task-updates` events fan out to each user's open browser streams."""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from dataclasses import dataclass, field

from todo.domain.events import CloudEvent, EventType

log = logging.getLogger(__name__)


@dataclass
class LiveUpdates:
    queue_size: int = 100
    _streams: dict[str, set[asyncio.Queue[CloudEvent]]] = field(
        default_factory=lambda: defaultdict(set)
    )

    def open(self, user_id: str) -> asyncio.Queue[CloudEvent]:
        queue: asyncio.Queue[CloudEvent] = asyncio.Queue(maxsize=self.queue_size)
        self._streams[user_id].add(queue)
        return queue

    def close(self, user_id: str, queue: asyncio.Queue[CloudEvent]) -> None:
        streams = self._streams.get(user_id)
        if streams is not None:
            streams.discard(queue)
            if not streams:
                del self._streams[user_id]

    def connected(self, user_id: str) -> int:
        return len(self._streams.get(user_id, ()))

    async def __call__(self, event: CloudEvent) -> None:
        if event.type != EventType.CLIENT_REFRESH:
            return
        for queue in list(self._streams.get(event.partitionkey, ())):
            if queue.full():
                # A stalled client only needs to know it must reload: drop its oldest.
                queue.get_nowait()
            queue.put_nowait(event)
