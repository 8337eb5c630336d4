"""Benchmark: the event loop of the embedded backend while completions of old series pour in.

    ./pants run loadtests/bench_completion_storm.py -- --tasks 40 --years-back 1000

Starts the backend in process on embedded defaults (SQLite in a temporary directory, the
in-memory bus, the worker's handlers on the same event loop) and prepares, through the REST
API, `--tasks` daily series that started `--years-back` years ago and are due today (each
created on its start date, completed once, its second occurrence moved to today). Then it
completes them all, `--concurrency` at a time, and waits until every next occurrence
exists (polling the count of open tasks, a query that costs little). A ticker on the same
loop sleeps 1 ms at a time and records how late it wakes: the longest such stall is the
longest time the loop could not serve anything else.

Uses nothing but the HTTP API and the app factory, so the same file runs against an earlier
commit to measure the engine it had (docs/performance.md says how).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings

API = "/api/v1/tasks"
TICK_S = 0.001


class LoopLag:
    """How late a 1 ms sleep on the loop wakes, over and over, until stopped."""

    def __init__(self) -> None:
        self.lags_ms: list[float] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        while not self._stop.is_set():
            before = time.perf_counter()
            await asyncio.sleep(TICK_S)
            self.lags_ms.append((time.perf_counter() - before - TICK_S) * 1000)

    def __enter__(self) -> LoopLag:
        self._task = asyncio.get_running_loop().create_task(self._tick())
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()

    def summary(self) -> str:
        ordered = sorted(self.lags_ms)
        p99 = ordered[min(len(ordered) - 1, round(0.99 * len(ordered)))]
        return (
            f"loop stall: longest {ordered[-1]:.1f} ms, p99 {p99:.2f} ms, "
            f"median {statistics.median(ordered):.2f} ms over {len(ordered)} ticks"
        )


async def open_count(client: httpx.AsyncClient, headers: dict[str, str]) -> int:
    page = await client.get(API, headers=headers, params={"status": "open", "limit": 1})
    page.raise_for_status()
    return int(page.json()["count"])


async def open_tasks(client: httpx.AsyncClient, headers: dict[str, str]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        page = await client.get(
            API, headers=headers, params={"status": "open", "limit": 200, "offset": len(found)}
        )
        page.raise_for_status()
        data = page.json()["data"]
        found.extend(data)
        if len(data) < 200:
            return found


async def until_open(client: httpx.AsyncClient, headers: dict[str, str], count: int) -> None:
    """Wait until `count` tasks are open (a cheap count query, polled)."""
    deadline = time.monotonic() + 600
    while await open_count(client, headers) != count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{count} open tasks expected within 600 s")
        await asyncio.sleep(0.01)


async def prepare(
    client: httpx.AsyncClient, headers: dict[str, str], tasks: int, start: date, due: datetime
) -> list[str]:
    """`tasks` daily series that began on `start`, each with its open occurrence (the
    second) moved to `due`: what a series looks like after centuries of completions."""
    for _ in range(tasks):
        first = await client.post(
            API,
            headers=headers,
            json={
                "title": f"water the plants since {start.year}",
                "due_at": datetime(start.year, start.month, start.day, 9, tzinfo=UTC).isoformat(),
                "recurrence": {"frequency": "daily"},
            },
        )
        first.raise_for_status()
        done = await client.post(f"{API}/{first.json()['id']}/complete", headers=headers)
        done.raise_for_status()
    await until_open(client, headers, tasks)
    seconds = await open_tasks(client, headers)
    for task in seconds:
        moved = await client.patch(
            f"{API}/{task['id']}", headers=headers, json={"due_at": due.isoformat()}
        )
        moved.raise_for_status()
    return [str(task["id"]) for task in seconds]


async def storm(args: argparse.Namespace) -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="todo-storm-"))
    settings = BackendSettings(
        database_url=f"sqlite+aiosqlite:///{data_dir / 'todo.db'}",
        data_dir=data_dir,
        jwt_secret="storm-benchmark-secret-" + "x" * 32,
        outbox_poll_seconds=0.05,
        # Every request and step logs at INFO: keep the figures readable.
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            registered = await client.post(
                "/api/v1/auth/register",
                json={
                    "email": f"storm-{uuid.uuid4().hex[:8]}@example.com",
                    "password": "storm pass 1",
                },
            )
            registered.raise_for_status()
            headers = {"Authorization": f"Bearer {registered.json()['access_token']}"}
            today = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0)
            start = date(today.year - args.years_back, 3, 10)
            print(
                f"preparing {args.tasks} daily series started {start.isoformat()} "
                f"({args.years_back} years back), due today",
                flush=True,
            )
            ids = await prepare(client, headers, args.tasks, start, today)
            gate = asyncio.Semaphore(args.concurrency)

            async def complete(task_id: str) -> None:
                async with gate:
                    r = await client.post(f"{API}/{task_id}/complete", headers=headers)
                    r.raise_for_status()

            with LoopLag() as lag:
                began = time.perf_counter()
                await asyncio.gather(*(complete(task_id) for task_id in ids))
                completed = time.perf_counter() - began
                # Every second occurrence is completed now: each open task is a third one.
                await until_open(client, headers, len(ids))
                rolled = time.perf_counter() - began
            thirds = await open_tasks(client, headers)
            assert {t["occurrence_number"] for t in thirds} == {3}
            assert all(t["due_at"].startswith(f"{today.year:04d}-") for t in thirds)
            print(
                f"{len(ids)} completions ({args.concurrency} at a time) answered in "
                f"{completed:.2f} s; every next occurrence created {rolled:.2f} s after the "
                f"first completion ({rolled / len(ids) * 1000:.1f} ms each)"
            )
            print(lag.summary())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=40)
    parser.add_argument("--years-back", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=8)
    asyncio.run(storm(parser.parse_args()))


if __name__ == "__main__":
    main()
