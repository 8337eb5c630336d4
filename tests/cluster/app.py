"""The product's public API through the ingress on 127.0.0.1: accounts, tasks, reminders,
the live stream."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

API = "/api/v1"


@dataclass(frozen=True)
class Ingress:
    base_url: str  # http://127.0.0.1:<NodePort>
    host: str  # the Ingress rule's host

    def client(self, timeout: float = 15.0) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.base_url, headers={"Host": self.host}, timeout=timeout
        )

    def sync_client(self, timeout: float = 15.0) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, headers={"Host": self.host}, timeout=timeout)


SIGN_UP_PATIENCE = 180.0  # seconds: more than the backend's per-minute sign-up window


async def signup(client: httpx.AsyncClient) -> dict[str, str]:
    """A new account. Every request of the suite comes from one address, which the backend
    lets sign up only a few times a minute (TODO_SIGN_UP_RATE): a refused sign-up waits the
    Retry-After the 429 names, as a client should, and tries again."""
    deadline = asyncio.get_running_loop().time() + SIGN_UP_PATIENCE
    while True:
        response = await client.post(
            f"{API}/auth/register",
            json={"email": f"c-{uuid.uuid4().hex[:12]}@example.com", "password": "cluster-test-pw"},
        )
        if response.status_code != 429:
            break
        retry_after = float(response.headers["Retry-After"])
        if asyncio.get_running_loop().time() + retry_after > deadline:
            break
        await asyncio.sleep(retry_after)
    assert response.status_code == 201, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def soon(seconds: float) -> datetime:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).replace(microsecond=0)


# The most notifications one request lists (the API's own bound): a check that all of a
# run's reminders fired must see them all, and the default page is 50.
NOTIFICATIONS_PAGE = 200


async def notifications(client: httpx.AsyncClient, who: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(
        f"{API}/notifications", headers=who, params={"limit": NOTIFICATIONS_PAGE}
    )
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


async def wait_for(what: str, probe: Any, *, timeout: float, interval: float = 0.25) -> Any:
    """Poll the coroutine function ``probe`` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: Any = None
    while True:
        last = await probe()
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not within {timeout:.0f}s (last: {last!r})")
        await asyncio.sleep(interval)


async def wait_for_notifications(
    client: httpx.AsyncClient, who: dict[str, str], count: int, timeout: float = 60
) -> list[dict[str, Any]]:
    async def enough() -> list[dict[str, Any]] | None:
        found = await notifications(client, who)
        return found if len(found) >= count else None

    found: list[dict[str, Any]] = await wait_for(f"{count} notifications", enough, timeout=timeout)
    return found


def lateness(note: dict[str, Any]) -> float:
    created = datetime.fromisoformat(note["created_at"])
    return (created - datetime.fromisoformat(note["fire_at"])).total_seconds()


async def open_tasks(client: httpx.AsyncClient, who: dict[str, str]) -> list[dict[str, Any]]:
    response = await client.get(f"{API}/tasks", headers=who, params={"status": "open"})
    assert response.status_code == 200, response.text
    data: list[dict[str, Any]] = response.json()["data"]
    return data


@asynccontextmanager
async def live_events(
    client: httpx.AsyncClient, who: dict[str, str]
) -> AsyncIterator[asyncio.Queue[dict[str, Any]]]:
    """The SSE stream of ``who``: a queue of its events ({"event", "data"}), once `ready`."""
    queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    ready = asyncio.Event()

    async def read() -> None:
        async with client.stream(
            "GET",
            f"{API}/events/stream",
            headers={**who, "Accept": "text/event-stream"},
            timeout=None,
        ) as response:
            assert response.status_code == 200, await response.aread()
            event: dict[str, Any] = {}
            async for line in response.aiter_lines():
                if line.startswith("event:"):
                    event["event"] = line.split(":", 1)[1].strip()
                elif line.startswith("data:"):
                    event["data"] = json.loads(line.split(":", 1)[1].strip())
                elif not line and event:
                    if event.get("event") == "ready":
                        ready.set()
                    else:
                        await queue.put(event)
                    event = {}

    reader = asyncio.create_task(read())
    try:
        await asyncio.wait_for(ready.wait(), timeout=30)
        yield queue
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
            await reader
