"""Benchmark: the project's HTTP adapters (httpx on daprd's HTTP API) against the Dapr
Python SDK (`dapr`, gRPC, `dapr.aio`) for each building block the services use, on the
devstack's real sidecars.

    ./pants run loadtests:bench-dapr-clients -- --operations 300 --concurrency 16

For each building block and client: latency one call at a time (p50, p95), throughput with
`--concurrency` calls in flight, and this process's CPU per call (what the service's event
loop pays). The building blocks: publishing (pub/sub), the state store (save, get), the Jobs
API (schedule, get, delete) and service invocation (worker -> backend's internal API).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from dapr.aio.clients import DaprClient
from dapr.clients.grpc._jobs import ConstantFailurePolicy, Job
from google.protobuf.any_pb2 import Any as AnyMessage  # pants: no-infer-dep
from google.protobuf.json_format import ParseDict  # pants: no-infer-dep
from google.protobuf.struct_pb2 import Value  # pants: no-infer-dep

from todo.devstack.stack import BACKEND_APP_ID, DevStack
from todo.domain.events import RefreshData, refresh_event
from todo.shared.dapr import DaprEventPublisher, JobFailurePolicy, SidecarGrpc, sidecar_client
from todo.worker.gateway_http import HttpTaskGateway

Operation = Callable[[int], Awaitable[object]]
FAR = datetime.now(UTC).replace(microsecond=0) + timedelta(days=365)
POLICY = JobFailurePolicy(3, 1200)
BATCH = 50  # events in one outbox batch


@dataclass
class Figures:
    p50_ms: float
    p95_ms: float
    per_second: float
    cpu_ms: float


async def measure(operation: Operation, count: int, concurrency: int) -> Figures:
    for i in range(min(10, count)):  # warm connections and caches
        await operation(10_000_000 + i)
    latencies = []
    cpu = time.process_time()
    for i in range(count):
        started = time.perf_counter()
        await operation(i)
        latencies.append((time.perf_counter() - started) * 1000)
    cpu_ms = (time.process_time() - cpu) * 1000 / count
    queue = iter(range(count, 2 * count))

    async def lane() -> None:
        for i in queue:
            await operation(i)

    started = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    per_second = count / (time.perf_counter() - started)
    latencies.sort()
    return Figures(
        statistics.median(latencies), latencies[int(0.95 * (count - 1))], per_second, cpu_ms
    )


def http_operations(
    backend: httpx.AsyncClient,
    worker: httpx.AsyncClient,
    invoke: httpx.AsyncClient,
    task_id: str,
) -> dict[str, Operation]:
    """Each building block as the HTTP API takes it (the adapters' requests before the SDK:
    publishing and invocation still are)."""
    publisher = DaprEventPublisher(backend)
    tasks = HttpTaskGateway(invoke)
    event = refresh_event(RefreshData(owner_id="bench", kind="task", reason="bench"))
    batch = [("task-updates", event)] * BATCH
    due = FAR.isoformat().replace("+00:00", "Z")
    policy = {"constant": {"interval": "3s", "maxRetries": POLICY.max_retries}}

    async def ok(response: Awaitable[httpx.Response]) -> None:
        (await response).raise_for_status()

    return {
        "publish": lambda i: publisher.publish("task-updates", event),
        f"publish {BATCH}": lambda i: publisher.publish_batch(batch),
        "state save": lambda i: ok(
            worker.post(
                "/v1.0/state/statestore",
                json=[
                    {
                        "key": f"http|{i}",
                        "value": {"at": "now"},
                        "metadata": {"ttlInSeconds": "604800"},
                    }
                ],
            )
        ),
        "state get": lambda i: ok(worker.get(f"/v1.0/state/statestore/http|{i}")),
        "job schedule": lambda i: ok(
            worker.post(
                f"/v1.0-alpha1/jobs/http-{i}",
                json={"dueTime": due, "data": {"n": i}, "overwrite": True, "failurePolicy": policy},
            )
        ),
        "job get": lambda i: ok(worker.get(f"/v1.0-alpha1/jobs/http-{i}")),
        "job delete": lambda i: ok(worker.delete(f"/v1.0-alpha1/jobs/http-{i}")),
        "invoke": lambda i: tasks.get_task(task_id),
    }


def sdk_operations(backend: DaprClient, worker: DaprClient, task_id: str) -> dict[str, Operation]:
    """Each building block through the SDK's asyncio client (gRPC)."""
    event = refresh_event(RefreshData(owner_id="bench", kind="task", reason="bench"))
    body = event.model_dump_json()
    due = FAR.isoformat().replace("+00:00", "Z")
    policy = ConstantFailurePolicy(max_retries=POLICY.max_retries, interval_seconds=3)

    async def schedule(i: int) -> None:
        data = AnyMessage()
        data.Pack(ParseDict({"n": i}, Value()))
        job = Job(name=f"sdk-{i}", due_time=due, data=data, failure_policy=policy)
        await worker.schedule_job_alpha1(job, overwrite=True)

    async def save(i: int) -> None:
        await worker.save_state(
            "statestore",
            f"sdk|{i}",
            json.dumps({"at": "now"}),
            state_metadata={"ttlInSeconds": "604800"},
        )

    async def publish(i: int) -> None:
        await backend.publish_event(
            "pubsub",
            "task-updates",
            body,
            data_content_type="application/cloudevents+json",
            publish_metadata={"partitionKey": event.partitionkey},
        )

    async def publish_batch(i: int) -> None:
        # dapr.aio has no bulk publish: one call after the other keeps each key's order.
        for _ in range(BATCH):
            await publish(i)

    operations: dict[str, Operation] = {
        "publish": publish,
        f"publish {BATCH}": publish_batch,
        "state save": save,
        "state get": lambda i: worker.get_state("statestore", f"sdk|{i}"),
        "job schedule": schedule,
        "job get": lambda i: worker.get_job_alpha1(f"sdk-{i}"),
        "job delete": lambda i: worker.delete_job_alpha1(f"sdk-{i}"),
        "invoke": lambda i: worker.invoke_method(
            BACKEND_APP_ID, f"internal/v1/tasks/{task_id}", b"", http_verb="GET"
        ),
    }
    return operations


