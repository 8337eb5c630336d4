"""Abuse controls over the API: body limit, 422 excerpts, rate limits with Retry-After,
the password policy, live-stream caps and the browser-posture headers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from todo.backend.app import create_app
from todo.backend.conftest import make_settings
from todo.backend.security_headers import API_POLICY, PAGE_POLICY
from todo.backend.settings import BackendSettings

PASSWORD = "correct horse"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> BackendSettings:
    return make_settings(database_url, tmp_path).model_copy(
        update={
            "max_request_bytes": 4096,
            "sign_up_rate": "3/minute",
            "sign_in_rate": "8/minute",
            "sign_in_failure_rate": "3/minute;5/hour",
            "live_streams_per_user": 2,
        }
    )


async def register(client: httpx.AsyncClient, email: str, **extra: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register", json={"email": email, "password": PASSWORD, **extra}
    )


async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/auth/register",
        content=b"{" + b" " * 10_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413
    assert r.json() == {
        "detail": "the request body is larger than this server accepts (4096 bytes)",
        "code": "payload_too_large",
    }
    assert r.headers["connection"] == "close"


async def test_a_streamed_body_is_cut_off_at_the_limit(client: httpx.AsyncClient) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"email": "a@example.com", "password": "'
        for _ in range(100):
            sent.append(1)
            yield b"x" * 1000
        yield b'"}'

    # No Content-Length: chunked, counted as it arrives.
    r = await client.post(
        "/api/v1/tasks", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 413
    assert r.json()["code"] == "payload_too_large"
    assert len(sent) < 10  # the rest of the body was never asked for


async def test_422_never_echoes_a_password_nor_more_than_an_excerpt(
    client: httpx.AsyncClient,
) -> None:
    huge = "p" * 2000
    r = await client.post("/api/v1/auth/register", json={"email": "x" * 1500, "password": huge})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_error"
    assert huge not in r.text
    assert len(r.text) < 1500, r.text
    by_field = {tuple(e["loc"]): e for e in body["detail"]}
    assert "input" not in by_field[("body", "password")]
    assert by_field[("body", "email")]["input"].endswith("…")
    # A missing field would echo the whole body: an object is never echoed.
    r = await client.post("/api/v1/auth/login", json={"password": "hunter2-secret"})
    assert r.status_code == 422
    assert "hunter2-secret" not in r.text


async def test_sign_ups_are_limited_per_address_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    for i in range(3):
        assert (await register(client, f"u{i}@example.com")).status_code == 201
    refused = await register(client, "u3@example.com")
    assert refused.status_code == 429
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # Another address is counted apart.
    other = httpx.ASGITransport(app=client._transport.app, client=("203.0.113.9", 5000))  # type: ignore[attr-defined]
    async with httpx.AsyncClient(transport=other, base_url="http://test") as elsewhere:
        assert (await register(elsewhere, "u4@example.com")).status_code == 201


async def test_failed_sign_ins_back_off_per_account_without_checking_the_password(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await register(client, "vic@example.com")).status_code == 201
    for _ in range(3):
        wrong = await client.post(
            "/api/v1/auth/login", json={"email": "vic@example.com", "password": "not-the-one"}
        )
        assert wrong.status_code == 401
    verified: list[str] = []
    from todo.backend import auth

    real = auth.authenticate

    async def counting(*args: object) -> object:
        verified.append("x")
        return await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(auth, "authenticate", counting)
    locked = await client.post(
        "/api/v1/auth/login", json={"email": "VIC@example.com", "password": PASSWORD}
    )
    assert locked.status_code == 429
    assert locked.json()["code"] == "rate_limited"
    assert "failed sign-ins for this account" in locked.json()["detail"]
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    assert verified == []  # no argon2 hash spent on a locked account
    # Other accounts from the same address are not locked.
    assert (await register(client, "wes@example.com")).status_code == 201
    ok = await client.post(
        "/api/v1/auth/login", json={"email": "wes@example.com", "password": PASSWORD}
    )
    assert ok.status_code == 200


async def test_sign_ins_are_limited_per_address(client: httpx.AsyncClient) -> None:
    answers = [
        (
            await client.post(
                "/api/v1/auth/login", json={"email": f"n{i}@example.com", "password": "whatever"}
            )
        ).status_code
        for i in range(9)
    ]
    assert answers == [401] * 8 + [429]


async def test_the_password_policy_names_the_field_and_the_reason(
    client: httpx.AsyncClient,
) -> None:
    cases = {
        "short": "at least 8 characters",
        "P@ssw0rd": "common passwords",
        "abcdefgh": "too easy to guess",
        "zoe@example.com": "email address",
        "x" * 129: "at most 128 characters",
        "        ": "other than spaces",
    }
    for password, reason in cases.items():
        r = await client.post(
            "/api/v1/auth/register", json={"email": "zoe@example.com", "password": password}
        )
        assert r.status_code == 422, password
        error = r.json()["detail"][0]
        assert error["loc"] == ["body", "password"]
        assert reason in error["msg"], error


async def test_live_streams_are_capped_per_user(app: FastAPI, client: httpx.AsyncClient) -> None:
    token = (await register(client, "yan@example.com")).json()["access_token"]
    runtime = app.state.runtime
    user_id = (
        await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    ).json()["id"]
    held = [runtime.live.open(user_id) for _ in range(2)]
    r = await client.get("/api/v1/events/stream", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 429
    assert r.json()["code"] == "rate_limited"
    assert r.headers["retry-after"] == "30"
    for queue in held:
        runtime.live.close(user_id, queue)
    assert runtime.live.connected(user_id) == 0


async def test_pages_and_answers_carry_the_browser_posture(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    assert page.headers["content-security-policy"] == PAGE_POLICY
    for directive in ("frame-ancestors 'none'", "base-uri 'none'", "object-src 'none'"):
        assert directive in page.headers["content-security-policy"]
    api = await client.get("/api/v1/tasks")
    # The build of the web app is not in this test's sandbox (the browser suite serves
    # it): an asset's answer carries the posture all the same.
    asset = await client.get("/assets/app.js")
    for response in (page, api, asset, await client.get("/healthz")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-frame-options"] == "DENY"
    assert api.headers["content-security-policy"] == API_POLICY
    assert "strict-transport-security" not in page.headers
    assert "strict-transport-security" in (await client.get("https://test/")).headers


async def test_a_trailing_slash_never_redirects_to_the_host_header(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/api/v1/tasks/", "/assets/", "/docs/"):
        r = await client.get(path, headers={"Host": "evil.example"})
        assert r.status_code == 404, path
        assert "location" not in r.headers
        assert "evil.example" not in r.text


async def test_an_app_with_a_tiny_limit_still_serves_pages(tmp_path: Path) -> None:
    """The limit counts request bodies only: large answers are not affected."""
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 'p.db'}", tmp_path)
    app = create_app(settings.model_copy(update={"max_request_bytes": 1024}))
    transport = httpx.ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(transport=transport, base_url="http://test") as client,
    ):
        assert len((await client.get("/openapi.json")).content) > 1024
