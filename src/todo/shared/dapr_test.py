"""Pure logic of the Dapr adapters (the real sidecar runs in the devstack tests)."""

from __future__ import annotations

import json

import httpx
import pytest

from todo.domain.events import CloudEvent
from todo.domain.ports import PermanentEventError
from todo.shared.dapr import DaprEventBus, job_payload

DATA = {"task_id": "t1", "owner_id": "u1", "fire_at": "2026-11-26T12:00:00Z"}


@pytest.mark.parametrize(
    "body",
    [
        json.dumps(DATA),
        json.dumps({"@type": "type.googleapis.com/google.protobuf.Value", "value": DATA}),
        json.dumps({"data": DATA, "dueTime": "2026-11-26T12:00:00Z"}),
        json.dumps(json.dumps(DATA)),
        json.dumps({"name": "reminder-t1", "data": {"@type": "x", "value": json.dumps(DATA)}}),
    ],
)
def test_job_payload_reads_every_shape_dapr_sends(body: str) -> None:
    assert job_payload(body.encode()) == DATA


@pytest.mark.parametrize("body", [b"[1, 2]", b'"just text"', b"{not json"])
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
