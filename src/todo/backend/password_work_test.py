"""Argon2's work never holds a connection that other writes wait for.

On SQLite the API's writes share one connection: a sign-in that held it through its hash
(tens of milliseconds, more on a busy machine) stopped every other user's writes for as
long. Each flow that hashes is held here in the middle of its hash while another user
creates a task, which must go through; and what a verified password allows is refused
when the password changed while it was being verified.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlmodel import col, func, select

from todo.backend import auth
from todo.backend.models import RefreshToken, User

PASSWORD = "correct horse"
NEW_PASSWORD = "plum orbit canvas 91"
# Generous: with the defect the create waits for the pool's timeout (60 s); without it
# the create takes milliseconds.
WRITE_WAIT_S = 15.0


class HeldHasher:
    """The real hasher, except that its next `holds` calls wait in their worker thread
    until released: a hash in progress, for as long as a test needs."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.holds = 0
        self.entered = threading.Event()
        self.released = threading.Event()
        self._lock = threading.Lock()

    def hold_next(self, calls: int = 1) -> None:
        self.holds = calls

    def _maybe_hold(self) -> None:
        with self._lock:
            hold = self.holds > 0
            self.holds -= 1 if hold else 0
        if hold:
            self.entered.set()
            if not self.released.wait(60):
                raise TimeoutError("the test never released the hash")

    def hash(self, password: str) -> str:
        self._maybe_hold()
        return str(self.real.hash(password))

    def verify(self, stored: str, password: str) -> bool:
        self._maybe_hold()
        return bool(self.real.verify(stored, password))

    def check_needs_rehash(self, stored: str) -> bool:
        return bool(self.real.check_needs_rehash(stored))

    async def wait_entered(self) -> None:
        assert await asyncio.to_thread(self.entered.wait, 30), "the flow never hashed"


@pytest.fixture
def hasher(monkeypatch: pytest.MonkeyPatch) -> Iterator[HeldHasher]:
    held = HeldHasher(auth._hasher)
    monkeypatch.setattr(auth, "_hasher", held)
    try:
        yield held
    finally:
        held.released.set()


Flow = Callable[[httpx.AsyncClient, dict[str, str]], Coroutine[Any, Any, httpx.Response]]


async def _register(client: httpx.AsyncClient, _alice: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register", json={"email": "new@example.com", "password": PASSWORD}
    )


async def _login(client: httpx.AsyncClient, _alice: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": PASSWORD}
    )


async def _change_password(client: httpx.AsyncClient, alice: dict[str, str]) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/password",
        headers=alice,
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )


async def _delete_account(client: httpx.AsyncClient, alice: dict[str, str]) -> httpx.Response:
    return await client.request(
        "DELETE", "/api/v1/users/me", headers=alice, json={"password": PASSWORD}
    )


@pytest.mark.parametrize(
    ("flow", "expected"),
    [(_register, 201), (_login, 200), (_change_password, 200), (_delete_account, 204)],
    ids=["register", "login", "change-password", "delete-account"],
)
async def test_other_writes_go_through_while_a_password_is_hashed(
    client: httpx.AsyncClient,
    hasher: HeldHasher,
    alice: dict[str, str],
    bob: dict[str, str],
    flow: Flow,
    expected: int,
) -> None:
    hasher.hold_next()
    flowing = asyncio.create_task(flow(client, alice))
    await hasher.wait_entered()

    created = await asyncio.wait_for(
        client.post("/api/v1/tasks", headers=bob, json={"title": "while alice hashes"}),
        WRITE_WAIT_S,
    )

    assert created.status_code == 201, created.text
    assert not flowing.done()
    hasher.released.set()
    answer = await flowing
    assert answer.status_code == expected, answer.text


async def _live_refresh_tokens(app: FastAPI, email: str) -> int:
    async with app.state.runtime.reads() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(RefreshToken)
            .join(User, col(User.id) == col(RefreshToken.user_id))
            .where(col(User.email) == email, col(RefreshToken.revoked_at).is_(None))
        )
    return int(count or 0)


async def _while_the_password_changes(
    client: httpx.AsyncClient, hasher: HeldHasher, alice: dict[str, str], flow: Flow
) -> httpx.Response:
    """`flow`'s answer when alice's password changes while it verifies the old one."""
    hasher.hold_next()
    flowing = asyncio.create_task(flow(client, alice))
    await hasher.wait_entered()
    changed = await asyncio.wait_for(_change_password(client, alice), WRITE_WAIT_S)
    assert changed.status_code == 200, changed.text
    hasher.released.set()
    return await flowing


async def test_a_sign_in_verified_against_a_password_changed_meanwhile_is_refused(
    client: httpx.AsyncClient, app: FastAPI, hasher: HeldHasher, alice: dict[str, str]
) -> None:
    late = await _while_the_password_changes(client, hasher, alice, _login)

    # The old password was right when it was typed, not when the sign-in would begin:
    # no session of it, only the one the password change began.
    assert late.status_code == 401, late.text
    assert await _live_refresh_tokens(app, "alice@example.com") == 1
    renewed = await client.post(
        "/api/v1/auth/login", json={"email": "alice@example.com", "password": NEW_PASSWORD}
    )
    assert renewed.status_code == 200


async def test_an_account_deletion_confirmed_with_a_password_changed_meanwhile_is_refused(
    client: httpx.AsyncClient, app: FastAPI, hasher: HeldHasher, alice: dict[str, str]
) -> None:
    # Deleting with the old password while another device changes it: the password
    # confirmed is no longer the account's, so the account stays.
    deleting = await _while_the_password_changes(client, hasher, alice, _delete_account)

    assert deleting.status_code == 403
    async with app.state.runtime.reads() as session:
        assert await session.scalar(select(User.id).where(col(User.email) == "alice@example.com"))
