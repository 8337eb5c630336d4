"""Task events through a real Kafka broker: outbox relay, consumer groups, outages,
redelivery. Backend in process on a real port (PostgreSQL), workers as processes."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import httpx
from integration.servers import (
    Backend,
    assert_once_in_order,
    consume_task_events,
    metric,
    start_worker,
)
from prometheus_client import REGISTRY
from sqlalchemy import func
from sqlmodel import col, select

from todo.backend.models import OutboxEvent, Task
from todo.devstack.kafka import KafkaBroker

API = "/api/v1"


async def signup(client: httpx.AsyncClient) -> dict[str, str]:
    r = await client.post(
        f"{API}/auth/register",
        json={"email": f"u-{uuid.uuid4().hex[:10]}@example.com", "password": "kafka-test-pw"},
    )
    assert r.status_code == 201, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def outbox_ids(backend: Backend) -> set[str]:
    """The ids of the task events this test's backend committed."""
    async with backend.app.state.runtime.sessions() as session:
        rows = await session.scalars(
            select(OutboxEvent.event_id).where(col(OutboxEvent.topic) == "task-events")
        )
        return set(rows.all())


async def make_changes(
    client: httpx.AsyncClient, users: list[dict[str, str]], per_user: int
) -> None:
    """Per user: create tasks and rename them, `per_user` changes in all."""

    async def one_user(headers: dict[str, str]) -> None:
        task_id = None
        for i in range(per_user):
            if i % 5 == 0:
                r = await client.post(f"{API}/tasks", headers=headers, json={"title": f"t{i}"})
                assert r.status_code == 201, r.text
                task_id = r.json()["id"]
            else:
                r = await client.patch(
                    f"{API}/tasks/{task_id}", headers=headers, json={"title": f"t{i}"}
                )
                assert r.status_code == 200, r.text

    await asyncio.gather(*(one_user(u) for u in users))


async def test_thousand_changes_arrive_once_in_per_user_order(
    backend: Backend, kafka: KafkaBroker
) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=30) as client:
        users = [await signup(client) for _ in range(10)]
        await make_changes(client, users, per_user=100)
    expected = await outbox_ids(backend)
    assert len(expected) == 1000
    seen = await consume_task_events(kafka.bootstrap, expected)
    assert_once_in_order(seen, 1000)


async def test_a_broker_outage_delays_events_but_loses_none(
    backend: Backend, kafka: KafkaBroker
) -> None:
    async with httpx.AsyncClient(base_url=backend.url, timeout=30) as client:
        users = [await signup(client) for _ in range(4)]
        await make_changes(client, users, per_user=10)
        await kafka.stop()
        # The API keeps accepting changes: they wait in the outbox.
        outage = asyncio.create_task(make_changes(client, users, per_user=20))
        await asyncio.sleep(10)
        await outage
        async with backend.app.state.runtime.sessions() as session:
            waiting = await session.scalar(
                select(func.count()).where(col(OutboxEvent.published_at).is_(None))
            )
        assert waiting, "changes made during the outage wait in the outbox"
        await kafka.start()
    expected = await outbox_ids(backend)
    assert len(expected) == 120
    seen = await consume_task_events(kafka.bootstrap, expected, timeout=120)
    assert_once_in_order(seen, 120)


async def complete_recurring(client: httpx.AsyncClient, headers: dict[str, str], n: int) -> None:
    for i in range(n):
        r = await client.post(
            f"{API}/tasks",
            headers=headers,
            json={
                "title": f"r{i}",
                "due_at": "2030-01-01T09:00:00+00:00",
                "recurrence": {"frequency": "daily"},
            },
        )
        assert r.status_code == 201, r.text
        done = await client.post(f"{API}/tasks/{r.json()['id']}/complete", headers=headers)
        assert done.status_code == 200


async def next_occurrences(backend: Backend) -> int:
    async with backend.app.state.runtime.sessions() as session:
        count = await session.scalar(
            select(func.count()).select_from(Task).where(col(Task.occurrence_number) == 2)
        )
    return int(count or 0)


async def wait_for(probe: Any, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await probe():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.25)


async def test_killed_worker_redelivers_without_duplicate_effects_and_two_share_the_work(
    backend: Backend, kafka: KafkaBroker, postgres_url: str, tmp_path: Path
) -> None:
    recurring = 150
    first = await start_worker(backend, kafka, postgres_url, tmp_path, "w1")
    try:
        async with httpx.AsyncClient(base_url=backend.url, timeout=30) as client:
            alice = await signup(client)
            await complete_recurring(client, alice, recurring)

            async def some_done() -> bool:
                return await next_occurrences(backend) >= 20

            await wait_for(some_done, 120)
            first.kill()
            partial = await next_occurrences(backend)
            assert partial < recurring, "the worker was killed mid-stream"

            second = await start_worker(backend, kafka, postgres_url, tmp_path, "w2")
            third = await start_worker(backend, kafka, postgres_url, tmp_path, "w3")
            try:
                # Twelve users: their events spread over the partitions both workers own.
                others = [await signup(client) for _ in range(12)]
                await asyncio.gather(*(complete_recurring(client, u, 5) for u in others))

                async def all_done() -> bool:
                    return await next_occurrences(backend) >= recurring + 60

                await wait_for(all_done, 180)
                await asyncio.sleep(2)
                assert await next_occurrences(backend) == recurring + 60
                calls = REGISTRY.get_sample_value(
                    "todo_http_request_duration_seconds_count",
                    {
                        "method": "POST",
                        "route": "/internal/v1/tasks/{task_id}/next-occurrence",
                        "status": "200",
                    },
                )
                print(f"next-occurrence requests: {calls} for {recurring + 60} completions")
                handled = [
                    metric(w.url, "todo_events_consumed_total", topic="task-events", outcome="ok")
                    for w in (second, third)
                ]
                assert all(h > 0 for h in handled), f"both workers make progress: {handled}"
            finally:
                await second.stop()
                await third.stop()
    finally:
        await first.stop()
