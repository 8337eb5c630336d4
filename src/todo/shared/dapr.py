"""Adapters of the ports on a Dapr sidecar's HTTP API.

httpx rather than the Dapr Python SDK: the SDK's clients are gRPC-first and synchronous
or partial for the alpha Jobs API, while every call here is one small async HTTP request
that the sidecar documents (publish, state, jobs, service invocation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from todo.domain.events import CloudEvent, parse_event
from todo.domain.metrics import EVENTS_CONSUMED, EVENTS_PUBLISHED
from todo.domain.ports import EventHandler, PermanentEventError

log = logging.getLogger(__name__)

SIDECAR_TOKEN_HEADER = "dapr-api-token"  # noqa: S105 (a header name)
CLOUDEVENT_JSON = "application/cloudevents+json"


def sidecar_client(http_port: int, api_token: str = "", timeout: float = 10.0) -> httpx.AsyncClient:
    """A client of the local sidecar; it carries the sidecar's API token when there is one."""
    headers = {SIDECAR_TOKEN_HEADER: api_token} if api_token else {}
    return httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{http_port}", headers=headers, timeout=timeout
    )


class DaprError(Exception):
    def __init__(self, response: httpx.Response) -> None:
        super().__init__(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:500]}"
        )
        self.status_code = response.status_code


