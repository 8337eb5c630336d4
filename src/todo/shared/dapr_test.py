"""Pure logic of the Dapr adapters (the real sidecar runs in the devstack tests)."""

from __future__ import annotations

import json

import httpx
import pytest

from todo.domain.events import CloudEvent
from todo.domain.ports import PermanentEventError
from todo.shared.dapr import (
    DaprError,
    DaprEventBus,
    DaprEventPublisher,
    DaprStateIdempotencyStore,
    JobFailurePolicy,
    SidecarGrpc,
    job_payload,
)

DATA = {"task_id": "t1", "owner_id": "u1", "fire_at": "2026-11-26T12:00:00Z"}


def test_job_payload_is_the_data_the_job_was_scheduled_with() -> None:
    assert job_payload(json.dumps(DATA).encode()) == DATA


@pytest.mark.parametrize("body", [b"", b"[1, 2]", b'"just text"', b"{not json"])
def test_job_payload_refuses_what_is_no_object(body: bytes) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 (json's errors are ValueErrors too)
        job_payload(body)


def event() -> bytes:
    return (
        CloudEvent(source="/t", type="todo.test.v1", partitionkey="u", data={})
        .model_dump_json(exclude_none=True)
        .encode()
    )


@pytest.mark.parametrize(
    ("failure", "status"),
    [(None, "SUCCESS"), (PermanentEventError("bad"), "DROP"), (RuntimeError("flaky"), "RETRY")],
)
async def test_delivery_answers_tell_dapr_what_to_do(
    failure: Exception | None, status: str
) -> None:
    bus = DaprEventBus(httpx.AsyncClient())

    async def handler(e: CloudEvent) -> None:
        if failure is not None:
            raise failure

    bus.subscribe("t", "g", handler)
    assert await bus.deliver("t", event()) == status
    assert await bus.deliver("t", b"{garbage") == "DROP"
    assert await bus.deliver("unknown-topic", event()) == "DROP"


def sidecar(answer: httpx.Response | Exception) -> httpx.AsyncClient:
    """A client whose every request gets `answer` (the real sidecar is in the devstack tests)."""

    def handle(request: httpx.Request) -> httpx.Response:
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.AsyncClient(base_url="http://sidecar", transport=httpx.MockTransport(handle))


async def test_an_unreadable_processed_events_store_means_retry_not_an_escape() -> None:
    client = sidecar(httpx.ConnectError("refused"))
    bus = DaprEventBus(client, idempotency=DaprStateIdempotencyStore(SidecarGrpc(client, 1)))
    handled: list[str] = []

    async def handler(e: CloudEvent) -> None:
        handled.append(e.id)

    bus.subscribe("t", "g", handler)
    assert await bus.deliver("t", event()) == "RETRY"
    assert handled == []


async def test_publisher_is_unready_only_after_failing_beyond_its_grace() -> None:
    refused = sidecar(httpx.Response(500, json={"errorCode": "ERR_PUBSUB_PUBLISH_MESSAGE"}))
    publisher = DaprEventPublisher(refused, publish_grace_seconds=0.0)
    published = CloudEvent.model_validate_json(event())
    with pytest.raises(DaprError) as raised:
        await publisher.publish("t", published)
    assert raised.value.error_code == "ERR_PUBSUB_PUBLISH_MESSAGE"
    assert not publisher.ready
    with pytest.raises(ConnectionError, match="publishing failing since .*ERR_PUBSUB_PUBLISH"):
        await publisher.check_ready()
    patient = DaprEventPublisher(refused, publish_grace_seconds=60.0)
    with pytest.raises(DaprError):
        await patient.publish("t", published)
    assert patient.ready, "one failure within the grace period keeps it ready"
    publisher.client = sidecar(httpx.Response(204))
    await publisher.publish("t", published)
    assert publisher.ready


def test_failure_policy_is_the_jobs_apis_constant_policy() -> None:
    policy = JobFailurePolicy(3, 1200).as_dapr()
    assert (policy.interval_seconds, policy.max_retries) == (3, 1200)
