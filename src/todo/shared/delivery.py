"""How a consumer treats a handler's failure, the same on every bus: a failing event is
retried with exponential backoff, then dead-lettered; a `PermanentEventError` (a payload
that can never be handled) is dead-lettered at once. (With Dapr, the sidecar applies the
Resiliency policy instead, and the app answers RETRY or DROP.)"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from todo.domain.events import CloudEvent
from todo.domain.metrics import EVENTS_CONSUMED
from todo.domain.ports import EventHandler, PermanentEventError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_backoff_seconds: float = 0.05

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        return float(self.base_backoff_seconds * 2 ** (attempt - 1))


async def handle(
    handler: EventHandler, event: CloudEvent, policy: RetryPolicy, *, topic: str, group: str
) -> str | None:
    """Run `handler` on `event` under `policy`: None once handled, otherwise the reason
    to dead-letter it with."""
    for attempt in range(1, policy.max_attempts + 1):
        try:
            await handler(event)
            EVENTS_CONSUMED.labels(topic=topic, group=group, outcome="ok").inc()
            return None
        except PermanentEventError as exc:
            return f"permanent: {exc}"
        except Exception as exc:
            if attempt == policy.max_attempts:
                return f"{type(exc).__name__}: {exc}"
            log.warning(
                "handler failed, retrying",
                extra={"group": group, "event_id": event.id, "attempt": attempt},
                exc_info=True,
            )
            await asyncio.sleep(policy.backoff(attempt))
    raise AssertionError("unreachable: the last attempt returns")
