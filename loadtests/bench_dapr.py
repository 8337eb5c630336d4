"""Benchmark: the Dapr building blocks under the devstack.

    ./pants run loadtests:bench-dapr -- --reminders 60 --operations 500

Starts the devstack (PostgreSQL, Kafka, Dapr scheduler, backend and worker with their own
daprd) and prints, beside the targets:
- reminder lateness: from a reminder's due time to its notification being committed, over
  `--reminders` reminders due within a few seconds of each other (Jobs API -> worker ->
  service invocation -> backend); the minimum shows none fired early;
- publish through the sidecar: `POST /v1.0/publish` to Kafka, one at a time;
- state store: save and get on `state.postgresql` v2 through the sidecar.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from todo.devstack.stack import DevStack
from todo.domain.events import RefreshData, refresh_event


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def row(name: str, values: list[float], target: str) -> str:
    p50, p95, p99 = (percentile(values, p) for p in (50, 95, 99))
    return f"{name:<26} {p50:8.1f} {p95:8.1f} {p99:8.1f} {min(values):8.1f}   {target}"


async def reminder_lateness(stack: DevStack, count: int) -> list[float]:
    assert stack.backend is not None
    async with httpx.AsyncClient(base_url=stack.backend.url, timeout=30) as client:
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "bench-pw-1"},
        )
        me = {"Authorization": f"Bearer {r.json()['access_token']}"}
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
        for i in range(count):
            at = start + timedelta(milliseconds=100 * i)
            r = await client.post(
                "/api/v1/tasks",
                headers=me,
                json={"title": f"r{i}", "reminders": [{"kind": "absolute", "at": at.isoformat()}]},
            )
            r.raise_for_status()
        deadline = time.monotonic() + 60 + count * 0.1
        while time.monotonic() < deadline:
            data = (
                await client.get("/api/v1/notifications", headers=me, params={"limit": 200})
            ).json()["data"]
            if len(data) >= count:
                break
            await asyncio.sleep(0.25)
        return [
            (
                datetime.fromisoformat(n["created_at"]) - datetime.fromisoformat(n["fire_at"])
            ).total_seconds()
            * 1000
            for n in data
        ]


async def sidecar_operations(stack: DevStack, count: int) -> dict[str, list[float]]:
    """Publishing as the backend does; the state store as the worker (its only user)."""
    out: dict[str, list[float]] = {"publish": [], "state save": [], "state get": []}
    backend, worker = stack.backend_sidecar, stack.worker_sidecar
    async with (
        httpx.AsyncClient(base_url=backend.http_url, headers=backend.api_headers) as client,
        httpx.AsyncClient(base_url=worker.http_url, headers=worker.api_headers) as state,
    ):
        for i in range(count):
            event = refresh_event(RefreshData(owner_id="bench", kind="task", reason=f"b{i}"))
            started = time.perf_counter()
            r = await client.post(
                "/v1.0/publish/pubsub/task-updates",
                content=event.model_dump_json(),
                headers={"Content-Type": "application/cloudevents+json"},
            )
            out["publish"].append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
            key = f"bench-{i}"
            started = time.perf_counter()
            r = await state.post("/v1.0/state/statestore", json=[{"key": key, "value": i}])
            out["state save"].append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
            started = time.perf_counter()
            r = await state.get(f"/v1.0/state/statestore/{key}")
            out["state get"].append((time.perf_counter() - started) * 1000)
            r.raise_for_status()
    return out


async def run(args: argparse.Namespace) -> None:
    work_dir = Path(tempfile.mkdtemp(prefix="todo-bench-dapr-"))
    async with DevStack(work_dir) as stack:
        late = await reminder_lateness(stack, args.reminders)
        ops = await sidecar_operations(stack, args.operations)
    print(f"\nDapr 1.16.0 devstack, {datetime.now(UTC):%Y-%m-%d}")
    print(f"{'':<26} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'min ms':>8}")
    print(
        row(f"reminder lateness (n={len(late)})", late, "target p99 < 250 ms, min >= 0; plan 10 s")
    )
    print(row(f"publish via sidecar (n={args.operations})", ops["publish"], "target p99 < 100 ms"))
    print(row("state save (PostgreSQL v2)", ops["state save"], "target p95 < 10 ms; plan 200 ms"))
    print(row("state get (PostgreSQL v2)", ops["state get"], "target p95 < 10 ms; plan 200 ms"))
    if len(late) < args.reminders:
        raise SystemExit(f"only {len(late)} of {args.reminders} reminders fired")


def main() -> None:
    parser = argparse.ArgumentParser(description="Dapr building blocks on the devstack")
    parser.add_argument("--reminders", type=int, default=60)
    parser.add_argument("--operations", type=int, default=500)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
