"""Real servers for cross-service tests, used as fixtures through conftest.py: a Kafka
broker (KRaft, from the Apache jars), PostgreSQL databases, the backend on a real port,
and worker processes."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from fastapi import FastAPI

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings, BusKind
from todo.devstack.kafka import KafkaBroker, ensure_topics
from todo.devstack.ports import free_port
from todo.devstack.processes import PythonService, ServiceFailed
from todo.devstack.serving import serve
from todo.devstack.shapes import settings_of, worker_service
from todo.domain.events import parse_event
from todo.worker.settings import WorkerSettings

APP_TOKEN = "integration-app-token"


@pytest.fixture(scope="module")
def kafka(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    """One broker per test module; a broker that cannot start fails the tests."""
    broker = KafkaBroker.on_free_ports(tmp_path_factory.mktemp("kafka"))
    asyncio.run(broker.start())
    asyncio.run(ensure_topics(broker.bootstrap))
    try:
        yield broker
    finally:
        asyncio.run(broker.stop())


@dataclass
class Backend:
    app: FastAPI
    url: str
    settings: BackendSettings


@pytest.fixture
async def backend(kafka: KafkaBroker, postgres_url: str, tmp_path: Path) -> AsyncIterator[Backend]:
    """The backend in service shape: PostgreSQL, Kafka bus, no embedded worker."""
    settings = BackendSettings(
        database_url=postgres_url,
        data_dir=tmp_path,
        jwt_secret="integration-" + "s" * 40,
        bus=BusKind.KAFKA,
        kafka_bootstrap=kafka.bootstrap,
        embedded_worker=False,
        app_api_token=APP_TOKEN,
        outbox_poll_seconds=0.2,
        # Tests sign many users up from one address.
        sign_up_rate="1000/minute",
    )
    app = create_app(settings)
    async with serve(app) as url:
        yield Backend(app, url, settings)


async def start_worker(
    backend: Backend, kafka: KafkaBroker, database_url: str, log_dir: Path, name: str
) -> PythonService:
    """A worker service process (Kafka shape) consuming from `kafka`, calling `backend`."""
    settings = settings_of(
        WorkerSettings,
        port=free_port(),
        kafka_bootstrap=kafka.bootstrap,
        backend_url=backend.url,
        app_api_token=APP_TOKEN,
        database_url=database_url,
        log_level="WARNING",
    )
    worker = worker_service(settings, log_dir / f"{name}.log", name=name)
    worker.start()
    try:
        await worker.wait_ready(60)
    except ServiceFailed:
        worker.kill()
        raise
    return worker


def metric(url: str, name: str, **labels: str) -> float:
    """The sum of a Prometheus metric's samples with these labels at `url`/metrics."""
    text = httpx.get(f"{url}/metrics", timeout=5).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def consume_task_events(
    bootstrap: str, expected: set[str], timeout: float = 90
) -> list[dict[str, Any]]:
    """Read `task-events` from the beginning in a fresh group until every expected event
    was seen; returns the expected ones (the broker is shared by the module's tests)."""
    consumer = AIOKafkaConsumer(
        "task-events",
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[dict[str, Any]] = []

    def take(records: list[Any]) -> None:
        for record in records:
            event = parse_event(record.value)
            if event.id in expected:
                assert record.key == event.partitionkey.encode()
                seen.append({"event": event, "partition": record.partition})

    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while {s["event"].id for s in seen} != expected:
            assert (
                asyncio.get_running_loop().time() < deadline
            ), f"{len(expected - {s['event'].id for s in seen})} events never arrived"
            for records in (await consumer.getmany(timeout_ms=500)).values():
                take(records)
        # A duplicate would follow close behind: give it a moment to show up.
        for records in (await consumer.getmany(timeout_ms=1000)).values():
            take(records)
    finally:
        await consumer.stop()
    return seen


def assert_once_in_order(seen: list[dict[str, Any]], expected: int) -> None:
    ids = [s["event"].id for s in seen]
    assert len(ids) == len(set(ids)), "an event arrived twice"
    assert len(ids) == expected
    versions: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for s in seen:
        task = s["event"].data["task"]
        versions[task["id"]].append(task["version"])
        partitions[s["event"].partitionkey].add(s["partition"])
    for task_id, order in versions.items():
        assert order == sorted(order), f"task {task_id} events out of order: {order}"
    assert all(len(p) == 1 for p in partitions.values()), "one user's events span partitions"
