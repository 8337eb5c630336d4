"""Adapters of the ports on a Dapr sidecar.

The Jobs API and the state store go through the Dapr Python SDK (`dapr.aio`, gRPC):
measured on the devstack 4-8 times faster per call than daprd's HTTP API with httpx, for
a fifth of the CPU, and its errors carry a gRPC status and Dapr's error code. Publishing
stays on the HTTP API (`dapr.aio` has no bulk publish: an outbox batch is one bulk
request), and so does service invocation (slower through the SDK). The figures:
docs/architecture.md, "Dapr clients".
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import httpx
from dapr.aio.clients import DaprClient
from dapr.clients.exceptions import DaprGrpcError
from dapr.clients.grpc._jobs import ConstantFailurePolicy, Job

# protobuf and grpcio come with dapr (its requirements), not as requirements of ours.
from dapr.conf import settings as dapr_settings
from google.protobuf.any_pb2 import Any as AnyMessage  # pants: no-infer-dep
from google.protobuf.json_format import ParseDict  # pants: no-infer-dep
from google.protobuf.struct_pb2 import Value  # pants: no-infer-dep
from grpc import StatusCode  # pants: no-infer-dep

from todo.domain.events import CloudEvent, parse_event
from todo.domain.metrics import EVENTS_CONSUMED, EVENTS_PUBLISHED
from todo.domain.ports import EventHandler, PermanentEventError
from todo.shared.readiness import Dependency

log = logging.getLogger(__name__)

T = TypeVar("T")

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


@dataclass
class SidecarGrpc:
    """The Dapr SDK's client of the local sidecar (gRPC, `dapr.aio`), made at first use.

    The SDK's constructor waits for the sidecar with blocking sleeps (up to
    `DAPR_HEALTH_TIMEOUT`, 60 s), which would stall the event loop while a service starts
    before its sidecar: the wait happens here, asynchronously, first. The SDK takes the
    sidecar's HTTP address (for that check) and API token from process-wide settings (read
    from `DAPR_*` variables at import): they are set to this sidecar's, a process has one."""

    http: httpx.AsyncClient  # the sidecar's HTTP API (its health, and the API token)
    grpc_port: int
    _client: DaprClient | None = None

    async def client(self) -> DaprClient:
        if self._client is None:
            response = await self.http.get("/v1.0/healthz/outbound", timeout=2.0)
            _check(response)
            setattr(dapr_settings, "DAPR_HTTP_ENDPOINT", str(self.http.base_url).rstrip("/"))  # noqa: B010
            setattr(  # noqa: B010 (settings made from the environment at import)
                dapr_settings, "DAPR_API_TOKEN", self.http.headers.get(SIDECAR_TOKEN_HEADER)
            )
            self._client = DaprClient(address=f"127.0.0.1:{self.grpc_port}")
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.close()  # type: ignore[no-untyped-call]
            self._client = None


@dataclass(frozen=True)
class JobFailurePolicy:
    """What the scheduler does when a job's callback fails: try again every `interval`
    seconds, `max_retries` times, then drop the job (Dapr 1.16 knows `constant` and `drop`;
    without a policy it retries 3 times, 1 s apart)."""

    interval_seconds: int
    max_retries: int

    def as_dapr(self) -> ConstantFailurePolicy:
        return ConstantFailurePolicy(
            max_retries=self.max_retries, interval_seconds=self.interval_seconds
        )


CANARY_AHEAD = timedelta(days=3650)


