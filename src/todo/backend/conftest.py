"""Fixtures: a real backend app (lifespan and all) on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from todo.backend.app import create_app
from todo.backend.migrate import upgrade_async
from todo.backend.models import User
from todo.backend.settings import BackendSettings
from todo.devstack.postgres import create_database, drop_database
from todo.shared.db import Database, open_database


def postgres_admin_url() -> str | None:
    """The server for PostgreSQL tests; in CI its absence is a failure, not a skip."""
    url = os.environ.get("TODO_TEST_POSTGRES_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail(
                "CI is set but TODO_TEST_POSTGRES_URL is not: .ci/run must start PostgreSQL"
            )
        pytest.skip("TODO_TEST_POSTGRES_URL not set (start PostgreSQL: see README)")
    return url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin = postgres_admin_url()
    assert admin is not None
    url = asyncio.run(create_database(admin, prefix="todo_test"))
    try:
        yield url
    finally:
        asyncio.run(drop_database(admin, url))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


def make_settings(database_url: str, data_dir: Path) -> BackendSettings:
    return BackendSettings(
        database_url=database_url,
        data_dir=data_dir,
        jwt_secret="test-secret-" + "x" * 40,
        outbox_poll_seconds=0.05,
        # Tests sign many users up from one client: abuse_test.py tests the limit itself.
        sign_up_rate="1000/minute",
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> BackendSettings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: BackendSettings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


async def signup(client: httpx.AsyncClient, email: str | None = None) -> dict[str, str]:
    """Register a fresh user; returns the Authorization header for it."""
    email = email or f"user-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/api/v1/auth/register", json={"email": email, "password": "correct horse"}
    )
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.fixture
async def alice(client: httpx.AsyncClient) -> dict[str, str]:
    return await signup(client, "alice@example.com")


@pytest.fixture
async def bob(client: httpx.AsyncClient) -> dict[str, str]:
    return await signup(client, "bob@example.com")


# A migrated database of its own (no app), and an account in it: for tests of the
# database code itself (create_task_test, driver_statements_test).
@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    await upgrade_async(database_url)
    database = open_database(database_url)
    try:
        yield database
    finally:
        await database.dispose()


@pytest.fixture
async def owner(database: Database) -> str:
    async with database.writes() as session:
        user = User(email="owner@example.com")
        session.add(user)
        await session.commit()
        return user.id
