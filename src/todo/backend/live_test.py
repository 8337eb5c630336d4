"""Live updates over a real HTTP server: a browser's stream sees its user's changes only."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from todo.backend.app import create_app
from todo.backend.conftest import signup
from todo.backend.runtime import Runtime
from todo.backend.settings import BackendSettings
from todo.devstack.serving import serve

_APPS: dict[str, FastAPI] = {}


@pytest.fixture
async def base_url(settings: BackendSettings) -> AsyncIterator[str]:
    app = create_app(settings)
    async with serve(app) as url:
        _APPS[url] = app
        yield url
        del _APPS[url]


def _runtime_of(base_url: str) -> Runtime:
    runtime: Runtime = _APPS[base_url].state.runtime
    return runtime


async def read_events(response: httpx.Response, out: asyncio.Queue[tuple[str, str]]) -> None:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line.removeprefix("event:").strip()
        elif line.startswith("data:"):
            await out.put((event, line.removeprefix("data:").strip()))


async def test_stream_pushes_refreshes_to_the_owner_only(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        alice = await signup(client, "alice@example.com")
        bob = await signup(client, "bob@example.com")
        alice_events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        bob_events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        async with (
            client.stream("GET", "/api/v1/events/stream", headers=alice) as alice_stream,
            client.stream("GET", "/api/v1/events/stream", headers=bob) as bob_stream,
        ):
            assert alice_stream.headers["content-type"].startswith("text/event-stream")
            readers = [
                asyncio.create_task(read_events(alice_stream, alice_events)),
                asyncio.create_task(read_events(bob_stream, bob_events)),
            ]
            assert (await asyncio.wait_for(alice_events.get(), 5))[0] == "ready"
            assert (await asyncio.wait_for(bob_events.get(), 5))[0] == "ready"
            created = await client.post("/api/v1/tasks", headers=alice, json={"title": "Live"})
            kind, data = await asyncio.wait_for(alice_events.get(), 5)
            assert kind == "refresh"
            event = json.loads(data)
            assert event["type"] == "todo.client.refresh.v1"
            assert event["data"]["task_id"] == created.json()["id"]
            assert event["data"]["reason"] == "todo.task.created.v1"
            await asyncio.sleep(0.5)
            assert bob_events.empty()
            for reader in readers:
                reader.cancel()


async def test_stream_requires_a_token(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url) as client:
        r = await client.get("/api/v1/events/stream")
        assert r.status_code == 401


async def events_until_closed(response: httpx.Response) -> list[str]:
    kinds = []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            kinds.append(line.removeprefix("event:").strip())
    return kinds


async def test_a_stream_ends_when_its_token_expires(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        headers = await signup(client, "exp@example.com")
        me = (await client.get("/api/v1/users/me", headers=headers)).json()
        # A token of the same user that lives two seconds.
        runtime = _runtime_of(base_url)
        short = dataclasses.replace(runtime.tokens, lifetime=timedelta(seconds=2))
        token, _ = short.issue(me["id"], 0)
        async with client.stream(
            "GET", "/api/v1/events/stream", headers={"Authorization": f"Bearer {token}"}
        ) as stream:
            kinds = await asyncio.wait_for(events_until_closed(stream), 8)
    assert kinds == ["ready", "expired"]


async def test_a_stream_ends_at_once_when_its_user_signs_out(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        headers = await signup(client, "out@example.com")
        async with client.stream("GET", "/api/v1/events/stream", headers=headers) as stream:
            reader = asyncio.create_task(events_until_closed(stream))
            await asyncio.sleep(0.3)
            assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204
            kinds = await asyncio.wait_for(reader, 3)
        assert kinds == ["ready", "expired"]
        again = await client.get("/api/v1/events/stream", headers=headers)
        assert again.status_code == 401


async def test_marking_notifications_read_refreshes_the_users_other_tabs(base_url: str) -> None:
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        alice = await signup(client, "alice@example.com")
        events: asyncio.Queue[tuple[str, str]] = asyncio.Queue()
        async with client.stream("GET", "/api/v1/events/stream", headers=alice) as stream:
            reader = asyncio.create_task(read_events(stream, events))
            assert (await asyncio.wait_for(events.get(), 5))[0] == "ready"
            fire_at = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
            await client.post(
                "/api/v1/tasks",
                headers=alice,
                json={"title": "Water", "reminders": [{"kind": "absolute", "at": fire_at}]},
            )

            async def next_refresh(reason: str) -> dict[str, object]:
                while True:
                    kind, data = await asyncio.wait_for(events.get(), 10)
                    change: dict[str, object] = json.loads(data)["data"]
                    if kind == "refresh" and change["reason"] == reason:
                        return change

            await next_refresh("reminder")
            (note,) = (await client.get("/api/v1/notifications", headers=alice)).json()["data"]
            await client.post(f"/api/v1/notifications/{note['id']}/read", headers=alice)
            change = await next_refresh("read")
            assert change["kind"] == "notification"
            assert change["task_id"] == note["task_id"]
            # Nothing left unread: read-all changes nothing and tells nobody.
            assert (await client.post("/api/v1/notifications/read-all", headers=alice)).json() == {
                "marked": 0
            }
            await asyncio.sleep(0.5)
            assert all(json.loads(d)["data"]["reason"] != "read" for _, d in drain(events))
            reader.cancel()


def drain(queue: asyncio.Queue[tuple[str, str]]) -> list[tuple[str, str]]:
    items = []
    while not queue.empty():
        items.append(queue.get_nowait())
    return items
