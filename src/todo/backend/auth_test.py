from __future__ import annotations

import dataclasses
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from sqlalchemy import event
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import select

from todo.backend.auth import InvalidToken, TokenIssuer
from todo.backend.conftest import signup
from todo.backend.models import User


async def test_register_login_and_me(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/api/v1/auth/register",
        json={"email": "Carol@Example.com", "password": "long enough", "display_name": "Carol"},
    )
    assert created.status_code == 201
    assert created.json()["user"]["email"] == "carol@example.com"

    login = await client.post(
        "/api/v1/auth/login", json={"email": "carol@example.com", "password": "long enough"}
    )
    assert login.status_code == 200
    token = login.json()["access_token"]
    me = await client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.json()["display_name"] == "Carol"


async def test_password_is_stored_as_argon2_hash(client: httpx.AsyncClient, app: FastAPI) -> None:
    await signup(client, "dave@example.com")
    async with app.state.runtime.sessions() as session:
        user = await session.scalar(select(User).where(User.email == "dave@example.com"))
    assert user is not None
    assert user.password_hash is not None
    assert user.password_hash.startswith("$argon2id$")
    assert "correct horse" not in user.password_hash


async def signup_with_legacy_hash(client: httpx.AsyncClient, app: FastAPI, email: str) -> str:
    """An account whose hash has argon2's library defaults (64 MiB, t=3, p=4), as older
    releases made them; returns that hash."""
    await signup(client, email)
    old_hash = PasswordHasher().hash("correct horse")
    async with app.state.runtime.sessions() as session:
        user = await session.scalar(select(User).where(User.email == email))
        assert user is not None
        user.password_hash = old_hash
        await session.commit()
    return old_hash


