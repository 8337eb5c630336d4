from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import pytest

from todo.devstack.ports import free_port
from todo.devstack.processes import (
    ChildProcess,
    OneChildServer,
    PythonService,
    ServiceFailed,
    StartStop,
    python_env,
    serve_one,
)


def test_the_child_environment_has_our_import_path_and_drops_a_prefix(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TODO_DATABASE_URL", "postgresql://someone-elses")
    monkeypatch.setenv("KEEP_ME", "1")
    env = python_env({"TODO_PORT": "9"}, drop_prefix="TODO_")
    assert "TODO_DATABASE_URL" not in env
    assert env["TODO_PORT"] == "9"
    assert env["KEEP_ME"] == "1"
    assert env["PYTHONPATH"]
    assert python_env({})["TODO_DATABASE_URL"] == "postgresql://someone-elses"


async def test_a_service_that_dies_while_starting_is_reported_with_its_log(
    tmp_path: Path,
) -> None:
    service = PythonService(
        "ghost", "todo.devstack.no_such_module", free_port(), python_env({}), tmp_path / "g.log"
    )
    service.start()
    with pytest.raises(ServiceFailed) as failure:
        await service.wait_ready(30)
    message = str(failure.value)
    assert "ghost exited with code 1 while starting" in message
    assert "No module named todo.devstack.no_such_module" in message
    assert not service.running
    await service.stop()  # stopping a dead service is a no-op


async def test_a_service_that_never_gets_ready_is_reported_and_stops_on_sigterm(
    tmp_path: Path,
) -> None:
    port = free_port()
    worker = PythonService(
        "worker",
        "todo.worker.main",
        port,
        python_env(
            {
                "TODO_WORKER_PORT": str(port),
                "TODO_WORKER_BUS": "kafka",
                "TODO_WORKER_KAFKA_BOOTSTRAP": "127.0.0.1:9",
                "TODO_WORKER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'w.db'}",
            },
            drop_prefix="TODO_",
        ),
        tmp_path / "worker.log",
    )
    worker.start()
    try:
        # No broker at port 9: alive, never ready. Readiness is what is waited for.
        with pytest.raises(
            ServiceFailed, match=r"worker was not ready at http://127\.0\.0\.1:\d+/readyz in time"
        ):
            await worker.wait_ready(3)
        assert worker.running
    finally:
        await worker.stop(grace=15)
    assert not worker.running
    # SIGTERM sufficed (uvicorn exits 0 on it); SIGKILL after the grace would give -9.
    assert worker.process.returncode in (0, -signal.SIGTERM)


async def test_async_with_stops_what_failed_half_way_through_starting() -> None:
    calls: list[str] = []

    class HalfStarts(StartStop):
        async def start(self) -> None:
            calls.append("start")
            raise ServiceFailed("the second server did not come up")

        async def stop(self) -> None:
            calls.append("stop")

    with pytest.raises(ServiceFailed, match="second server"):
        async with HalfStarts():
            calls.append("body")
    assert calls == ["start", "stop"]


class Sleeper(OneChildServer):
    """A real child process that sleeps, then exits with `code`."""

    def __init__(self, log_file: Path, seconds: float, code: int = 0) -> None:
        self._process = ChildProcess("sleeper", log_file)
        self.script = f"import sys, time; time.sleep({seconds}); sys.exit({code})"

    async def start(self) -> None:
        self._process.spawn([sys.executable, "-c", self.script], dict(os.environ))

    async def stop(self) -> None:
        await self._process.terminate(grace=5)


async def test_serve_one_says_when_the_server_died_on_its_own(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines: list[str] = []
    server = Sleeper(tmp_path / "sleeper.log", seconds=0.3, code=3)

    code = await serve_one(server, "the sleeper", lambda: "127.0.0.1:1", lines.append)

    assert code == 1
    assert capsys.readouterr().out == "127.0.0.1:1\n"
    assert f"the sleeper exited on its own (code 3); see {tmp_path / 'sleeper.log'}" in lines
    assert lines[-1] == "the sleeper stopped"


async def test_serve_one_stops_the_server_on_sigterm(tmp_path: Path) -> None:
    lines: list[str] = []
    server = Sleeper(tmp_path / "sleeper.log", seconds=60)
    started: list[bool] = []

    async def then_terminate_us() -> None:
        started.append(server.running)
        asyncio.get_running_loop().call_later(0.3, os.kill, os.getpid(), signal.SIGTERM)

    code = await serve_one(server, "the sleeper", lambda: "-", lines.append, then_terminate_us)

    assert code == 0
    assert started == [True]
    assert not server.running
    assert server.returncode == -signal.SIGTERM
