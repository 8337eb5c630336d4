"""Benchmark: the backend's CPU per request, for each kind of request, beside /healthz.

    python -m loadtests.cpu_per_request [--postgres-url URL] [--requests 1500]
    ./pants run loadtests:cpu-per-request -- --postgres-url "$TODO_TEST_POSTGRES_URL"

Throughput on a saturated machine is its cores divided by the CPU one request costs, so
this is the figure that decides the load tests' ceiling, and the one to watch when the
request path changes. Starts the embedded backend as its own process (on SQLite, or on a
fresh database of the PostgreSQL server `--postgres-url` names), seeds one account with
40 tasks, then sends each kind of request `--requests` times from `--concurrency`
connections and reads the server process's CPU time from /proc before and after. Prints
milliseconds of server CPU per request, the ratio to /healthz (the framework's floor: no
database, no authentication) and the rate reached (the client shares the machine).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from loadtests import targets
from loadtests.cpu import process_cpu_seconds
from todo.devstack.postgres import create_database, drop_database

API = "/api/v1"
SEED_TASKS = 40

Request = Callable[[httpx.AsyncClient, int], Awaitable[httpx.Response]]


@dataclass(frozen=True)
class Figure:
    name: str
    cpu_ms: float
    rate: float


async def _send(client: httpx.AsyncClient, count: int, concurrency: int, request: Request) -> None:
    numbers = iter(range(count))

    async def connection() -> None:
        for n in numbers:
            response = await request(client, n)
            if response.status_code >= 400:
                raise RuntimeError(
                    f"{response.request.method} {response.request.url.path} answered "
                    f"{response.status_code}: {response.text[:200]}"
                )

    await asyncio.gather(*(connection() for _ in range(concurrency)))


async def _requests(client: httpx.AsyncClient) -> dict[str, Request]:
    """Sign up, seed, and name each kind of request (the load tests' group names)."""
    email = f"bench-{uuid.uuid4().hex}@example.com"
    account = {"email": email, "password": "bench-pass-12345"}
    registered = await client.post(f"{API}/auth/register", json=account)
    registered.raise_for_status()
    client.headers["Authorization"] = f"Bearer {registered.json()['access_token']}"
    ids: list[str] = []
    for n in range(SEED_TASKS):
        created = await client.post(
            f"{API}/tasks",
            json={
                "title": f"seeded task {n} about groceries",
                "priority": ("low", "medium", "high")[n % 3],
                "tags": ["home", "errands"][: n % 3],
                "due_at": f"2031-01-{1 + n % 28:02d}T09:00:00Z",
            },
        )
        created.raise_for_status()
        ids.append(str(created.json()["id"]))

    def one_task(c: httpx.AsyncClient, n: int) -> Awaitable[httpx.Response]:
        return c.get(f"{API}/tasks/{ids[n % len(ids)]}")

    return {
        "/healthz": lambda c, n: c.get("/healthz"),
        "users:me": lambda c, n: c.get(f"{API}/users/me"),
        "tasks:get": one_task,
        "tasks:list (20 of 40)": lambda c, n: c.get(
            f"{API}/tasks", params={"status": "open", "sort": "due", "limit": 20}
        ),
        "tasks:search": lambda c, n: c.get(f"{API}/tasks", params={"q": "groceries"}),
        "notifications:list": lambda c, n: c.get(f"{API}/notifications"),
        "tasks:create": lambda c, n: c.post(
            f"{API}/tasks", json={"title": f"bench {n}", "tags": ["bench"]}
        ),
    }


async def measure(
    base_url: str, pid: int, count: int, concurrency: int, only: Sequence[str] = ()
) -> list[Figure]:
    figures: list[Figure] = []
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for name, request in (await _requests(client)).items():
            if only and name not in only:
                continue
            await _send(client, max(50, count // 10), concurrency, request)  # warm
            cpu_before, started = process_cpu_seconds(pid), time.perf_counter()
            await _send(client, count, concurrency, request)
            cpu_after, elapsed = process_cpu_seconds(pid), time.perf_counter() - started
            if cpu_before is None or cpu_after is None:
                raise RuntimeError(f"cannot read the CPU time of process {pid} from /proc")
            figures.append(Figure(name, 1000 * (cpu_after - cpu_before) / count, count / elapsed))
    return figures


def table(figures: Sequence[Figure]) -> str:
    floor = next((f.cpu_ms for f in figures if f.name == "/healthz"), None)
    lines = [
        "| request | server CPU ms/request | x /healthz | req/s reached |",
        "| --- | ---: | ---: | ---: |",
    ]
    for f in figures:
        ratio = f"{f.cpu_ms / floor:.1f}" if floor else "-"
        lines.append(f"| {f.name} | {f.cpu_ms:.2f} | {ratio} | {f.rate:.0f} |")
    return "\n".join(lines)


async def run(args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="todo-cpu-bench-"))
    database_url = await create_database(args.postgres_url) if args.postgres_url else None
    try:
        async with targets.embedded(workdir, workdir, database_url) as target:
            pid = target.backend.pid if target.backend is not None else None
            if pid is None:
                raise RuntimeError("the embedded target started no backend process")
            figures = await measure(
                target.base_url, pid, args.requests, args.concurrency, args.only
            )
        print(
            f"{target.description}; {args.requests} requests each, {args.concurrency} "
            f"connections, {os.cpu_count()} cores shared with the client\n"
        )
        print(table(figures))
    finally:
        if database_url:
            await drop_database(args.postgres_url, database_url)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TODO_TEST_POSTGRES_URL", ""),
        help="admin URL of a PostgreSQL server (default TODO_TEST_POSTGRES_URL; none: SQLite)",
    )
    parser.add_argument("--sqlite", action="store_true", help="SQLite even if a URL is set")
    parser.add_argument("--requests", type=int, default=1500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--only", nargs="*", default=(), help="these request names only")
    args = parser.parse_args(argv)
    if args.sqlite:
        args.postgres_url = ""
    asyncio.run(run(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
