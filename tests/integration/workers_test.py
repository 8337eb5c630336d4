"""Several backend processes on one port (TODO_WORKERS), the Kafka shape on PostgreSQL:
both serve, one relay publishes, and every live stream, whichever process holds it,
hears every change."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx

from todo.backend.conftest import postgres_admin_url
from todo.devstack import shapes

API = "/api/v1"
MAX_STREAMS = 40


def serving_children(pid: int) -> list[int]:
    """The server processes the supervisor `pid` started (not multiprocessing's tracker)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == pid and b"spawn_main" in cmdline:
            found.append(int(stat.parent.name))
    return found


def connections_held(pid: int, port: int) -> int:
    """Established TCP connections to `port` whose socket process `pid` holds."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    held = 0
    for table in ("tcp", "tcp6"):
        for line in Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            # 01: ESTABLISHED
            if local_port == port and fields[3] == "01" and fields[9] in inodes:
                held += 1
    return held


async def refreshes(url: str, headers: dict[str, str], ready: asyncio.Event) -> list[str]:
    """The task ids of the refresh events one stream (its own connection) hears."""
    seen: list[str] = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=30) as client,
        client.stream("GET", f"{API}/events/stream", headers=headers) as stream,
    ):
        async for line in stream.aiter_lines():
            if line.startswith("event:") and "ready" in line:
                ready.set()
            if line.startswith("data:") and "task_id" in line:
                seen.append(json.loads(line.removeprefix("data:"))["data"]["task_id"])
                return seen
    return seen


async def test_two_processes_serve_one_port_and_every_stream_hears_every_change(
    tmp_path: Path,
) -> None:
    admin = postgres_admin_url()
    assert admin is not None
    async with shapes.kafka(
        tmp_path,
        postgres_admin_url=admin,
        backend_overrides={"workers": 2, "live_streams_per_user": MAX_STREAMS},
    ) as running:
        assert running.backend.pid is not None
        processes = serving_children(running.backend.pid)
        assert len(processes) == 2
        port = int(running.base_url.rsplit(":", 1)[1])
        async with httpx.AsyncClient(base_url=running.base_url, timeout=30) as client:
            r = await client.post(
                f"{API}/auth/register",
                json={
                    "email": f"w-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "workers-test-Passphrase-7",
                },
            )
            assert r.status_code == 201, r.text
            headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
            # A token signed by one process is good in the other (one key).
            for _ in range(8):
                assert (await client.get(f"{API}/users/me", headers=headers)).status_code == 200
            # Streams are opened until each process holds at least one (the kernel hands a
            # connection to whichever process accepts first).
            listeners: list[asyncio.Task[list[str]]] = []
            while len(listeners) < MAX_STREAMS:
                ready = asyncio.Event()
                listeners.append(asyncio.create_task(refreshes(running.base_url, headers, ready)))
                await asyncio.wait_for(ready.wait(), 30)
                if all(connections_held(pid, port) > 0 for pid in processes):
                    break
            assert all(connections_held(pid, port) > 0 for pid in processes)
            created = await client.post(f"{API}/tasks", headers=headers, json={"title": "Once"})
            assert created.status_code == 201, created.text
            heard = await asyncio.wait_for(asyncio.gather(*listeners), 30)
    assert heard == [[created.json()["id"]]] * len(listeners)
