"""Sessions that end: refresh rotation and reuse detection, sign-out, password change,
account deletion, and the token version the user cache obeys (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from todo.backend import sessions
from todo.backend.api.routes.auth import REFRESH_COOKIE, REFRESH_COOKIE_PATH
from todo.backend.models import RefreshToken, utcnow

PASSWORD = "correct horse"


async def sign_up(client: httpx.AsyncClient, email: str, via: str = "body") -> dict[str, str]:
    r = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": PASSWORD, "refresh_via": via},
    )
    assert r.status_code == 201, r.text
    body: dict[str, str] = r.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_access_tokens_are_short_and_refresh_tokens_are_stored_hashed(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = await sign_up(client, "hana@example.com")
    assert int(body["expires_in"]) == 15 * 60
    assert int(body["refresh_expires_in"]) == 30 * 24 * 3600
    async with app.state.runtime.sessions() as session:
        rows = (await session.execute(RefreshToken.__table__.select())).all()  # type: ignore[attr-defined]
    assert len(rows) == 1
    assert body["refresh_token"] not in str(rows[0])


async def test_refresh_rotates_and_a_reused_token_revokes_its_family(
    client: httpx.AsyncClient,
) -> None:
    first = (await sign_up(client, "ivan@example.com"))["refresh_token"]
    r = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert r.status_code == 200, r.text
    second = r.json()["refresh_token"]
    assert second != first
    assert (
        await client.get("/api/v1/users/me", headers=bearer(r.json()["access_token"]))
    ).is_success

    # Past the grace of a concurrent tab, the replaced token comes back: it was copied.
    await _age_rotations(client, seconds=60)
    stolen = await client.post("/api/v1/auth/refresh", json={"refresh_token": first})
    assert stolen.status_code == 401
    assert stolen.json()["code"] == "refresh_token_reused"
    # The whole family is gone, the legitimate newer token included.
    after = await client.post("/api/v1/auth/refresh", json={"refresh_token": second})
    assert after.status_code == 401
    assert after.json()["code"] == "unauthorized"


async def _age_rotations(client: httpx.AsyncClient, seconds: int) -> None:
    app: FastAPI = client._transport.app  # type: ignore[attr-defined]
    async with app.state.runtime.sessions() as session:
        await session.execute(
            update(RefreshToken)
            .where(RefreshToken.rotated_at.is_not(None))  # type: ignore[union-attr]
            .values(rotated_at=utcnow() - timedelta(seconds=seconds))
        )
        await session.commit()


async def test_concurrent_refreshes_with_one_token_have_one_winner(
    client: httpx.AsyncClient,
) -> None:
    token = (await sign_up(client, "jana@example.com"))["refresh_token"]
    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/refresh", json={"refresh_token": token}) for _ in range(6))
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [200, 401, 401, 401, 401, 401], [a.text for a in answers]
    # Within the grace period the losers are refused, the family survives.
    assert {a.json()["code"] for a in answers if a.status_code == 401} == {"refresh_token_rotated"}
    winner = next(a for a in answers if a.status_code == 200).json()["refresh_token"]
    assert (
        await client.post("/api/v1/auth/refresh", json={"refresh_token": winner})
    ).status_code == 200


async def test_the_cookie_is_httponly_strict_and_scoped_and_refreshes(
    client: httpx.AsyncClient,
) -> None:
    r = await client.post(
        "/api/v1/auth/register", json={"email": "kim@example.com", "password": PASSWORD}
    )
    assert r.status_code == 201
    assert r.json()["refresh_token"] is None
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"{REFRESH_COOKIE}=")
    for attribute in ("HttpOnly", f"Path={REFRESH_COOKIE_PATH}", "SameSite=strict"):
        assert attribute.lower() in cookie.lower(), cookie
    # Local mode over plain http: not Secure (browsers would drop it on http://localhost).
    assert "secure" not in cookie.lower()
    again = await client.post("/api/v1/auth/refresh")
    assert again.status_code == 200, again.text
    assert again.headers["set-cookie"] != cookie
    assert again.json()["refresh_token"] is None


async def test_the_cookie_is_secure_over_https(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "https://test/api/v1/auth/register",
        json={"email": "lou@example.com", "password": PASSWORD},
    )
    assert "; secure" in r.headers["set-cookie"].lower()


async def test_sign_out_ends_access_tokens_at_once_and_revokes_the_refresh_token(
    client: httpx.AsyncClient,
) -> None:
    body = await sign_up(client, "mona@example.com")
    access = bearer(body["access_token"])
    assert (await client.get("/api/v1/tasks", headers=access)).status_code == 200  # cached now
    out = await client.post(
        "/api/v1/auth/logout", json={"refresh_token": body["refresh_token"]}, headers=access
    )
    assert out.status_code == 204
    refused = await client.get("/api/v1/tasks", headers=access)
    assert refused.status_code == 401
    assert refused.json() == {
        "detail": "token revoked (signed out): refresh it or sign in again",
        "code": "unauthorized",
    }
    again = await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert again.status_code == 401


async def test_sign_out_elsewhere_leaves_other_sessions_able_to_refresh(
    client: httpx.AsyncClient,
) -> None:
    phone = await sign_up(client, "nina@example.com")
    laptop = (
        await client.post(
            "/api/v1/auth/login",
            json={"email": "nina@example.com", "password": PASSWORD, "refresh_via": "body"},
        )
    ).json()
    await client.post("/api/v1/auth/logout", json={"refresh_token": phone["refresh_token"]})
    assert (
        await client.get("/api/v1/tasks", headers=bearer(laptop["access_token"]))
    ).status_code == 401
    renewed = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": laptop["refresh_token"]}
    )
    assert renewed.status_code == 200
    assert (
        await client.get("/api/v1/tasks", headers=bearer(renewed.json()["access_token"]))
    ).status_code == 200


async def test_password_change_ends_every_session_and_continues_this_one(
    client: httpx.AsyncClient,
) -> None:
    body = await sign_up(client, "otto@example.com")
    r = await client.post(
        "/api/v1/auth/password",
        headers=bearer(body["access_token"]),
        json={
            "current_password": PASSWORD,
            "new_password": "a new passphrase",
            "refresh_via": "body",
        },
    )
    assert r.status_code == 200, r.text
    assert (
        await client.get("/api/v1/tasks", headers=bearer(body["access_token"]))
    ).status_code == 401
    old = await client.post("/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]})
    assert old.status_code == 401
    assert (
        await client.get("/api/v1/tasks", headers=bearer(r.json()["access_token"]))
    ).status_code == 200
    login = await client.post(
        "/api/v1/auth/login", json={"email": "otto@example.com", "password": "a new passphrase"}
    )
    assert login.status_code == 200


async def test_password_change_needs_the_current_password_and_the_policy(
    client: httpx.AsyncClient,
) -> None:
    access = bearer((await sign_up(client, "pam@example.com"))["access_token"])
    wrong = await client.post(
        "/api/v1/auth/password",
        headers=access,
        json={"current_password": "not it at all", "new_password": "a new passphrase"},
    )
    assert wrong.status_code == 403
    assert wrong.json()["code"] == "wrong_password"
    weak = await client.post(
        "/api/v1/auth/password",
        headers=access,
        json={"current_password": PASSWORD, "new_password": "password1"},
    )
    assert weak.status_code == 422
    assert weak.json()["detail"][0]["loc"] == ["body", "new_password"]
    assert "input" not in weak.json()["detail"][0]


async def test_a_deleted_account_s_token_stops_at_once(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    body = await sign_up(client, "quin@example.com")
    access = bearer(body["access_token"])
    await client.post("/api/v1/tasks", headers=access, json={"title": "mine"})
    assert (await client.get("/api/v1/tasks", headers=access)).status_code == 200
    no_password = await client.request("DELETE", "/api/v1/users/me", headers=access, json={})
    assert no_password.status_code == 403
    gone = await client.request(
        "DELETE", "/api/v1/users/me", headers=access, json={"password": PASSWORD}
    )
    assert gone.status_code == 204
    after = await client.get("/api/v1/tasks", headers=access)
    assert after.status_code == 401
    assert after.json()["detail"] == "token of an unknown user"
    refresh = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
    )
    assert refresh.status_code == 401
    # The email is free again.
    await sign_up(client, "quin@example.com")


async def test_a_token_version_raised_on_another_replica_is_obeyed_within_the_cache_ttl(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    """Another replica's sign-out raises the version in the database; this replica's copy
    is older, and is read again when it expires (here: forgotten, as the TTL would)."""
    runtime = app.state.runtime
    body = await sign_up(client, "rosa@example.com")
    access = bearer(body["access_token"])
    me = (await client.get("/api/v1/users/me", headers=access)).json()
    async with runtime.sessions() as session:
        await sessions.end_access_tokens(session, me["id"], all_sessions=False)
    # Until the copy expires, this replica still accepts the token: the documented bound.
    assert (await client.get("/api/v1/users/me", headers=access)).status_code == 200
    runtime.users.forget_user(me["id"])
    assert (await client.get("/api/v1/users/me", headers=access)).status_code == 401


@pytest.mark.parametrize("attempts", [8])
async def test_concurrent_sign_ups_with_one_email_have_one_201_and_the_rest_409(
    client: httpx.AsyncClient, attempts: int
) -> None:
    answers = await asyncio.gather(
        *(
            client.post(
                "/api/v1/auth/register",
                json={"email": "same@example.com", "password": PASSWORD},
                headers={"X-Attempt": str(i)},
            )
            for i in range(attempts)
        )
    )
    codes = sorted(a.status_code for a in answers)
    assert codes == [201] + [409] * (attempts - 1), [a.text for a in answers]
    assert {a.json()["code"] for a in answers if a.status_code == 409} == {"email_taken"}
