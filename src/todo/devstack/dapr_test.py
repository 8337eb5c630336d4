"""The real Dapr runtime from todo.devstack.dapr: state through daprd, a job fired by the scheduler.

These tests never skip: no Go (on an empty binary cache), a build that fails, or a daprd or
scheduler that cannot start is a failure. The first test builds the binaries when the cache
is empty, which takes minutes on a cold Go cache (pre-build with
``python -m todo.devstack.dapr --build-only``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI, Request

from todo.devstack.dapr import (
    DAPR_VERSION,
    DaprScheduler,
    DaprSidecar,
    ensure_dapr_binaries,
)
from todo.devstack.ports import free_port

APP_ID = "devstack-dapr-test"
STORE = "statestore"
APP_TOKEN = "app-token-for-tests"
DAPR_TOKEN = "dapr-token-for-tests"

STATE_STORE_YAML = f"""\
apiVersion: dapr.io/v1alpha1
kind: Component
metadata:
  name: {STORE}
spec:
  type: state.in-memory
  version: v1
  metadata: []
"""


@dataclass
class JobCall:
    name: str
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class JobApp:
    """A tiny FastAPI app in a uvicorn thread that records Dapr's job callbacks."""

    port: int
    calls: list[JobCall] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def wait_for(self, name: str, timeout: float) -> JobCall:
        deadline = time.monotonic() + timeout
        with self.arrived:
            while True:
                for call in self.calls:
                    if call.name == name:
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [c.name for c in self.calls]
                    raise AssertionError(f"no callback for job {name} in {timeout}s (saw {seen})")
                self.arrived.wait(remaining)


def _job_app(recorder: JobApp) -> FastAPI:
    app = FastAPI()

    @app.post("/job/{name}")
    async def job(name: str, request: Request) -> dict[str, str]:
        call = JobCall(
            name=name,
            body=await request.body(),
            headers=dict(request.headers),
            at=time.monotonic(),
        )
        with recorder.arrived:
            recorder.calls.append(call)
            recorder.arrived.notify_all()
        return {"status": "ok"}

    return app


@pytest.fixture(scope="module")
def job_app() -> Iterator[JobApp]:
    recorder = JobApp(port=free_port())
    config = uvicorn.Config(
        _job_app(recorder), host="127.0.0.1", port=recorder.port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="dapr-test-app", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive(), "the test app's uvicorn died while starting"
        assert time.monotonic() < deadline, "the test app did not start in 15s"
        time.sleep(0.05)
    try:
        yield recorder
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaprScheduler]:
    # Sync module fixtures driven by asyncio.run, as in kafka_test: the process objects are
    # not tied to an event loop, while each test has its own.
    node = DaprScheduler.on_free_ports(tmp_path_factory.mktemp("dapr-scheduler"))
    asyncio.run(node.start(timeout=90))
    try:
        yield node
    finally:
        asyncio.run(node.stop())


@pytest.fixture(scope="module")
def sidecar(
    tmp_path_factory: pytest.TempPathFactory, scheduler: DaprScheduler, job_app: JobApp
) -> Iterator[DaprSidecar]:
    work = tmp_path_factory.mktemp("daprd")
    resources = work / "resources"
    resources.mkdir()
    (resources / "statestore.yaml").write_text(STATE_STORE_YAML)
    dapr = DaprSidecar.on_free_ports(
        APP_ID,
        work,
        app_port=job_app.port,
        resources_paths=[resources],
        scheduler_address=scheduler.address,
        app_api_token=APP_TOKEN,
        dapr_api_token=DAPR_TOKEN,
    )
    asyncio.run(dapr.start(timeout=90, wait_for_app=True))
    try:
        yield dapr
    finally:
        asyncio.run(dapr.stop())


@pytest.mark.timeout(1800)  # a cold build compiles Dapr and its dependencies: minutes
async def test_binaries_are_built_at_the_pinned_version() -> None:
    binaries = await ensure_dapr_binaries()
    assert binaries.version == DAPR_VERSION
    for binary in (binaries.daprd, binaries.scheduler):
        assert binary.is_file(), binary
    proc = await asyncio.create_subprocess_exec(
        str(binaries.daprd), "--version", stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=30)
    assert proc.returncode == 0
    assert out.decode().strip() == DAPR_VERSION
    again = time.monotonic()
    assert await ensure_dapr_binaries() == binaries
    assert time.monotonic() - again < 1.0, "the second call must come from the cache"


async def test_state_round_trip(sidecar: DaprSidecar) -> None:
    key = f"task-{uuid.uuid4().hex[:8]}"
    value: dict[str, Any] = {"title": "write the Dapr devstack", "done": False}
    async with httpx.AsyncClient(base_url=sidecar.http_url, timeout=10) as client:
        denied = await client.get(f"/v1.0/state/{STORE}/{key}")
        assert denied.status_code == 401, "DAPR_API_TOKEN must guard the API"
        saved = await client.post(
            f"/v1.0/state/{STORE}",
            json=[{"key": key, "value": value}],
            headers=sidecar.api_headers,
        )
        assert saved.status_code == 204, saved.text
        got = await client.get(f"/v1.0/state/{STORE}/{key}", headers=sidecar.api_headers)
        assert got.status_code == 200, got.text
        assert got.json() == value
        meta = await client.get("/v1.0/metadata", headers=sidecar.api_headers)
        assert meta.status_code == 200, meta.text
        components = {c["name"]: c["type"] for c in meta.json().get("components", [])}
        assert components.get(STORE) == "state.in-memory"


async def test_job_fires_after_due_time(sidecar: DaprSidecar, job_app: JobApp) -> None:
    name = f"reminder-{uuid.uuid4().hex[:8]}"
    data: dict[str, Any] = {"task_id": 42, "kind": "reminder", "tags": ["a", "b"]}
    async with httpx.AsyncClient(base_url=sidecar.http_url, timeout=10) as client:
        scheduled_at = time.monotonic()
        created = await client.post(
            f"/v1.0-alpha1/jobs/{name}",
            json={"dueTime": "2s", "data": data},
            headers=sidecar.api_headers,
        )
        assert created.status_code == 204, created.text
        got = await client.get(f"/v1.0-alpha1/jobs/{name}", headers=sidecar.api_headers)
        assert got.status_code == 200, got.text
        job = got.json()
        assert job["name"] == name
        assert job["dueTime"] == "2s"

    call = await asyncio.to_thread(job_app.wait_for, name, 30.0)
    delay = call.at - scheduled_at
    assert 1.5 <= delay <= 20, f"the job fired {delay:.1f}s after scheduling, not ~2s"
    assert json.loads(call.body) == data
    assert call.headers.get("content-type") == "application/json"
    assert call.headers.get("dapr-api-token") == APP_TOKEN
