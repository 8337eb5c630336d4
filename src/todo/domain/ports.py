"""Ports: what the domain needs from the outside world, with no word of how.

Adapters live beside them: `bus_memory` and `scheduler_db` for the embedded shape; the
Kafka and Dapr adapters for the distributed one. Domain logic (the worker's handlers, the
backend's services) is written against these protocols only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from todo.domain.events import CloudEvent, TaskSnapshot

EventHandler = Callable[[CloudEvent], Awaitable[None]]
JobHandler = Callable[[str, dict[str, Any]], Awaitable[None]]


class PermanentEventError(Exception):
    """A handler's verdict that retrying this event can never succeed (dead-letter it)."""


class EventPublisher(Protocol):
    async def publish(self, topic: str, event: CloudEvent) -> None:
        """Deliver `event` to `topic`, keyed by its partition key; raise if not accepted."""

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        """Deliver every (topic, event) in order; raise unless all were accepted."""


class EventBus(EventPublisher, Protocol):
    def subscribe(
        self, topic: str, group: str, handler: EventHandler, *, newest_only: bool = False
    ) -> None:
        """Call `handler` for every event on `topic`, once per consumer `group`: from the
        oldest event the group has not handled, or with `newest_only` from those published
        once the group reads (a broadcast of hints that nobody needs late, to a group of
        one process: it must not replay the topic's history each time it starts)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    @property
    def ready(self) -> bool:
        """Connected and delivering (readiness)."""


class ReminderScheduler(Protocol):
    """Durable one-shot jobs by name: scheduling a name again replaces its job."""

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None: ...

    async def cancel(self, name: str) -> None: ...


@runtime_checkable
class FiresJobs(Protocol):
    """A scheduler that calls the job handler itself when a job falls due (in process)."""

    def set_handler(self, handler: JobHandler) -> None: ...


class TaskGateway(Protocol):
    """What the worker asks of the task service (in process, or by service invocation)."""

    async def get_task(self, task_id: str) -> TaskSnapshot | None: ...

    async def create_next_occurrence(self, task_id: str, idempotency_key: str) -> str | None:
        """Create the next occurrence of a recurring task exactly once per key; return its id."""

    async def record_reminder(
        self, task_id: str, fire_at: datetime, title: str
    ) -> tuple[str, bool]:
        """Record the reminder notification once per (task, fire time): (id, newly created)."""
