"""Races through the public API, on SQLite and PostgreSQL: N concurrent writers of one
task, exactly one winner, nothing lost and nothing duplicated."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func
from sqlmodel import select

from todo.backend.app import create_app
from todo.backend.conftest import make_settings, signup
from todo.backend.models import OutboxEvent
from todo.backend.outbox import OUTBOX
from todo.domain.events import EventType

API = "/api/v1/tasks"
WRITERS = 8


async def create(client: httpx.AsyncClient, who: dict[str, str], **fields: Any) -> dict[str, Any]:
    r = await client.post(API, json={"title": "Task", **fields}, headers=who)
    assert r.status_code == 201, r.text
    task: dict[str, Any] = r.json()
    return task


def daily(due: datetime) -> dict[str, Any]:
    return {"due_at": due.isoformat(), "recurrence": {"frequency": "daily"}}


async def series(client: httpx.AsyncClient, who: dict[str, str], series_id: str) -> list[Any]:
    r = await client.get(API, headers=who, params={"limit": 200})
    assert r.status_code == 200, r.text
    return [t for t in r.json()["data"] if t["series_id"] == series_id]


async def settled(app: FastAPI, timeout: float = 20.0) -> None:
    """Every staged event published by the relay and handled (the embedded worker too),
    including the events those handlers staged in turn."""
    runtime = app.state.runtime
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        await runtime.bus.drain()
        async with runtime.sessions() as session:
            pending = await session.scalar(
                select(func.count()).select_from(OUTBOX).where(OUTBOX.c.published_at.is_(None))
            )
        if not pending:
            await runtime.bus.drain()
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{pending} events still unpublished after {timeout}s")
        await asyncio.sleep(0.02)


async def test_concurrent_patches_with_one_if_match_have_one_winner(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice)
    answers = await asyncio.gather(
        *(
            client.patch(
                f"{API}/{task['id']}",
                json={"title": f"writer {n}"},
                headers={**alice, "If-Match": '"1"'},
            )
            for n in range(WRITERS)
        )
    )
    codes = Counter(r.status_code for r in answers)
    assert codes == {200: 1, 412: WRITERS - 1}, [r.text for r in answers]
    (winner,) = (r.json() for r in answers if r.status_code == 200)
    stored = (await client.get(f"{API}/{task['id']}", headers=alice)).json()
    assert stored["title"] == winner["title"]
    assert stored["version"] == 2
    for loser in (r for r in answers if r.status_code == 412):
        assert loser.json()["code"] == "version_conflict"
        assert loser.headers["ETag"] == '"2"'


async def test_concurrent_patches_without_if_match_lose_no_field(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    """Each writer changes a different field: every change survives."""
    task = await create(client, alice)
    bodies: list[dict[str, Any]] = [
        {"title": "new title"},
        {"notes": "new notes"},
        {"priority": "urgent"},
    ]
    bodies += [{"tags": ["t1"]}, {"time_zone": "Europe/Berlin"}]
    answers = await asyncio.gather(
        *(client.patch(f"{API}/{task['id']}", json=b, headers=alice) for b in bodies)
    )
    assert [r.status_code for r in answers] == [200] * len(bodies), [r.text for r in answers]
    stored = (await client.get(f"{API}/{task['id']}", headers=alice)).json()
    assert (stored["title"], stored["notes"], stored["priority"]) == (
        "new title",
        "new notes",
        "urgent",
    )
    assert (stored["tags"], stored["time_zone"]) == (["t1"], "Europe/Berlin")
    assert stored["version"] == 1 + len(bodies)


async def test_concurrent_completes_of_a_recurring_task_create_one_next_occurrence(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    task = await create(client, alice, **daily(datetime.now(UTC) + timedelta(hours=1)))
    answers = await asyncio.gather(
        *(client.post(f"{API}/{task['id']}/complete", headers=alice) for _ in range(WRITERS))
    )
    assert {r.status_code for r in answers} == {200}, [r.text for r in answers]
    # Completing a completed task is a no-op: one transition, so one version bump.
    assert {r.json()["version"] for r in answers} == {2}
    await settled(app)
    tasks = await series(client, alice, task["series_id"])
    assert sorted(t["occurrence_number"] for t in tasks) == [1, 2]


async def test_complete_reopen_complete_keeps_one_next_occurrence(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    task = await create(client, alice, **daily(datetime.now(UTC) + timedelta(hours=1)))
    url = f"{API}/{task['id']}"
    for step in ("complete", "reopen", "complete", "reopen", "complete"):
        r = await client.post(f"{url}/{step}", headers=alice)
        assert r.status_code == 200, r.text
        await settled(app)
    tasks = await series(client, alice, task["series_id"])
    assert Counter(t["occurrence_number"] for t in tasks) == {1: 1, 2: 1}
    assert [t["status"] for t in tasks if t["occurrence_number"] == 2] == ["open"]


async def test_reopen_withdraws_the_untouched_next_occurrence(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    """Undo of a completion: the occurrence it generated goes again (and comes back on the
    next completion), so the series never has two open occurrences."""
    task = await create(client, alice, **daily(datetime.now(UTC) + timedelta(hours=1)))
    url = f"{API}/{task['id']}"
    await client.post(f"{url}/complete", headers=alice)
    await settled(app)
    assert len(await series(client, alice, task["series_id"])) == 2
    await client.post(f"{url}/reopen", headers=alice)
    await settled(app)
    tasks = await series(client, alice, task["series_id"])
    assert [(t["occurrence_number"], t["status"]) for t in tasks] == [(1, "open")]


async def test_reopen_keeps_a_next_occurrence_the_user_changed(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    task = await create(client, alice, **daily(datetime.now(UTC) + timedelta(hours=1)))
    url = f"{API}/{task['id']}"
    await client.post(f"{url}/complete", headers=alice)
    await settled(app)
    (following,) = (
        t for t in await series(client, alice, task["series_id"]) if t["id"] != task["id"]
    )
    r = await client.patch(f"{API}/{following['id']}", json={"notes": "mine"}, headers=alice)
    assert r.status_code == 200
    await client.post(f"{url}/reopen", headers=alice)
    await settled(app)
    assert len(await series(client, alice, task["series_id"])) == 2


async def test_completion_redelivered_after_reopen_creates_nothing(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    """The worker may handle a completion after the user took it back: nothing is made
    for a task that is open again."""
    task = await create(client, alice, **daily(datetime.now(UTC) + timedelta(hours=1)))
    gateway = app.state.runtime.task_gateway
    url = f"{API}/{task['id']}"
    await client.post(f"{url}/complete", headers=alice)
    await client.post(f"{url}/reopen", headers=alice)
    assert await gateway.create_next_occurrence(task["id"], idempotency_key="late") is None
    await settled(app)
    tasks = await series(client, alice, task["series_id"])
    assert [t["occurrence_number"] for t in tasks] == [1]


async def test_concurrent_deletes_and_completes_answer_cleanly(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice)
    url = f"{API}/{task['id']}"
    answers = await asyncio.gather(
        *(client.delete(url, headers=alice) for _ in range(WRITERS // 2)),
        *(client.post(f"{url}/complete", headers=alice) for _ in range(WRITERS // 2)),
    )
    codes = Counter(r.status_code for r in answers)
    assert codes[204] == 1, [r.text for r in answers]
    assert set(codes) <= {200, 204, 404}
    assert (await client.get(url, headers=alice)).status_code == 404


async def test_parallel_sign_ups_with_one_email_have_one_winner(
    client: httpx.AsyncClient,
) -> None:
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/register",
                json={"email": "same@example.com", "password": "correct horse battery"},
            )
            for _ in range(WRITERS)
        )
    )
    codes = Counter(r.status_code for r in answers)
    assert codes == {201: 1, 409: WRITERS - 1}, [r.text for r in answers]


async def test_concurrent_completes_emit_one_completed_event(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    task = await create(client, alice)
    await asyncio.gather(
        *(client.post(f"{API}/{task['id']}/complete", headers=alice) for _ in range(WRITERS))
    )
    async with app.state.runtime.sessions() as session:
        rows = (await session.scalars(select(OutboxEvent))).all()
    completed = [
        row
        for row in rows
        if row.payload["type"] == EventType.TASK_COMPLETED and row.payload["subject"] == task["id"]
    ]
    assert len(completed) == 1


async def test_writers_of_uncached_users_never_wait_on_each_other_for_connections(
    postgres_url: str, tmp_path: Path
) -> None:
    # Two connections in all: a write whose authentication held
    # a second connection for the whole request would leave every writer waiting for one
    # the others hold (until the pool's 30 s timeout).
    settings = make_settings(postgres_url, tmp_path).model_copy(update={"database_pool_size": 2})
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=application), base_url="http://t") as c,
    ):
        people = [await signup(c, f"writer-{n}@example.com") for n in range(WRITERS)]
        for person in people:
            claims = application.state.runtime.tokens.verify_local(
                person["Authorization"].removeprefix("Bearer ")
            )
            application.state.runtime.users.forget_user(claims.user_id)
        # A hang detector, not a speed limit: well inside the pool's timeout.
        made = await asyncio.wait_for(
            asyncio.gather(*(c.post(API, json={"title": "Mine"}, headers=p) for p in people)), 25
        )
        assert [r.status_code for r in made] == [201] * WRITERS
