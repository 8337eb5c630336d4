from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from prometheus_client.parser import text_string_to_metric_families

from loadtests.warmup import WarmUpError, warm_up
from todo.backend.app import create_app
from todo.backend.settings import BackendSettings
from todo.devstack.serving import serve


def _requests_by_route(metrics_text: str) -> dict[tuple[str, str], float]:
    counts: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(metrics_text):
        for sample in family.samples:
            if sample.name == "todo_http_request_duration_seconds_count":
                key = (sample.labels["method"], sample.labels["route"])
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


async def test_the_warm_up_sends_every_kind_of_request(tmp_path: Path) -> None:
    settings = BackendSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}",
        data_dir=tmp_path,
        jwt_secret="warm-up-test-" + "x" * 40,
        outbox_poll_seconds=0.05,
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app), serve(app) as base_url:
        async with httpx.AsyncClient(base_url=base_url) as client:
            before = _requests_by_route((await client.get("/metrics")).text)
        done = await warm_up(base_url, rounds=2)
        async with httpx.AsyncClient(base_url=base_url) as client:
            after = _requests_by_route((await client.get("/metrics")).text)

    sent = {key: after[key] - before.get(key, 0.0) for key in after}
    expected = {
        ("POST", "/api/v1/auth/register"),
        ("POST", "/api/v1/auth/login"),
        ("GET", "/api/v1/users/me"),
        ("POST", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks"),
        ("GET", "/api/v1/tasks/{task_id}"),
        ("PATCH", "/api/v1/tasks/{task_id}"),
        ("POST", "/api/v1/tasks/{task_id}/complete"),
        ("DELETE", "/api/v1/tasks/{task_id}"),
        ("GET", "/api/v1/notifications"),
    }
    assert {key for key, n in sent.items() if n > 0} >= expected
    assert sum(sent[key] for key in expected) == done.requests
    assert done.describe().startswith(f"warm-up: {done.requests} requests in ")


async def test_a_failing_target_stops_the_warm_up_with_what_failed() -> None:
    broken = FastAPI()

    @broken.post("/api/v1/auth/register")
    async def register() -> JSONResponse:
        return JSONResponse({"detail": "database unavailable"}, status_code=503)

    async with serve(broken) as base_url:
        with pytest.raises(WarmUpError) as failure:
            await warm_up(base_url)
    message = str(failure.value)
    assert "POST /api/v1/auth/register answered 503 (expected 201)" in message
    assert "database unavailable" in message
