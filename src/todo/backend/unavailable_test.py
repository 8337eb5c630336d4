"""A real PostgreSQL behind a TCP proxy that the test cuts: every route answers 503 with
Retry-After and a JSON reason while the database is unreachable, and recovers after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from todo.backend.app import create_app
from todo.backend.conftest import make_settings, signup
from todo.backend.unavailable import database_outage
from todo.devstack.tcp_proxy import TcpProxy

pytestmark = pytest.mark.postgres

APP_TOKEN = "unavailable-test-token"


@pytest.fixture
def proxy(postgres_url: str) -> Iterator[TcpProxy]:
    url = make_url(postgres_url)
    with TcpProxy(target_port=url.port or 5432, target_host=url.host or "127.0.0.1") as running:
        yield running


def through(postgres_url: str, proxy: TcpProxy) -> str:
    return (
        make_url(postgres_url)
        .set(host="127.0.0.1", port=proxy.port)
        .render_as_string(hide_password=False)
    )


async def test_every_route_answers_503_with_a_reason_while_the_database_is_cut(
    postgres_url: str, proxy: TcpProxy, tmp_path: Path
) -> None:
    settings = make_settings(through(postgres_url, proxy), tmp_path)
    settings.app_api_token = APP_TOKEN
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            me = await signup(client)
            task = (await client.post("/api/v1/tasks", headers=me, json={"title": "t"})).json()
            internal = {"dapr-api-token": APP_TOKEN}
            calls = [
                ("GET", "/api/v1/tasks", me, None),
                ("GET", f"/api/v1/tasks/{task['id']}", me, None),
                ("POST", "/api/v1/tasks", me, {"title": "during the outage"}),
                ("PATCH", f"/api/v1/tasks/{task['id']}", me, {"title": "renamed"}),
                ("POST", f"/api/v1/tasks/{task['id']}/complete", me, None),
                ("DELETE", f"/api/v1/tasks/{task['id']}", me, None),
                ("GET", "/api/v1/notifications", me, None),
                (
                    "POST",
                    "/api/v1/auth/register",
                    {},
                    {"email": "x@example.com", "password": "tangerine-Ocelot-42-vista"},
                ),
                (
                    "POST",
                    "/api/v1/auth/login",
                    {},
                    {"email": "x@example.com", "password": "tangerine-Ocelot-42-vista"},
                ),
                ("GET", f"/internal/v1/tasks/{task['id']}", internal, None),
            ]
            proxy.cut()
            for method, path, headers, body in calls:
                r = await client.request(method, path, headers=headers, json=body)
                assert r.status_code == 503, f"{method} {path}: {r.status_code} {r.text}"
                assert r.headers["Retry-After"] == str(settings.retry_after_seconds)
                answer = r.json()
                assert answer["code"] == "service_unavailable", answer
                assert "database" in answer["detail"], answer
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert set(ready.json()["failures"]["database"]) == {"error", "since"}
            proxy.restore()
            r = await client.get(f"/api/v1/tasks/{task['id']}", headers=me)
            assert r.status_code == 200, r.text
            assert (await client.get("/readyz")).status_code == 200


def test_a_query_error_is_no_outage() -> None:
    from sqlalchemy.exc import IntegrityError

    assert database_outage(IntegrityError("INSERT", {}, Exception("duplicate key"))) is None
    assert database_outage(ValueError("nope")) is None
    assert database_outage(ConnectionRefusedError(111, "refused")) is not None
