"""Benchmark: task changes through the outbox to Kafka and into a consumer group.

    ./pants run loadtests/bench_events.py -- --users 20 --changes 2000

Starts a real Kafka broker (devstack) and the backend in its service shape on PostgreSQL
(`--postgres-url`, default TODO_TEST_POSTGRES_URL), drives changes through the REST API,
and consumes `task-events` in a fresh group. Prints, beside the targets:
- commit to topic: the change's commit time (the event's `time`) to the record's
  timestamp on the broker (set when the relay's producer sent it);
- topic to handler: the record's timestamp to the consumer's handler seeing it;
- throughput: events handled per second over the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from aiokafka import ConsumerRecord

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings, BusKind
from todo.devstack.kafka import KafkaBroker, ensure_topics
from todo.devstack.postgres import create_database
from todo.domain.events import CloudEvent, Topic
from todo.shared.bus_kafka import KafkaEventBus


@dataclass
class Samples:
    commit_to_topic_ms: list[float] = field(default_factory=list)
    topic_to_handler_ms: list[float] = field(default_factory=list)
    first_handled: float = 0.0
    last_handled: float = 0.0


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
    return ordered[index]


def row(name: str, values: list[float], target_p99: float, plan: float) -> str:
    p50, p95, p99 = (percentile(values, p) for p in (50, 95, 99))
    verdict = "meets" if p99 < target_p99 else "MISSES"
    return (
        f"{name:<22} {p50:8.1f} {p95:8.1f} {p99:8.1f}   target p99 < {target_p99:.0f} ms "
        f"({verdict}; plan: {plan:.0f} ms, p99 is {plan / max(p99, 0.001):.0f}x under it)"
    )


async def drive(client: httpx.AsyncClient, users: int, changes: int, concurrency: int) -> None:
    tokens = []
    for _ in range(users):
        r = await client.post(
            "/api/v1/auth/register",
            json={"email": f"b-{uuid.uuid4().hex[:10]}@example.com", "password": "bench-pass-1"},
        )
        r.raise_for_status()
        tokens.append({"Authorization": f"Bearer {r.json()['access_token']}"})
    per_user = changes // users
    gate = asyncio.Semaphore(concurrency)

    async def one_user(headers: dict[str, str]) -> None:
        task_id = ""
        for i in range(per_user):
            async with gate:
                if i % 4 == 0:
                    r = await client.post("/api/v1/tasks", headers=headers, json={"title": f"b{i}"})
                    task_id = r.json()["id"]
                else:
                    r = await client.patch(
                        f"/api/v1/tasks/{task_id}", headers=headers, json={"title": f"b{i}"}
                    )
                r.raise_for_status()

    await asyncio.gather(*(one_user(h) for h in tokens))


async def run(args: argparse.Namespace) -> None:
    admin = args.postgres_url or os.environ.get("TODO_TEST_POSTGRES_URL")
    if not admin:
        raise SystemExit("give --postgres-url (or TODO_TEST_POSTGRES_URL) of a PostgreSQL server")
    workdir = Path(tempfile.mkdtemp(prefix="todo-bench-"))
    broker = KafkaBroker.on_free_ports(workdir / "kafka")
    await broker.start()
    await ensure_topics(broker.bootstrap)
    database_url = await create_database(admin, prefix="todo_bench")
    settings = BackendSettings(
        database_url=database_url,
        data_dir=workdir,
        jwt_secret="bench-" + "x" * 40,
        bus=BusKind.KAFKA,
        kafka_bootstrap=broker.bootstrap,
        embedded_worker=False,
        log_level="WARNING",
        # Every benchmark user signs up from this one address.
        sign_up_rate="100000/minute",
    )
    samples = Samples()
    expected = (args.changes // args.users) * args.users

    def observe(record: ConsumerRecord, event: CloudEvent) -> None:
        now_ms = time.time() * 1000
        samples.commit_to_topic_ms.append(record.timestamp - event.time.timestamp() * 1000)
        samples.topic_to_handler_ms.append(now_ms - record.timestamp)

    async def handler(event: CloudEvent) -> None:
        now = time.time()
        samples.first_handled = samples.first_handled or now
        samples.last_handled = now

    consumer = KafkaEventBus(broker.bootstrap, client_id="bench-consumer", observe=observe)
    consumer.subscribe(Topic.TASK_EVENTS, f"bench-{uuid.uuid4().hex[:6]}", handler)
    app = create_app(settings)
    try:
        async with app.router.lifespan_context(app):
            await consumer.start()
            await consumer.wait_ready(60)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                started = time.time()
                await drive(client, args.users, args.changes, args.concurrency)
                api_seconds = time.time() - started
                async with asyncio.timeout(120):
                    while len(samples.topic_to_handler_ms) < expected:
                        await asyncio.sleep(0.05)
            await consumer.stop()
    finally:
        await broker.stop()
    span = samples.last_handled - started
    print(
        f"\n{expected} task changes by {args.users} users, concurrency {args.concurrency}, "
        f"on {os.cpu_count()} cores, {datetime.now(UTC):%Y-%m-%d}"
    )
    print(f"{'':<22} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    print(row("commit -> topic", samples.commit_to_topic_ms, 100, 5000))
    print(row("topic -> handler", samples.topic_to_handler_ms, 100, 10000))
    print(
        f"throughput: {expected / span:,.0f} events/s end to end "
        f"(API accepted {expected / api_seconds:,.0f} changes/s); "
        f"mean commit -> topic {statistics.fmean(samples.commit_to_topic_ms):.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--changes", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres-url", default="")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
