"""The worker's internal API: only callers with the app API token get in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from todo.backend.app import create_app
from todo.backend.conftest import make_settings, signup

TOKEN = "internal-test-token"


@pytest.fixture
async def client_with_token(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path)
    app = create_app(settings.model_copy(update={"app_api_token": TOKEN}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


async def test_internal_api_is_closed_without_a_configured_token(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/internal/v1/tasks/x", headers={"dapr-api-token": ""})
    assert r.status_code == 403
    assert "TODO_APP_API_TOKEN" in r.json()["detail"]


@pytest.mark.parametrize("headers", [{}, {"dapr-api-token": "wrong"}])
async def test_wrong_or_missing_token_is_401(
    client_with_token: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    r = await client_with_token.get("/internal/v1/tasks/x", headers=headers)
    assert r.status_code == 401


async def test_the_worker_reads_tasks_and_records_reminders_once(
    client_with_token: httpx.AsyncClient,
) -> None:
    c = client_with_token
    alice = await signup(c)
    task = (await c.post("/api/v1/tasks", headers=alice, json={"title": "Internal"})).json()
    internal = {"dapr-api-token": TOKEN}
    snapshot = await c.get(f"/internal/v1/tasks/{task['id']}", headers=internal)
    assert snapshot.status_code == 200
    assert snapshot.json()["owner_id"]
    assert (await c.get("/internal/v1/tasks/nope", headers=internal)).status_code == 404
    fire_at = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    body = {"fire_at": fire_at, "title": "Internal"}
    first = await c.post(f"/internal/v1/tasks/{task['id']}/reminders", headers=internal, json=body)
    again = await c.post(f"/internal/v1/tasks/{task['id']}/reminders", headers=internal, json=body)
    assert first.json()["created"] is True
    assert again.json() == {**first.json(), "created": False}
    naive = await c.post(
        f"/internal/v1/tasks/{task['id']}/reminders",
        headers=internal,
        json={"fire_at": "2030-01-01T00:00:00", "title": "x"},
    )
    assert naive.status_code == 422
    notes = (await c.get("/api/v1/notifications", headers=alice)).json()
    assert notes["unread"] == 1
    none = await c.post(
        f"/internal/v1/tasks/{task['id']}/next-occurrence",
        headers=internal,
        json={"idempotency_key": "evt-1"},
    )
    assert none.json() == {"task_id": None}, "a task without recurrence has no next one"