@dataclass
class DaprJobsScheduler:
    """Reminder jobs on the Dapr Jobs API through the SDK: the sidecar calls
    `POST /job/{name}` on the app that scheduled the job when it falls due, with the job's
    data as the body. Every outcome of a call is told to `scheduling` (readiness: whether
    the scheduler schedules)."""

    sidecar: SidecarGrpc
    failure_policy: JobFailurePolicy | None = None
    scheduling_grace_seconds: float = 5.0
    call_timeout_seconds: float = 5.0

    def __post_init__(self) -> None:
        self.scheduling = Dependency("scheduling", self.scheduling_grace_seconds)

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        data = AnyMessage()
        data.Pack(ParseDict(payload, Value()))
        job = Job(
            name=name,
            due_time=_dapr_time(due_at),
            data=data,
            failure_policy=self.failure_policy.as_dapr() if self.failure_policy else None,
        )
        # Scheduling a name again (reschedule, snooze) replaces its job.
        await self._call(lambda c: c.schedule_job_alpha1(job, overwrite=True))

    async def cancel(self, name: str) -> None:
        # The scheduler deletes a name that has no job without complaint: idempotent.
        await self._call(lambda c: c.delete_job_alpha1(name))

    async def due_at(self, name: str, timeout: float | None = None) -> datetime | None:
        """When the job of that name is due, or None when the scheduler does not confirm
        one: Dapr 1.16 answers the same status (INTERNAL, `DAPR_SCHEDULER_GET_JOB`) for a
        missing job and for a failed lookup, so a caller schedules it again (idempotent)
        rather than tell the two apart."""
        try:
            job = await self._call(lambda c: c.get_job_alpha1(name), timeout)
        except DaprGrpcError as exc:
            if _status(exc)[0] == StatusCode.INTERNAL:
                return None
            raise
        return datetime.fromisoformat(job.due_time) if job.due_time else None

    async def probe(self, canary: str, timeout: float = 3.0) -> bool:
        """Whether the scheduler still holds the canary job `canary` (due years ahead,
        never meant to fire); puts it back when not and returns False: the scheduler lost
        its jobs, or never had this one. Raises when the scheduler cannot schedule."""
        if await self.due_at(canary, timeout=timeout) is not None:
            return True
        due = datetime.now(UTC).replace(microsecond=0) + CANARY_AHEAD
        job = Job(name=canary, due_time=_dapr_time(due))
        await self._call(lambda c: c.schedule_job_alpha1(job, overwrite=True), timeout)
        return False

    async def _call(
        self, call: Callable[[DaprClient], Awaitable[T]], timeout: float | None = None
    ) -> T:
        try:
            client = await self.sidecar.client()
            result = await asyncio.wait_for(call(client), timeout or self.call_timeout_seconds)
        except DaprGrpcError as exc:
            if _status(exc) != (StatusCode.INTERNAL, "DAPR_SCHEDULER_GET_JOB"):
                self.scheduling.failed(exc)
            raise
        except Exception as exc:
            self.scheduling.failed(exc)
            raise
        self.scheduling.succeeded()
        return result


def _status(error: DaprGrpcError) -> tuple[StatusCode, str]:
    """The gRPC status and Dapr's error code (the reason of its ErrorInfo detail)."""
    return error.code(), error.error_code()  # type: ignore[no-untyped-call]


def _dapr_time(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def job_payload(body: bytes) -> dict[str, Any]:
    """The data of a job callback: Dapr 1.16 sends the JSON value the job was scheduled
    with (a `google.protobuf.Value`) as the request body."""
    value: Any = json.loads(body) if body else None
    if not isinstance(value, dict):
        raise ValueError(f"job data is not an object: {value!r}")
    return value


@dataclass
class DaprStateIdempotencyStore:
    """Which events a consumer has finished, on the Dapr state store (PostgreSQL v2),
    through the SDK.

    `done` is asked before handling, `record` after: handlers are idempotent by key, so
    a race between the two repeats an idempotent effect, never doubles it, and a record
    written twice (last write wins) is as good as once."""

    sidecar: SidecarGrpc
    store: str = "statestore"
    ttl_seconds: int = 7 * 24 * 3600

    def _key(self, consumer: str, event_id: str) -> str:
        return f"processed|{consumer}|{event_id}"

    async def done(self, consumer: str, event_id: str) -> bool:
        client = await self.sidecar.client()
        state = await client.get_state(self.store, self._key(consumer, event_id))
        return bool(state.data)

    async def record(self, consumer: str, event_id: str) -> None:
        client = await self.sidecar.client()
        await client.save_state(
            self.store,
            self._key(consumer, event_id),
            json.dumps({"at": datetime.now(UTC).isoformat()}),
            state_metadata={"ttlInSeconds": str(self.ttl_seconds)},
        )


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

    def subscribe(
        self, topic: str, group: str, handler: EventHandler, *, newest_only: bool = False
    ) -> None:
        # Where a subscription starts is its pub/sub component's `initialOffset` (the
        # broadcast component's is `newest`: charts/todo-dapr).
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