async def a_task(stack: DevStack) -> str:
    assert stack.backend is not None
    async with httpx.AsyncClient(base_url=stack.backend.url, timeout=30) as client:
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": f"bench-{uuid.uuid4().hex[:8]}@example.com", "password": "bench-pw-1"},
        )
        me = {"Authorization": f"Bearer {r.json()['access_token']}"}
        r = await client.post("/api/v1/tasks", headers=me, json={"title": "invoked"})
        task_id: str = r.json()["id"]
        return task_id


async def run(args: argparse.Namespace) -> None:
    work_dir = Path(tempfile.mkdtemp(prefix="todo-bench-clients-"))
    results: dict[str, dict[str, Figures]] = {}
    async with DevStack(work_dir) as stack:
        task_id = await a_task(stack)
        async with (
            sidecar_client(stack.backend_sidecar.http_port, stack.dapr_api_token) as backend,
            sidecar_client(stack.worker_sidecar.http_port, stack.dapr_api_token) as worker,
            httpx.AsyncClient(
                base_url=f"{stack.worker_sidecar.http_url}/v1.0/invoke/{BACKEND_APP_ID}/method",
                headers=stack.worker_sidecar.api_headers,
                timeout=10,
            ) as invoke,
        ):
            http_ops = http_operations(backend, worker, invoke, task_id)
            backend_grpc = SidecarGrpc(backend, stack.backend_sidecar.grpc_port)
            worker_grpc = SidecarGrpc(worker, stack.worker_sidecar.grpc_port)
            sdk_ops = sdk_operations(
                await backend_grpc.client(), await worker_grpc.client(), task_id
            )
            try:
                for name in http_ops:
                    for client, ops in (("http", http_ops), ("sdk", sdk_ops)):
                        batched = name == f"publish {BATCH}"
                        count = args.operations // 10 if batched else args.operations
                        figures = await measure(ops[name], count, args.concurrency)
                        results.setdefault(name, {})[client] = figures
                        print(f"[bench] {name} {client}: {figures}", flush=True)
            finally:
                await backend_grpc.close()
                await worker_grpc.close()
    print(
        f"\nDapr 1.16 devstack, {datetime.now(UTC):%Y-%m-%d}, {args.operations} calls, "
        f"{args.concurrency} in flight for throughput"
    )
    print(f"{'':<14} {'client':<6} {'p50 ms':>8} {'p95 ms':>8} {'calls/s':>9} {'CPU ms/call':>12}")
    for name, by_client in results.items():
        for client, f in by_client.items():
            print(
                f"{name:<14} {client:<6} {f.p50_ms:8.2f} {f.p95_ms:8.2f} "
                f"{f.per_second:9.0f} {f.cpu_ms:12.3f}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description="HTTP adapters vs the Dapr SDK on the devstack")
    parser.add_argument("--operations", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
