"""Real servers for cross-service tests, used as fixtures through conftest.py: a Kafka
broker (KRaft, from the Apache jars), PostgreSQL databases, the backend on a real port,
and worker processes."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from todo.backend.app import create_app
from todo.backend.settings import BackendSettings, BusKind
from todo.devstack.kafka import KafkaBroker, ensure_topics
from todo.devstack.ports import free_port

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
    )
    app = create_app(settings)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    yield Backend(app, f"http://127.0.0.1:{port}", settings)
    server.should_exit = True
    await serving


@dataclass
class WorkerProcess:
    proc: subprocess.Popen[bytes]
    url: str
    log: Path

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    def metric(self, name: str, **labels: str) -> float:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        total = 0.0
        for line in text.splitlines():
            if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
                total += float(line.rsplit(" ", 1)[1])
        return total


def start_worker(
    backend: Backend, kafka: KafkaBroker, database_url: str, log_dir: Path, name: str
) -> WorkerProcess:
    port = free_port()
    log = log_dir / f"{name}.log"
    env = {
        **os.environ,
        # The test's own import path, so the child runs the same sources.
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "TODO_WORKER_PORT": str(port),
        "TODO_WORKER_KAFKA_BOOTSTRAP": kafka.bootstrap,
        "TODO_WORKER_BACKEND_URL": backend.url,
        "TODO_WORKER_APP_API_TOKEN": APP_TOKEN,
        "TODO_WORKER_DATABASE_URL": database_url,
        "TODO_WORKER_LOG_LEVEL": "WARNING",
    }
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "todo.worker.main"], env=env, stdout=out, stderr=out
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"worker {name} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return WorkerProcess(proc, url, log)
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"worker {name} did not become ready: {log.read_text()[-3000:]}")
