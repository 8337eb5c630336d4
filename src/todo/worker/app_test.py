"""The worker's composition in both shapes, started for real without its dependencies:
alive, truthfully not ready, its store migrated, and its sidecar routes behind the token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import create_async_engine

from todo.worker.app import create_app
from todo.worker.settings import WorkerBus, WorkerSettings

TOKEN = "worker-test-token"


async def started(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://worker") as client:
            yield client


@pytest.fixture
async def kafka_worker(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = WorkerSettings(
        bus=WorkerBus.KAFKA,
        # Nothing listens on port 1: the worker starts and says it is not ready.
        kafka_bootstrap="127.0.0.1:1",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'store' / 'worker.db'}",
        app_api_token=TOKEN,
    )
    async for client in started(create_app(settings)):
        yield client


@pytest.fixture
async def dapr_worker() -> AsyncIterator[httpx.AsyncClient]:
    # Nothing listens on port 1: no sidecar.
    settings = WorkerSettings.model_validate(
        {"bus": WorkerBus.DAPR, "DAPR_HTTP_PORT": 1, "app_api_token": TOKEN}
    )
    async for client in started(create_app(settings)):
        yield client


async def test_kafka_shape_is_alive_but_not_ready_without_kafka(
    kafka_worker: httpx.AsyncClient, tmp_path: Path
) -> None:
    assert (await kafka_worker.get("/healthz")).status_code == 200
    ready = await kafka_worker.get("/readyz")
    assert ready.status_code == 503
    assert set(ready.json()["failures"]) == {"kafka"}
    engine = create_async_engine(f"sqlite+aiosqlite:///{tmp_path / 'store' / 'worker.db'}")
    async with engine.connect() as conn:
        tables = await conn.run_sync(lambda sync: inspect(sync).get_table_names())
    await engine.dispose()
    # The scheduler's migrations own its table (and their own version table).
    assert {"scheduled_jobs", "alembic_version_scheduler"} <= set(tables)
    assert "tasks" not in tables


async def test_dapr_shape_routes_need_the_app_token(dapr_worker: httpx.AsyncClient) -> None:
    ready = await dapr_worker.get("/readyz")
    assert ready.status_code == 503
    assert "dapr sidecar" in ready.json()["failures"]
    for path in ("/events/task-events", "/job/reminder-x"):
        assert (await dapr_worker.post(path, content=b"{}")).status_code == 401
    headers = {"dapr-api-token": TOKEN}
    # An unreadable delivery is dropped to the dead-letter topic, never retried.
    delivery = await dapr_worker.post("/events/task-events", content=b"not json", headers=headers)
    assert delivery.json() == {"status": "DROP"}
    job = await dapr_worker.post("/job/reminder-x", content=b'{"task_id": 1}', headers=headers)
    assert job.json()["status"] == "dropped"
