"""The Dapr shape end to end on the devstack: PostgreSQL, Kafka, the Dapr scheduler, and
backend and worker each behind a real daprd (pub/sub, subscriptions, Jobs API, service
invocation, state store), driven through the public API."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from integration.servers import assert_once_in_order, consume_task_events

from todo.devstack.dapr import DaprSidecar
from todo.devstack.stack import DevStack
from todo.domain.events import CloudEvent, EventType, TaskSnapshot, task_event
from todo.shared.dapr import (
    DaprEventPublisher,
    DaprStateIdempotencyStore,
    SidecarGrpc,
    sidecar_client,
)

API = "/api/v1"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevStack]:
    # Tests sign many users up from one address.
    devstack = DevStack(
        tmp_path_factory.mktemp("devstack"), backend_overrides={"sign_up_rate": "1000/minute"}
    )
    asyncio.run(devstack.start())
    try:
        yield devstack
    finally:
        asyncio.run(devstack.stop())


def backend_url(stack: DevStack) -> str:
    assert stack.backend is not None
    return stack.backend.url


async def signup(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        f"{API}/auth/register",
        json={"email": f"d-{uuid.uuid4().hex[:10]}@example.com", "password": "dapr-test-pw"},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


async def notifications(client: httpx.AsyncClient, who: dict[str, str]) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = (await client.get(f"{API}/notifications", headers=who)).json()[
        "data"
    ]
    return data


async def wait_for_notifications(
    client: httpx.AsyncClient, who: dict[str, str], count: int, timeout: float = 20
) -> list[dict[str, Any]]:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        found = await notifications(client, who)
        if len(found) >= count:
            return found
        assert asyncio.get_running_loop().time() < deadline, f"only {len(found)} notifications"
        await asyncio.sleep(0.1)


def lateness(note: dict[str, Any]) -> float:
    return (
        datetime.fromisoformat(note["created_at"]) - datetime.fromisoformat(note["fire_at"])
    ).total_seconds()


async def test_reminder_fires_after_due_and_within_a_second(stack: DevStack) -> None:
    async with httpx.AsyncClient(base_url=backend_url(stack), timeout=10) as client:
        me = await signup(client)
        due = soon(3)
        await client.post(
            f"{API}/tasks",
            headers=me,
            json={
                "title": "Through Dapr",
                "due_at": due.isoformat(),
                "reminders": [{"kind": "before_due", "minutes_before": 0}],
            },
        )
        (note,) = await wait_for_notifications(client, me, 1)
        assert datetime.fromisoformat(note["fire_at"]) == due
        assert 0 <= lateness(note) < 1.0, f"reminder processed {lateness(note):.3f}s after due"


async def test_reschedule_and_snooze_move_and_completion_cancels(stack: DevStack) -> None:
    async with httpx.AsyncClient(base_url=backend_url(stack), timeout=10) as client:
        me = await signup(client)
        moved = (
            await client.post(
                f"{API}/tasks",
                headers=me,
                json={
                    "title": "Moved",
                    "reminders": [{"kind": "absolute", "at": soon(3600).isoformat()}],
                },
            )
        ).json()
        cancelled = (
            await client.post(
                f"{API}/tasks",
                headers=me,
                json={
                    "title": "Cancelled",
                    "reminders": [{"kind": "absolute", "at": soon(3).isoformat()}],
                },
            )
        ).json()
        new_time = soon(3)
        await client.patch(
            f"{API}/tasks/{moved['id']}",
            headers=me,
            json={"reminders": [{"kind": "absolute", "at": new_time.isoformat()}]},
        )
        await client.post(f"{API}/tasks/{cancelled['id']}/complete", headers=me)
        (first,) = await wait_for_notifications(client, me, 1)
        assert first["task_id"] == moved["id"]
        assert datetime.fromisoformat(first["fire_at"]) == new_time
        snooze_to = soon(3)
        r = await client.post(
            f"{API}/tasks/{moved['id']}/snooze", headers=me, json={"until": snooze_to.isoformat()}
        )
        assert r.status_code == 200
        both = await wait_for_notifications(client, me, 2)
        assert {n["task_id"] for n in both} == {moved["id"]}
        assert max(datetime.fromisoformat(n["fire_at"]) for n in both) == snooze_to
        await asyncio.sleep(1.5)
        assert len(await notifications(client, me)) == 2, "the completed task never reminded"


async def test_redelivered_completion_yields_exactly_one_next_occurrence(
    stack: DevStack,
) -> None:
    async with httpx.AsyncClient(base_url=backend_url(stack), timeout=10) as client:
        me = await signup(client)
        task = (
            await client.post(
                f"{API}/tasks",
                headers=me,
                json={
                    "title": "Daily",
                    "due_at": "2030-01-01T09:00:00+00:00",
                    "recurrence": {"frequency": "daily"},
                },
            )
        ).json()
        completed = (await client.post(f"{API}/tasks/{task['id']}/complete", headers=me)).json()

        async def open_ones() -> list[dict[str, Any]]:
            r = await client.get(f"{API}/tasks", headers=me, params={"status": "open"})
            data: list[dict[str, Any]] = r.json()["data"]
            return data

        deadline = asyncio.get_running_loop().time() + 20
        while not await open_ones():
            assert asyncio.get_running_loop().time() < deadline
            await asyncio.sleep(0.1)
        # Redeliver the completion event: publish it again through the backend's sidecar.
        event = await completion_event(stack, task["id"], completed["version"])
        sidecar = stack.backend_sidecar
        async with httpx.AsyncClient(base_url=sidecar.http_url, headers=sidecar.api_headers) as d:
            for _ in range(3):
                r = await d.post(
                    "/v1.0/publish/pubsub/task-events",
                    params={"metadata.partitionKey": event.partitionkey},
                    content=event.model_dump_json(),
                    headers={"Content-Type": "application/cloudevents+json"},
                )
                assert r.status_code == 204, r.text
        await asyncio.sleep(3)
        (following,) = await open_ones()
        assert following["occurrence_number"] == 2
        assert following["due_at"].startswith("2030-01-02T09:00:00")


async def completion_event(stack: DevStack, task_id: str, version: int) -> CloudEvent:
    """The completion event as the outbox committed it."""
    import asyncpg

    conn = await asyncpg.connect(stack.postgres.admin_url.rsplit("/", 1)[0] + "/todo")
    try:
        payload = await conn.fetchval(
            "SELECT payload FROM outbox WHERE payload->>'type' = 'todo.task.completed.v1' "
            "AND payload->>'subject' = $1",
            task_id,
        )
    finally:
        await conn.close()
    event = CloudEvent.model_validate_json(payload)
    assert event.task_data().task.version == version
    return event


async def test_restarting_worker_and_sidecar_before_due_still_fires_once(
    stack: DevStack, tmp_path: Path
) -> None:
    async with httpx.AsyncClient(base_url=backend_url(stack), timeout=10) as client:
        me = await signup(client)
        # Room for a slow restart (a loaded machine starts Python in 10-15 s).
        due = soon(25)
        await client.post(
            f"{API}/tasks",
            headers=me,
            json={"title": "Survives", "reminders": [{"kind": "absolute", "at": due.isoformat()}]},
        )
        await asyncio.sleep(1.5)
        await stack.restart_worker()
        assert datetime.now(UTC) < due, "the restart must happen before the reminder is due"
        (note,) = await wait_for_notifications(client, me, 1, timeout=45)
        assert datetime.fromisoformat(note["fire_at"]) == due
        await asyncio.sleep(2)
        assert len(await notifications(client, me)) == 1


async def test_processed_events_store_records_once_and_twice_alike(stack: DevStack) -> None:
    sidecar = stack.worker_sidecar
    async with sidecar_client(sidecar.http_port, stack.dapr_api_token) as client:
        grpc = SidecarGrpc(client, sidecar.grpc_port)
        store = DaprStateIdempotencyStore(grpc)
        event_id = uuid.uuid4().hex
        assert not await store.done("todo-worker", event_id)
        await store.record("todo-worker", event_id)
        assert await store.done("todo-worker", event_id)
        # A second record (two deliveries racing) is no error and changes nothing.
        await store.record("todo-worker", event_id)
        assert await store.done("todo-worker", event_id)
        await grpc.close()


async def test_outbox_batches_reach_kafka_once_and_in_order_through_the_sidecar(
    stack: DevStack,
) -> None:
    """Many changes at once make the relay publish in bulk (one request per topic)."""
    async with httpx.AsyncClient(base_url=backend_url(stack), timeout=30) as client:
        users = [await signup(client) for _ in range(4)]

        async def changes(who: dict[str, str]) -> None:
            task = (await client.post(f"{API}/tasks", headers=who, json={"title": "v1"})).json()
            for i in range(2, 12):
                r = await client.patch(
                    f"{API}/tasks/{task['id']}", headers=who, json={"title": f"v{i}"}
                )
                assert r.status_code == 200

        await asyncio.gather(*(changes(u) for u in users))
        owners = [(await client.get(f"{API}/users/me", headers=u)).json()["id"] for u in users]
    # This test's events only: others on the shared broker were redelivered on purpose.
    expected = await outbox_task_event_ids(stack, owners)
    assert len(expected) == 4 * 11
    seen = await consume_task_events(stack.kafka.bootstrap, expected)
    assert_once_in_order(seen, len(expected))


async def outbox_task_event_ids(stack: DevStack, owners: list[str]) -> set[str]:
    import asyncpg

    conn = await asyncpg.connect(stack.postgres.admin_url.rsplit("/", 1)[0] + "/todo")
    try:
        rows = await conn.fetch(
            "SELECT event_id FROM outbox WHERE topic = 'task-events' "
            "AND partition_key = ANY($1::text[])",
            owners,
        )
    finally:
        await conn.close()
    return {r["event_id"] for r in rows}


async def test_bulk_publish_keeps_each_users_order(stack: DevStack) -> None:
    sidecar = stack.backend_sidecar
    owners = [f"bulk-owner-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    events = [
        task_event(
            EventType.TASK_UPDATED,
            TaskSnapshot(
                id=f"task-of-{owner}",
                owner_id=owner,
                title="t",
                status="open",
                priority="medium",
                series_id="s",
                version=version,
            ),
        )
        for version in range(1, 11)
        for owner in owners
    ]
    async with sidecar_client(sidecar.http_port, stack.dapr_api_token) as client:
        await DaprEventPublisher(client).publish_batch([("task-events", e) for e in events])
    seen = await consume_task_events(stack.kafka.bootstrap, {e.id for e in events})
    assert_once_in_order(seen, len(events))


EXPECTED_COMPONENTS = {
    "todo-backend": {"pubsub", "pubsub-broadcast", "todo-secrets"},
    "todo-worker": {"pubsub", "statestore", "todo-secrets"},
}
EXPECTED_SUBSCRIPTIONS = {
    "todo-backend": {("pubsub-broadcast", "task-updates", "/events/task-updates", "")},
    "todo-worker": {
        ("pubsub", "task-events", "/events/task-events", "task-events.dlq"),
        ("pubsub", "reminders", "/events/reminders", "reminders.dlq"),
    },
}


async def sidecar_metric_lines(sidecar: DaprSidecar, name: str) -> list[str]:
    async with httpx.AsyncClient(timeout=5) as client:
        text = (await client.get(f"http://127.0.0.1:{sidecar.metrics_port}/metrics")).text
    return [line for line in text.splitlines() if line.startswith(name + "{")]


async def test_each_sidecar_holds_the_charts_resources_in_force(stack: DevStack) -> None:
    """From each daprd itself: its metadata API lists the components and subscriptions of
    charts/todo-dapr, its log shows the Resiliency and the Configuration loaded, and its
    metrics show the resiliency policy applied to real pub/sub traffic."""
    # Traffic for the policies to apply to: a publish (backend, outbound) delivered to the
    # worker (inbound).
    event = task_event(
        EventType.TASK_UPDATED,
        TaskSnapshot(
            id=f"resources-{uuid.uuid4().hex[:8]}",
            owner_id="resources",
            title="t",
            status="open",
            priority="medium",
            series_id="s",
            version=1,
        ),
    )
    sidecar = stack.backend_sidecar
    async with sidecar_client(sidecar.http_port, stack.dapr_api_token) as client:
        await DaprEventPublisher(client).publish("task-events", event)
    names_db = stack.work_dir / "dapr" / "names.db"
    for sidecar in (stack.backend_sidecar, stack.worker_sidecar):
        async with sidecar_client(sidecar.http_port, stack.dapr_api_token) as client:
            metadata = (await client.get("/v1.0/metadata")).json()
        app = sidecar.app_id
        assert {c["name"] for c in metadata["components"]} == EXPECTED_COMPONENTS[app]
        subscriptions = {
            (s["pubsubname"], s["topic"], s["rules"][0]["path"], s.get("deadLetterTopic", ""))
            for s in metadata["subscriptions"]
        }
        assert subscriptions == EXPECTED_SUBSCRIPTIONS[app]
        assert metadata["scheduler"]["connected_addresses"] == [stack.scheduler.address]
        log = sidecar.log_file.read_text()
        assert "Loading Resiliency configuration: todo-resiliency" in log, app
        assert "Could not read resiliency" not in log, app
        assert "Could not parse" not in log, app
        # The Configuration (--config) is the only source of the SQLite name resolution.
        assert f"Configuring SQLite name resolution with path {names_db}" in log, app
        assert "loading default configuration" not in log, app
    direction = {"todo-backend": "outbound", "todo-worker": "inbound"}
    for sidecar in (stack.backend_sidecar, stack.worker_sidecar):
        deadline = asyncio.get_running_loop().time() + 20
        while True:
            applied = [
                line
                for line in await sidecar_metric_lines(sidecar, "dapr_resiliency_count")
                if 'name="todo-resiliency"' in line
                and f'flow_direction="{direction[sidecar.app_id]}"' in line
                and 'target="Pubsub_pubsub"' in line
            ]
            if applied:
                break
            assert (
                asyncio.get_running_loop().time() < deadline
            ), f"{sidecar.app_id}: the resiliency policy was never applied to pub/sub"
            await asyncio.sleep(0.5)


async def worker_readiness(stack: DevStack) -> httpx.Response:
    assert stack.worker is not None
    async with httpx.AsyncClient(base_url=stack.worker.url, timeout=10) as client:
        return await client.get("/readyz")


async def test_a_scheduler_that_lost_its_storage_gets_every_reminder_back(
    stack: DevStack,
) -> None:
    """The scheduler stops (the worker says so in its readiness), comes back on empty
    storage (every job gone), and the worker's reconciler puts each reminder job back:
    each reminder fires once, on time or late, never early."""
    async with httpx.AsyncClient(base_url=backend_url(stack), timeout=10) as client:
        me = await signup(client)
        # Room for the stop, the unreadiness, the wipe and the restart on a loaded machine.
        due = [soon(50 + i) for i in range(5)]
        created = []
        for i, at in enumerate(due):
            r = await client.post(
                f"{API}/tasks",
                headers=me,
                json={
                    "title": f"lost {i}",
                    "reminders": [{"kind": "absolute", "at": at.isoformat()}],
                },
            )
            assert r.status_code == 201, r.text
            created.append(r.json()["id"])
        sidecar = stack.worker_sidecar
        async with sidecar_client(sidecar.http_port, stack.dapr_api_token) as dapr:
            deadline = asyncio.get_running_loop().time() + 20
            while (
                r := await dapr.get(f"/v1.0-alpha1/jobs/reminder-{created[-1]}")
            ).status_code != 200:
                assert asyncio.get_running_loop().time() < deadline, r.text
                await asyncio.sleep(0.2)
            job = r.json()
        assert job["failurePolicy"] == {"constant": {"interval": "3s", "maxRetries": 1200}}

        await stack.scheduler.stop()
        deadline = asyncio.get_running_loop().time() + 30
        while (ready := await worker_readiness(stack)).status_code == 200:
            assert asyncio.get_running_loop().time() < deadline, "the worker stayed ready"
            await asyncio.sleep(0.5)
        failure = ready.json()["failures"]["dapr scheduler"]
        assert set(failure) == {"error", "since"}
        shutil.rmtree(stack.scheduler.data_dir / "etcd")
        await stack.scheduler.start()
        deadline = asyncio.get_running_loop().time() + 30
        while (await worker_readiness(stack)).status_code != 200:
            assert asyncio.get_running_loop().time() < deadline, "the worker stayed unready"
            await asyncio.sleep(0.5)
        assert datetime.now(UTC) < due[0], "the wipe must happen before the reminders are due"
        notes = await wait_for_notifications(client, me, len(due), timeout=90)
        assert sorted(datetime.fromisoformat(n["fire_at"]) for n in notes) == due
        assert all(lateness(n) >= 0 for n in notes), "a reminder fired early"
        await asyncio.sleep(4)
        assert len(await notifications(client, me)) == len(due), "a reminder fired twice"
