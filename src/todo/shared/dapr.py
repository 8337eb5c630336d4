"""Adapters of the ports on a Dapr sidecar's HTTP API.

httpx rather than the Dapr Python SDK: the SDK's clients are gRPC-first and synchronous
or partial for the alpha Jobs API, while every call here is one small async HTTP request
that the sidecar documents (publish, state, jobs, service invocation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from todo.domain.events import CloudEvent, parse_event
from todo.domain.metrics import EVENTS_CONSUMED, EVENTS_PUBLISHED
from todo.domain.ports import EventHandler, PermanentEventError
from todo.shared.readiness import Dependency

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
    """A sidecar's refusal, by its machine-readable `errorCode` (e.g.
    `DAPR_SCHEDULER_SCHEDULE_JOB`), never by its message text."""

    def __init__(self, response: httpx.Response) -> None:
        self.status_code = response.status_code
        self.error_code = ""
        message = response.text[:500]
        try:
            body = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict):
            self.error_code = str(body.get("errorCode", ""))
            message = str(body.get("message", message))[:500]
        super().__init__(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {self.error_code} {message}".replace("  ", " ")
        )


def _check(response: httpx.Response) -> None:
    if response.status_code >= 300:
        raise DaprError(response)


@dataclass
class DaprEventPublisher:
    """Publishes through the sidecar's pub/sub building block (Kafka behind it), keyed by
    the event's partition key so one user's events stay in order."""

    client: httpx.AsyncClient
    pubsub: str = "pubsub"
    # Readiness: publishing (sidecar and broker behind it) has failed for this long.
    publish_grace_seconds: float = 10.0

    def __post_init__(self) -> None:
        self.publishing = Dependency("publishing", self.publish_grace_seconds)

    @property
    def ready(self) -> bool:
        return not self.publishing.down

    async def check_ready(self) -> None:
        """Readiness: down once publishing (or reaching the sidecar at all) has failed for
        longer than the grace period; a sidecar that answers proves nothing of the broker
        behind it, so only a publish counts as success."""
        try:
            response = await self.client.get("/v1.0/healthz/outbound", timeout=2.0)
            _check(response)
        except Exception as exc:
            self.publishing.failed(exc)
        self.publishing.check()

    async def publish(self, topic: str, event: CloudEvent) -> None:
        async with self._observed():
            response = await self.client.post(
                f"/v1.0/publish/{self.pubsub}/{topic}",
                params={"metadata.partitionKey": event.partitionkey},
                content=event.model_dump_json(),
                headers={"Content-Type": CLOUDEVENT_JSON},
            )
            _check(response)
        EVENTS_PUBLISHED.labels(topic=topic, adapter="dapr").inc()

    @asynccontextmanager
    async def _observed(self) -> AsyncIterator[None]:
        try:
            yield
        except Exception as exc:
            self.publishing.failed(exc)
            raise
        self.publishing.succeeded()

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
            async with self._observed():
                response = await self.client.post(
                    f"/v1.0-alpha1/publish/bulk/{self.pubsub}/{topic}", json=entries
                )
                _check(response)
                failed = response.json().get("failedEntries") if response.content else None
                if failed:
                    raise DaprError(response)
            EVENTS_PUBLISHED.labels(topic=topic, adapter="dapr").inc(len(events))


@dataclass(frozen=True)
class JobFailurePolicy:
    """What the scheduler does when a job's callback fails: try again every `interval`
    seconds, `max_retries` times, then drop the job (Dapr 1.16 knows `constant` and `drop`;
    without a policy it retries 3 times, 1 s apart)."""

    interval_seconds: float
    max_retries: int

    def as_dapr(self) -> dict[str, Any]:
        return {
            "constant": {"interval": f"{self.interval_seconds:g}s", "maxRetries": self.max_retries}
        }


CANARY_AHEAD = timedelta(days=3650)


@dataclass
class DaprJobsScheduler:
    """Reminder jobs on the Dapr Jobs API: the sidecar calls `POST /job/{name}` on the app
    that scheduled the job when it falls due. Every outcome of a call is told to
    `scheduling` (readiness: whether the scheduler schedules)."""

    client: httpx.AsyncClient
    failure_policy: JobFailurePolicy | None = None
    scheduling_grace_seconds: float = 5.0
    call_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        self.scheduling = Dependency("scheduling", self.scheduling_grace_seconds)

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        body: dict[str, Any] = {
            "dueTime": _dapr_time(due_at),
            "data": payload,
            # Scheduling a name again (reschedule, snooze) replaces its job.
            "overwrite": True,
        }
        if self.failure_policy is not None:
            body["failurePolicy"] = self.failure_policy.as_dapr()
        await self._call("POST", name, json=body)

    async def cancel(self, name: str) -> None:
        # The Jobs API answers 204 for a name that has no job: cancelling is idempotent.
        await self._call("DELETE", name)

    async def due_at(self, name: str, timeout: float | None = None) -> datetime | None:
        """When the job of that name is due, or None when the scheduler does not confirm
        one: Dapr 1.16 answers 500 `DAPR_SCHEDULER_GET_JOB` both for a missing job and
        for a failed lookup, so a caller schedules it again (idempotent) rather than tell
        the two apart."""
        try:
            response = await self.client.get(
                f"/v1.0-alpha1/jobs/{name}",
                timeout=self.call_timeout_seconds if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            self.scheduling.failed(exc)
            raise
        if response.status_code != 200:
            return None
        self.scheduling.succeeded()
        return datetime.fromisoformat(response.json()["dueTime"])

    async def probe(self, canary: str, timeout: float = 3.0) -> bool:
        """Whether the scheduler still holds the canary job `canary` (due years ahead,
        never meant to fire); puts it back when not and returns False: the scheduler lost
        its jobs, or never had this one. Raises when the scheduler cannot schedule."""
        if await self.due_at(canary, timeout=timeout) is not None:
            return True
        due = datetime.now(UTC).replace(microsecond=0) + CANARY_AHEAD
        body = {"dueTime": _dapr_time(due), "data": {"canary": True}, "overwrite": True}
        await self._call("POST", canary, json=body, timeout=timeout)
        return False

    async def _call(self, method: str, name: str, **kwargs: Any) -> None:
        kwargs.setdefault("timeout", self.call_timeout_seconds)
        try:
            response = await self.client.request(method, f"/v1.0-alpha1/jobs/{name}", **kwargs)
            _check(response)
        except Exception as exc:
            self.scheduling.failed(exc)
            raise
        self.scheduling.succeeded()


def _dapr_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_payload(body: bytes) -> dict[str, Any]:
    """The data of a job callback: Dapr 1.16 sends the JSON the job was scheduled with
    (`data` of `POST /v1.0-alpha1/jobs/{name}`), as the request body."""
    value: Any = json.loads(body) if body else None
    if not isinstance(value, dict):
        raise ValueError(f"job data is not an object: {value!r}")
    return value


@dataclass
class DaprStateIdempotencyStore:
    """Which events a consumer has finished, on the Dapr state store (PostgreSQL v2).

    `done` is asked before handling, `record` after: handlers are idempotent by key, so
    a race between the two repeats an idempotent effect, never doubles it, and a record
    written twice (last write wins) is as good as once."""

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
                    "metadata": {"ttlInSeconds": str(self.ttl_seconds)},
                }
            ],
        )
        _check(response)


@dataclass
class DaprEventBus(DaprEventPublisher):
    """The event bus in the Dapr shape: publishing through the sidecar; delivery is the
    sidecar calling the app (`POST /events/{topic}`, see `dapr_subscription_router`) as
    declared by the Subscription resources. Dapr's consumer group is the app id."""

    idempotency: DaprStateIdempotencyStore | None = None
    consumer: str = "app"

    def __post_init__(self) -> None:
        super().__post_init__()
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
        try:
            seen = self.idempotency is not None and await self.idempotency.done(
                self.consumer, event.id
            )
        except Exception:
            # The store is down or slow: Dapr delivers again after its backoff.
            log.exception(
                "processed-events store unreadable; Dapr retries", extra={"event_id": event.id}
            )
            EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="retry").inc()
            return "RETRY"
        if seen:
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
            try:
                await self.idempotency.record(self.consumer, event.id)
            except Exception:
                # The effects stand (each is idempotent by key); a redelivery repeats them.
                log.exception("processed-events record failed", extra={"event_id": event.id})
        EVENTS_CONSUMED.labels(topic=topic, group=self.consumer, outcome="ok").inc()
        return "SUCCESS"