async def test_sign_in_upgrades_a_hash_of_older_parameters(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    old_hash = await signup_with_legacy_hash(client, app, "olga@example.com")

    login = await client.post(
        "/api/v1/auth/login",
        json={"email": "olga@example.com", "password": "correct horse"},
    )

    assert login.status_code == 200
    async with app.state.runtime.sessions() as session:
        user = await session.scalar(select(User).where(User.email == "olga@example.com"))
    assert user is not None
    assert user.password_hash is not None
    assert user.password_hash != old_hash
    assert "$m=19456,t=2,p=1$" in user.password_hash
    # The upgraded hash still takes the same password.
    again = await client.post(
        "/api/v1/auth/login",
        json={"email": "olga@example.com", "password": "correct horse"},
    )
    assert again.status_code == 200


async def test_a_failed_hash_upgrade_still_signs_in_and_keeps_the_old_hash(
    client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    old_hash = await signup_with_legacy_hash(client, app, "pia@example.com")

    real_commit = AsyncSession.commit
    failed: list[bool] = []

    async def locked_once(self: AsyncSession) -> None:
        # The upgrade's commit fails; the session's refresh token is stored afterwards.
        if not failed:
            failed.append(True)
            raise OperationalError("COMMIT", {}, Exception("database is locked"))
        await real_commit(self)

    with monkeypatch.context() as patch:
        patch.setattr(AsyncSession, "commit", locked_once)
        login = await client.post(
            "/api/v1/auth/login", json={"email": "pia@example.com", "password": "correct horse"}
        )

    assert login.status_code == 200, login.text
    assert failed
    assert login.json()["user"]["email"] == "pia@example.com"
    async with app.state.runtime.sessions() as session:
        user = await session.scalar(select(User).where(User.email == "pia@example.com"))
    assert user is not None
    assert user.password_hash == old_hash


async def test_duplicate_email_is_409(client: httpx.AsyncClient) -> None:
    await signup(client, "erin@example.com")
    again = await client.post(
        "/api/v1/auth/register", json={"email": "ERIN@example.com", "password": "whatever123"}
    )
    assert again.status_code == 409
    assert "already exists" in again.json()["detail"]


async def test_wrong_password_and_unknown_email_are_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    await signup(client, "frank@example.com")
    wrong = await client.post(
        "/api/v1/auth/login", json={"email": "frank@example.com", "password": "nope-nope"}
    )
    unknown = await client.post(
        "/api/v1/auth/login", json={"email": "nobody@example.com", "password": "nope-nope"}
    )
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


async def test_register_validation_names_the_field(client: httpx.AsyncClient) -> None:
    bad = await client.post(
        "/api/v1/auth/register", json={"email": "not-an-email", "password": "x"}
    )
    assert bad.status_code == 422
    fields = {tuple(e["loc"]) for e in bad.json()["detail"]}
    assert ("body", "email") in fields
    assert ("body", "password") in fields


async def test_missing_forged_and_expired_tokens_are_401(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    assert (await client.get("/api/v1/tasks")).status_code == 401
    forged = jwt.encode({"sub": "x", "iss": "todo-cloud", "aud": "todo-cloud"}, "other-secret")
    r = await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401
    assert r.headers["WWW-Authenticate"] == "Bearer"
    r = await client.get("/api/v1/tasks", headers={"Authorization": "Bearer not.a.jwt"})
    assert r.status_code == 401
    tokens = app.state.runtime.tokens
    expired_issuer = dataclasses.replace(tokens, lifetime=timedelta(seconds=-1))
    me = await signup(client)
    user_id = (await client.get("/api/v1/users/me", headers=me)).json()["id"]
    expired, _ = expired_issuer.issue(user_id, 0)
    r = await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    assert "expired" in r.json()["detail"]


async def test_a_token_of_an_unknown_user_is_401_and_not_remembered(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    runtime = app.state.runtime
    ghost, _ = runtime.tokens.issue("no-such-user", 0)
    for _ in range(2):
        r = await client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {ghost}"})
        assert r.status_code == 401
        assert r.json()["detail"] == "token of an unknown user"
    assert runtime.users.get("no-such-user") is None


async def test_the_user_of_a_token_is_read_once_then_remembered(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    headers = await signup(client, "gina@example.com")
    user_queries: list[str] = []

    def count_user_queries(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if "FROM users" in statement:
            user_queries.append(statement)

    # Tokens are resolved through the read sessions.
    engine = app.state.runtime.database.read_engine.sync_engine
    event.listen(engine, "before_cursor_execute", count_user_queries)
    try:
        first = await client.get("/api/v1/users/me", headers=headers)
        for _ in range(3):
            assert (await client.get("/api/v1/tasks", headers=headers)).status_code == 200
        again = await client.get("/api/v1/users/me", headers=headers)
    finally:
        event.remove(engine, "before_cursor_execute", count_user_queries)

    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert first.json()["email"] == "gina@example.com"
    assert len(user_queries) == 1, user_queries


def test_a_verified_token_is_remembered_and_never_past_its_expiry(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The expiry is whole seconds, so a 1 s lifetime can be over before the second
    # look on a busy machine: 4 s leaves at least 3 for it.
    issuer = TokenIssuer("s" * 40, "todo-cloud", "todo-cloud", timedelta(seconds=4))
    token, _ = issuer.issue("user-1", 3)
    first = issuer.verify_local(token)
    assert (first.user_id, first.version) == ("user-1", 3)
    decodes: list[str] = []
    real_decode = jwt.decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decodes.append(args[0])
        return real_decode(*args, **kwargs)

    monkeypatch.setattr(jwt, "decode", counted)
    assert issuer.is_local(token)
    assert issuer.verify_local(token) == first
    assert decodes == [], "a token verified once is not decoded again"
    time.sleep(max(0.0, (first.expires_at - datetime.now(UTC)).total_seconds()) + 0.05)
    with pytest.raises(InvalidToken, match="expired"):
        issuer.verify_local(token)
    assert decodes == [token]


def test_only_the_exact_token_once_verified_skips_verification() -> None:
    issuer = TokenIssuer("s" * 40, "todo-cloud", "todo-cloud", timedelta(minutes=5))
    token, _ = issuer.issue("user-1", 1)
    issuer.verify_local(token)
    head, payload, signature = token.split(".")
    tampered = f"{head}.{payload}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}"
    with pytest.raises(InvalidToken):
        issuer.verify_local(tampered)
    other = dataclasses.replace(issuer, secret="o" * 40)
    with pytest.raises(InvalidToken):
        other.verify_local(token)
    # Another user's claims under the first token's signature.
    forged_payload = jwt.encode(
        {"sub": "user-2", "ver": 1, "iss": "todo-cloud", "aud": "todo-cloud", "exp": 2**40},
        "x" * 40,
    ).split(".")[1]
    with pytest.raises(InvalidToken):
        issuer.verify_local(f"{head}.{forged_payload}.{signature}")
