"""The bare baseline runs our own statements on a real PostgreSQL database: its create
inserts a row the API can list, and its page is the list route's statement."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from loadtests import bare_baseline
from todo.backend.migrate import upgrade_async
from todo.devstack.postgres import create_database, drop_database


@pytest.fixture
async def database_url() -> AsyncIterator[str]:
    admin = os.environ.get("TODO_TEST_POSTGRES_URL")
    if not admin:
        if os.environ.get("CI"):
            pytest.fail("CI is set but TODO_TEST_POSTGRES_URL is not")
        pytest.skip("TODO_TEST_POSTGRES_URL not set")
    url = await create_database(admin, prefix="todo_bare")
    try:
        await upgrade_async(url)
        yield url
    finally:
        await drop_database(admin, url)


async def test_the_bare_app_creates_and_pages_with_our_statements(database_url: str) -> None:
    plain = database_url.replace("postgresql+asyncpg://", "postgresql://")
    owner = bare_baseline.OWNER_ID
    conn = await asyncpg.connect(plain)
    try:  # the owner, as the benchmark makes it
        await conn.execute(
            "INSERT INTO users (id, email, display_name, created_at) VALUES ($1, $2, '', now())",
            owner,
            "bare@example.com",
        )
    finally:
        await conn.close()
    app = bare_baseline.BareApp(plain)
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    lifespan = asyncio.create_task(app({"type": "lifespan"}, inbox.get, outbox.put))
    await inbox.put({"type": "lifespan.startup"})
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        headers = {"Authorization": f"Bearer {owner}"}
        transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]  # plain dicts
        async with httpx.AsyncClient(transport=transport, base_url="http://bare") as client:
            for n in range(3):
                created = await client.post("/", json={"title": f"bare {n}"}, headers=headers)
                assert created.status_code == 201, created.text
            page = await client.get("/?limit=2", headers=headers)
        assert page.status_code == 200, page.text
        assert page.json()["count"] == 3
        assert len(page.json()["data"]) == 2
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        await lifespan
    assert {"owner_id", "limit", "offset"} <= set(bare_baseline.PAGE_PARAMS)