def _check(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise DaprError(response)


@dataclass
class DaprEventPublisher:
    """Publishes through the sidecar's pub/sub building block (Kafka behind it), keyed by
    the event's partition key so one user's events stay in order."""

    client: httpx.AsyncClient
    pubsub: str = "pubsub"

    @property
    def ready(self) -> bool:
        return True

    async def publish(self, topic: str, event: CloudEvent) -> None:
        response = await self.client.post(
            f"/v1.0/publish/{self.pubsub}/{topic}",
            params={"metadata.partitionKey": event.partitionkey},
            content=event.model_dump_json(),
            headers={"Content-Type": CLOUDEVENT_JSON},
        )
        _check(response)
        EVENTS_PUBLISHED.labels(topic=topic, adapter="dapr").inc()

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        """One bulk request per topic: Kafka keeps the entries' order within a partition,
        so one user's events stay in order (topics are independent of each other)."""
        by_topic: dict[str, list[CloudEvent]] = {}
        for topic, event in items:
            by_topic.setdefault(topic, []).append(event)
        for topic, events in by_topic.items():
            if len(events) == 1:
                await self.publish(topic, events[0])
                continue
            entries = [
                {
                    "entryId": str(i),
                    "event": event.model_dump(mode="json"),
                    "contentType": CLOUDEVENT_JSON,
                    "metadata": {"partitionKey": event.partitionkey},
                }
                for i, event in enumerate(events)
            ]
            response = await self.client.post(
                f"/v1.0-alpha1/publish/bulk/{self.pubsub}/{topic}", json=entries
            )
            _check(response)
            failed = response.json().get("failedEntries") if response.content else None
            if failed:
                raise DaprError(response)
            EVENTS_PUBLISHED.labels(topic=topic, adapter="dapr").inc(len(events))


@dataclass
class DaprJobsScheduler:
    """Reminder jobs on the Dapr Jobs API: the sidecar calls `POST /job/{name}` on the app
    that scheduled the job when it falls due."""

    client: httpx.AsyncClient

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        response = await self.client.post(
            f"/v1.0-alpha1/jobs/{name}",
            json={
                "dueTime": due_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                "data": payload,
                # Scheduling a name again (reschedule, snooze) replaces its job.
                "overwrite": True,
            },
        )
        _check(response)

    async def cancel(self, name: str) -> None:
        response = await self.client.delete(f"/v1.0-alpha1/jobs/{name}")
        if response.status_code == 404 or (
            response.status_code == 500 and "not found" in response.text.lower()
        ):
            return
        _check(response)


def job_payload(body: bytes) -> dict[str, Any]:
    """The data of a job callback, read tolerantly: Dapr releases have sent the data
    itself, the data wrapped as a protobuf Any/Value (`{"@type": …, "value": …}`), or the
    job (`{"data": …}`), and the value as JSON text."""
    value: Any = json.loads(body) if body else {}
    for _ in range(4):
        if isinstance(value, str):
            value = json.loads(value)
        elif isinstance(value, dict) and "@type" in value and "value" in value:
            value = value["value"]
        elif isinstance(value, dict) and set(value) <= {"data", "name", "dueTime", "schedule"}:
            value = value.get("data", {})
        else:
            break
    if not isinstance(value, dict):
        raise ValueError(f"job data is not an object: {value!r}")
    return value


@dataclass
class DaprStateIdempotencyStore:
    """Which events a consumer has finished, on the Dapr state store (PostgreSQL v2).

    `done` is asked before handling, `record` after: handlers are idempotent by key, so
    a race between the two repeats an idempotent effect, never doubles it."""

    client: httpx.AsyncClient
    store: str = "statestore"
    ttl_seconds: int = 7 * 24 * 3600

    def _key(self, consumer: str, event_id: str) -> str:
        return f"processed|{consumer}|{event_id}"

    async def done(self, consumer: str, event_id: str) -> bool:
        response = await self.client.get(
            f"/v1.0/state/{self.store}/{self._key(consumer, event_id)}"
        )
        if response.status_code == 204 or not response.content:
            return False
        _check(response)
        return True

    async def record(self, consumer: str, event_id: str) -> None:
        response = await self.client.post(
            f"/v1.0/state/{self.store}",
            json=[
                {
                    "key": self._key(consumer, event_id),
                    "value": {"at": datetime.now(UTC).isoformat()},
                    # First write wins: a second record of the same event is refused.
                    "options": {"concurrency": "first-write"},
                    "metadata": {"ttlInSeconds": str(self.ttl_seconds)},
                }
            ],
        )
        if response.status_code in (409, 412) or (
            # state.postgresql refuses the second first-write of a key this way.
            response.status_code == 500
            and any(m in response.text.lower() for m in ("etag", "no item was updated"))
        ):
            return
        _check(response)


@dataclass
class DaprEventBus(DaprEventPublisher):
    """The event bus in the Dapr shape: publishing through the sidecar; delivery is the
    sidecar calling the app (`POST /events/{topic}`, see `dapr_subscription_router`) as
    declared by the Subscription resources. Dapr's consumer group is the app id."""

    idempotency: DaprStateIdempotencyStore | None = None
    consumer: str = "app"

    def __post_init__(self) -> None:
        self._handlers: dict[str, EventHandler] = {}

    def subscribe(self, topic: str, group: str, handler: EventHandler) -> None:
        self._handlers[topic] = handler
        self.consumer = group

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        await self.client.aclose()

    async def deliver(self, topic: str, body: bytes) -> str:
        """Handle one delivery; the answer tells Dapr what to do: SUCCESS, RETRY (with the
        resiliency policy's backoff), or DROP (to the subscription's dead-letter topic)."""
        handler = self._handlers.get(topic)
        if handler is None:
            log.error("delivery for a topic without handler", extra={"topic": topic})
            return "DROP"
        try:
            event = parse_event(body)
        except ValueError as exc:
            log.error("unreadable event dropped", extra={"topic": topic, "error": str(exc)})
            EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="dead_letter").inc()
            return "DROP"
        if self.idempotency is not None and await self.idempotency.done(self.consumer, event.id):
            EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="duplicate").inc()
            return "SUCCESS"
        try:
            await handler(event)
        except PermanentEventError as exc:
            log.error("event dropped", extra={"event_id": event.id, "error": str(exc)})
            EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="dead_letter").inc()
            return "DROP"
        except Exception:
            log.exception("handler failed; Dapr retries", extra={"event_id": event.id})
            EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="retry").inc()
            return "RETRY"
        if self.idempotency is not None:
            await self.idempotency.record(self.consumer, event.id)
        EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="ok").inc()
        return "SUCCESS"
