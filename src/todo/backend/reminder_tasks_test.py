"""The reconciler's listing: tasks with reminders, paged, with their last notification
(SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from todo.backend.app import create_app
from todo.backend.conftest import make_settings, signup
from todo.domain.reconciler import ReminderTaskPage

TOKEN = "reminder-tasks-token"
INTERNAL = {"dapr-api-token": TOKEN}


@pytest.fixture
async def internal_client(database_url: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = make_settings(database_url, tmp_path).model_copy(update={"app_api_token": TOKEN})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            yield c


def at(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0).isoformat()


async def test_lists_tasks_with_reminders_paged_with_their_last_notification(
    internal_client: httpx.AsyncClient,
) -> None:
    client = internal_client
    me = await signup(client)

    async def create(title: str, **fields: object) -> str:
        r = await client.post("/api/v1/tasks", headers=me, json={"title": title, **fields})
        assert r.status_code == 201, r.text
        task_id: str = r.json()["id"]
        return task_id

    reminders = [{"kind": "absolute", "at": at(-1)}, {"kind": "absolute", "at": at(30)}]
    notified = await create("notified", reminders=reminders)
    upcoming = await create("upcoming", reminders=[{"kind": "absolute", "at": at(10)}])
    await create("no reminders")
    closed = await create("closed", reminders=[{"kind": "absolute", "at": at(10)}])
    assert (await client.post(f"/api/v1/tasks/{closed}/complete", headers=me)).status_code == 200
    r = await client.post(
        f"/internal/v1/tasks/{notified}/reminders",
        headers=INTERNAL,
        json={"fire_at": reminders[0]["at"], "title": "notified"},
    )
    assert r.status_code == 200, r.text

    seen: dict[str, ReminderTaskPage] = {}
    after: str | None = None
    pages = 0
    while True:
        params = {"limit": "1", **({"after": after} if after else {})}
        r = await client.get("/internal/v1/reminder-tasks", headers=INTERNAL, params=params)
        assert r.status_code == 200, r.text
        page = ReminderTaskPage.model_validate_json(r.content)
        pages += 1
        for item in page.data:
            seen[item.task.id] = page
            if item.task.id == notified:
                assert item.last_notified_at == datetime.fromisoformat(reminders[0]["at"])
            else:
                assert item.last_notified_at is None
        if page.next_after is None:
            break
        after = page.next_after
    assert set(seen) == {notified, upcoming, closed}
    assert pages == 3

    old = await client.get(
        "/internal/v1/reminder-tasks", headers=INTERNAL, params={"changed_within_seconds": "0"}
    )
    listed = {item["task"]["id"] for item in old.json()["data"]}
    assert listed == {notified, upcoming}, "a closed task only while lately changed"
    assert (await client.get("/internal/v1/reminder-tasks")).status_code == 401
