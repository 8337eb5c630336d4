"""GET /api/v1/version reports the build (TODO_VERSION), without signing in."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from todo.backend.app import create_app
from todo.backend.conftest import make_settings


async def reported(tmp_path: Path) -> tuple[httpx.Response, str]:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'todo.db'}", tmp_path)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            response = await client.get("/api/v1/version")
            openapi = await client.get("/openapi.json")
    return response, str(openapi.json()["info"]["version"])


@pytest.mark.parametrize("stamped", ["0123456789abcdef0123456789abcdef01234567", "2.0.0rc1"])
async def test_version_is_what_the_build_stamped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stamped: str
) -> None:
    monkeypatch.setenv("TODO_VERSION", stamped)
    response, documented = await reported(tmp_path)
    assert response.status_code == 200
    assert response.json() == {"version": stamped}
    assert documented == stamped


async def test_an_unstamped_build_reports_the_release(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("TODO_VERSION", raising=False)
    response, _ = await reported(tmp_path)
    assert response.json() == {"version": "0.1.0"}
