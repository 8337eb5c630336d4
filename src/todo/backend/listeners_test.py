"""The backend's separate listeners (TODO_INTERNAL_PORT, TODO_METRICS_PORT): a real server
process on free ports, each path tried on each listener, then SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from todo.backend.main import public_path
from todo.devstack.ports import free_ports


def test_public_paths_leave_out_what_only_the_sidecar_and_the_scraper_call() -> None:
    assert public_path("/api/v1/tasks")
    assert public_path("/")
    assert public_path("/healthz")
    for path in ("/internal/v1/tasks/1", "/events/task-events", "/job/reminder-1", "/metrics"):
        assert not public_path(path), path


@dataclass
class Backend:
    public: str
    internal: str
    metrics: str
    process: subprocess.Popen[bytes]


@pytest.fixture
def backend(tmp_path: Path) -> Iterator[Backend]:
    public, internal, metrics = free_ports(3)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(p for p in sys.path if p),
        "TODO_DATA_DIR": str(tmp_path),
        "TODO_PORT": str(public),
        "TODO_INTERNAL_PORT": str(internal),
        "TODO_METRICS_PORT": str(metrics),
        "TODO_APP_API_TOKEN": "listener-test-token",
    }
    log = open(tmp_path / "backend.log", "wb")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "todo.backend.main"],  # noqa: S603 (this interpreter)
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = Backend(
        f"http://127.0.0.1:{public}",
        f"http://127.0.0.1:{internal}",
        f"http://127.0.0.1:{metrics}",
        process,
    )
    deadline = time.monotonic() + 60
    urls = (f"{server.public}/healthz", f"{server.internal}/healthz", f"{server.metrics}/metrics")
    while True:
        try:
            if all(httpx.get(url, timeout=2).status_code == 200 for url in urls):
                break
        except httpx.HTTPError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            log.close()
            pytest.fail(f"backend did not serve: {(tmp_path / 'backend.log').read_text()[-3000:]}")
        time.sleep(0.2)
    try:
        yield server
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)
        log.close()


def test_each_listener_serves_only_its_own_paths(backend: Backend) -> None:
    token = {"dapr-api-token": "listener-test-token"}
    # Public: the API and the web app, never the internal API, deliveries or metrics.
    assert httpx.get(f"{backend.public}/healthz").status_code == 200
    assert httpx.get(f"{backend.public}/api/v1/users/me").status_code == 401
    refused = httpx.get(f"{backend.public}/internal/v1/tasks/1", headers=token)
    assert refused.status_code == 404
    assert refused.json() == {"detail": "Not Found", "code": "not_found"}
    assert httpx.post(f"{backend.public}/events/task-updates", headers=token).status_code == 404
    assert httpx.get(f"{backend.public}/metrics").status_code == 404
    # Internal (the sidecar's): the internal API answers (the task does not exist).
    found = httpx.get(f"{backend.internal}/internal/v1/tasks/1", headers=token)
    assert found.json() == {"detail": "there is no task with this id", "code": "not_found"}
    assert httpx.get(f"{backend.internal}/internal/v1/tasks/1").status_code in (401, 403)
    # Metrics (the scraper's): /metrics only.
    assert "todo_http_request_duration_seconds" in httpx.get(f"{backend.metrics}/metrics").text
    assert httpx.get(f"{backend.metrics}/api/v1/users/me").status_code == 404


def test_the_internal_listener_is_on_loopback_only(backend: Backend) -> None:
    port = int(backend.internal.rsplit(":", 1)[1])
    listening = Path("/proc/net/tcp").read_text().splitlines()[1:]
    local = {line.split()[1] for line in listening if line.split()[3] == "0A"}
    assert f"0100007F:{port:04X}" in local
    assert f"00000000:{port:04X}" not in local


def test_sigterm_stops_every_listener(backend: Backend) -> None:
    backend.process.send_signal(signal.SIGTERM)
    backend.process.wait(30)
    for url in (backend.public, backend.internal, backend.metrics):
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"{url}/healthz", timeout=2)
