"""The embedded shape end to end: outbox -> in-process bus -> worker handlers -> database
scheduler -> notifications, on SQLite and PostgreSQL, through the public API."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from fastapi import FastAPI
from sqlmodel import col, select

from todo.backend.app import create_app
from todo.backend.conftest import make_settings, signup
from todo.backend.models import OutboxEvent
from todo.domain.events import CloudEvent, EventType, Topic
from todo.shared.scheduler_db import ScheduledJob

API = "/api/v1"


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, timeout: float = 10.0, interval: float = 0.05
) -> Any:
    """Poll until `probe` returns something truthy; fail with its last value otherwise."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(interval)


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def notifications(client: httpx.AsyncClient, who: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get(f"{API}/notifications", headers=who)
    assert r.status_code == 200
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def jobs(app: FastAPI) -> list[ScheduledJob]:
    async with app.state.runtime.sessions() as session:
        return list((await session.scalars(select(ScheduledJob))).all())


async def test_absolute_reminder_fires_once_and_never_early(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    fire_at = soon(1.5)
    task = (
        await client.post(
            f"{API}/tasks",
            headers=alice,
            json={"title": "Stand up", "reminders": [{"kind": "absolute", "at": fire_at}]},
        )
    ).json()
    found = await eventually(lambda: notifications(client, alice))
    assert len(found) == 1
    note = found[0]
    assert note["task_id"] == task["id"]
    assert note["title"] == "Stand up"
    assert datetime.fromisoformat(note["created_at"]) >= datetime.fromisoformat(fire_at)
    await asyncio.sleep(1.0)
    assert len(await notifications(client, alice)) == 1
    unread = (await client.get(f"{API}/notifications?unread=true", headers=alice)).json()
    assert unread["unread"] == 1


async def test_reminder_before_due_and_the_next_one_chain(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    due = datetime.now(UTC) + timedelta(seconds=2.5)
    await client.post(
        f"{API}/tasks",
        headers=alice,
        json={
            "title": "Meeting",
            "due_at": due.isoformat(),
            "reminders": [
                {"kind": "before_due", "minutes_before": 0},
                {"kind": "absolute", "at": (due - timedelta(seconds=1.5)).isoformat()},
            ],
        },
    )
    both = await eventually(lambda: _at_least(notifications(client, alice), 2), timeout=10)
    fired = sorted(datetime.fromisoformat(n["fire_at"]) for n in both)
    assert fired == [due - timedelta(seconds=1.5), due]
    assert await eventually(lambda: _none(jobs(app)))


async def _at_least(items: Awaitable[list[Any]], n: int) -> list[Any] | None:
    got = await items
    return got if len(got) >= n else None


async def _none(items: Awaitable[list[Any]]) -> bool:
    return not await items


async def test_completing_cancels_and_rescheduling_moves_the_reminder(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    done = (
        await client.post(
            f"{API}/tasks",
            headers=alice,
            json={"title": "Cancelled", "reminders": [{"kind": "absolute", "at": soon(1.5)}]},
        )
    ).json()
    moved = (
        await client.post(
            f"{API}/tasks",
            headers=alice,
            json={"title": "Moved", "reminders": [{"kind": "absolute", "at": soon(3600)}]},
        )
    ).json()
    await eventually(lambda: _at_least(jobs(app), 2))
    await client.post(f"{API}/tasks/{done['id']}/complete", headers=alice)
    await client.patch(
        f"{API}/tasks/{moved['id']}",
        headers=alice,
        json={"reminders": [{"kind": "absolute", "at": soon(2.0)}]},
    )
    found = await eventually(lambda: notifications(client, alice))
    assert [n["task_id"] for n in found] == [moved["id"]]
    await asyncio.sleep(1.0)
    assert [n["task_id"] for n in await notifications(client, alice)] == [moved["id"]]
    assert await eventually(lambda: _none(jobs(app)))


async def test_snooze_reminds_again(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    task = (
        await client.post(
            f"{API}/tasks",
            headers=alice,
            json={"title": "Water plants", "reminders": [{"kind": "absolute", "at": soon(1.0)}]},
        )
    ).json()
    await eventually(lambda: notifications(client, alice))
    r = await client.post(
        f"{API}/tasks/{task['id']}/snooze", headers=alice, json={"until": soon(1.5)}
    )
    assert r.status_code == 200
    both = await eventually(lambda: _at_least(notifications(client, alice), 2))
    assert {n["task_id"] for n in both} == {task["id"]}


async def test_completing_a_recurring_task_creates_exactly_one_next_occurrence(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    berlin = ZoneInfo("Europe/Berlin")
    # The day before the autumn DST change: the next one must stay at 09:00 local time.
    due = datetime(2026, 10, 24, 9, 0, tzinfo=berlin)
    task = (
        await client.post(
            f"{API}/tasks",
            headers=alice,
            json={
                "title": "Daily standup",
                "tags": ["work"],
                "due_at": due.isoformat(),
                "time_zone": "Europe/Berlin",
                "reminders": [{"kind": "before_due", "minutes_before": 10}],
                "recurrence": {"frequency": "daily"},
            },
        )
    ).json()
    await client.post(f"{API}/tasks/{task['id']}/complete", headers=alice)

    async def open_tasks() -> list[dict[str, Any]] | None:
        r = await client.get(f"{API}/tasks", headers=alice, params={"status": "open"})
        data: list[dict[str, Any]] = r.json()["data"]
        return data or None

    (following,) = await eventually(open_tasks)
    assert following["title"] == "Daily standup"
    assert following["series_id"] == task["series_id"]
    assert following["occurrence_number"] == 2
    assert following["tags"] == ["work"]
    assert following["reminders"] == [{"kind": "before_due", "at": None, "minutes_before": 10}]
    next_due = datetime.fromisoformat(following["due_at"]).astimezone(berlin)
    assert (next_due.date().isoformat(), next_due.hour, next_due.minute) == ("2026-10-25", 9, 0)
    assert next_due.utcoffset() == timedelta(hours=1)

    # Redeliver the completion event, as Kafka or Dapr may: still one next occurrence.
    async with app.state.runtime.sessions() as session:
        row = await session.scalar(
            select(OutboxEvent).where(
                col(OutboxEvent.payload)["type"].as_string() == EventType.TASK_COMPLETED.value
            )
        )
    assert row is not None
    completed = CloudEvent.model_validate(row.payload)
    for _ in range(3):
        await app.state.runtime.bus.publish(Topic.TASK_EVENTS, completed)
    await app.state.runtime.bus.drain()
    listed = (await client.get(f"{API}/tasks", headers=alice)).json()
    assert listed["count"] == 2


async def test_every_change_is_published_in_order(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    task = (await client.post(f"{API}/tasks", headers=alice, json={"title": "a"})).json()
    await client.patch(f"{API}/tasks/{task['id']}", headers=alice, json={"title": "b"})
    await client.post(f"{API}/tasks/{task['id']}/complete", headers=alice)
    deleting_at = datetime.now(UTC)
    await client.delete(f"{API}/tasks/{task['id']}", headers=alice)

    async def published() -> list[OutboxEvent] | None:
        async with app.state.runtime.sessions() as session:
            rows = list(
                (await session.scalars(select(OutboxEvent).order_by(col(OutboxEvent.seq)))).all()
            )
        return rows if all(r.published_at is not None for r in rows) else None

    rows = await eventually(published)
    domain = [r for r in rows if r.topic == Topic.TASK_EVENTS.value]
    assert [r.payload["type"] for r in domain] == [
        "todo.task.created.v1",
        "todo.task.updated.v1",
        "todo.task.completed.v1",
        "todo.task.deleted.v1",
    ]
    assert [r.payload["data"]["task"]["version"] for r in domain] == [1, 2, 3, 4]
    # Each event's time is its change's: the deletion's is not the last update's.
    times = [datetime.fromisoformat(r.payload["time"]) for r in domain]
    assert times == sorted(times)
    assert times[-1] >= deleting_at
    for r in domain:
        assert r.payload["subject"] == task["id"]
        assert r.payload["specversion"] == "1.0"
        assert r.partition_key == r.payload["partitionkey"]
    refreshes = [r for r in rows if r.topic == Topic.TASK_UPDATES.value]
    assert len(refreshes) == 4


async def test_a_reminder_scheduled_before_a_restart_fires_after_it_exactly_once(
    tmp_path: Path, database_url: str
) -> None:
    settings = make_settings(database_url, tmp_path)
    first = create_app(settings)
    async with first.router.lifespan_context(first):
        transport = httpx.ASGITransport(app=first)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            alice = await signup(client, "alice@example.com")
            fire_at = soon(2.5)
            await client.post(
                f"{API}/tasks",
                headers=alice,
                json={"title": "Survive", "reminders": [{"kind": "absolute", "at": fire_at}]},
            )
            await eventually(lambda: jobs(first))
    # Down while the reminder falls due.
    await asyncio.sleep(
        max(0.0, (datetime.fromisoformat(fire_at) - datetime.now(UTC)).total_seconds()) + 0.5
    )

    second = create_app(settings)
    async with second.router.lifespan_context(second):
        transport = httpx.ASGITransport(app=second)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            login = await client.post(
                f"{API}/auth/login",
                json={"email": "alice@example.com", "password": "correct horse"},
            )
            alice = {"Authorization": f"Bearer {login.json()['access_token']}"}
            found = await eventually(lambda: notifications(client, alice))
            assert len(found) == 1
            assert found[0]["title"] == "Survive"
            assert datetime.fromisoformat(found[0]["created_at"]) > datetime.fromisoformat(fire_at)
            await asyncio.sleep(1.0)
            assert len(await notifications(client, alice)) == 1
            assert await eventually(lambda: _none(jobs(second)))


async def test_a_notification_tells_whether_its_task_can_still_be_snoozed(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    reminders = [{"kind": "absolute", "at": soon(0.5)}]
    kept = (
        await client.post(
            f"{API}/tasks", headers=alice, json={"title": "Keep", "reminders": reminders}
        )
    ).json()
    gone = (
        await client.post(
            f"{API}/tasks", headers=alice, json={"title": "Gone", "reminders": reminders}
        )
    ).json()
    await eventually(lambda: _at_least(notifications(client, alice), 2))
    status_of = {n["task_id"]: n["task_status"] for n in await notifications(client, alice)}
    assert status_of == {kept["id"]: "open", gone["id"]: "open"}

    assert (await client.delete(f"{API}/tasks/{gone['id']}", headers=alice)).status_code == 204
    await client.post(f"{API}/tasks/{kept['id']}/complete", headers=alice)
    status_of = {n["task_id"]: n["task_status"] for n in await notifications(client, alice)}
    assert status_of == {kept["id"]: "completed", gone["id"]: None}
    note = next(n for n in await notifications(client, alice) if n["task_id"] == gone["id"])
    read = (await client.post(f"{API}/notifications/{note['id']}/read", headers=alice)).json()
    assert read["task_status"] is None
    assert read["read_at"] is not None
