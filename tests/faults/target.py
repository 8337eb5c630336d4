"""What the fault suite runs against: a target that exposes killable components, the URLs
of the services, and a read of the task database for the invariants.

The devstack is one target (every process on this machine); a cluster is another (pods
killed through the Kubernetes API): a scenario only names components and faults, so a
cluster target plugs in by implementing `FaultTarget` with the same component names.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import asyncpg
from faults import disk

from todo.devstack.processes import OneChildServer, PythonService
from todo.devstack.stack import DevStack
from todo.devstack.tcp_proxy import TcpProxy


class Killable(Protocol):
    """One part of the system that a scenario can take away and give back."""

    name: str

    async def kill(self) -> None:
        """End it abruptly (no clean shutdown): a crash, an OOM kill, a lost node."""

    async def revive(self) -> None:
        """Start it again as it was (same address, same storage) and wait until it serves."""


class FaultTarget(Protocol):
    @property
    def backend_url(self) -> str: ...

    @property
    def worker_url(self) -> str: ...

    def component(self, name: str) -> Killable:
        """`kafka`, `worker-sidecar`, `worker`, `backend`, `scheduler`, `postgres`."""

    async def wipe_scheduler_storage(self) -> None:
        """The scheduler's job store, emptied (the scheduler must be down)."""

    def cut_worker_from_its_sidecar(self, cut: bool) -> None:
        """A partition between the worker and its sidecar, both ways (or its end)."""

    def slow_database(self, delay_seconds: float) -> None:
        """Added latency on every exchange between the backend and its database."""

    async def fill_broker_disk(self, full: bool) -> None:
        """The broker's log directory full (or freed again)."""

    def database(self) -> AbstractAsyncContextManager[asyncpg.Connection]:
        """A connection to the task database."""


@dataclass
class ChildComponent:
    """A devstack server that is one child process."""

    name: str
    server: OneChildServer
    start: Callable[[], Awaitable[None]]

    async def kill(self) -> None:
        self.server.kill()

    async def revive(self) -> None:
        await self.start()


@dataclass
class ServiceComponent:
    """One of our services (backend, worker) as a child process."""

    name: str
    service: PythonService

    async def kill(self) -> None:
        self.service.kill()

    async def revive(self) -> None:
        self.service.start()
        await self.service.wait_ready(120)


@dataclass
class PostgresComponent:
    name: str
    stack: DevStack

    async def kill(self) -> None:
        await self.stack.postgres.stop(mode="immediate")

    async def revive(self) -> None:
        await self.stack.postgres.start()


# The broker's log directory lives on a filesystem of this size, so that it can be filled.
BROKER_DISK = "256m"


class DevStackTarget:
    """The devstack with the fault suite's additions: a proxy between the backend and
    PostgreSQL (latency), proxies between the worker and its sidecar both ways (a
    partition), and Kafka's data on a small tmpfs of its own (a full disk; needs root)."""

    def __init__(self, work_dir: Path, backend: dict[str, Any], worker: dict[str, Any]) -> None:
        self.stack = DevStack(
            work_dir, backend_overrides=dict(backend), worker_overrides=dict(worker)
        )
        stack = self.stack
        # The PostgreSQL scenario crashes the server: an acknowledged commit must survive.
        stack.postgres.crash_safe = True
        self.database_proxy = TcpProxy(target_port=stack.postgres_port)
        stack.backend_database_port = self.database_proxy.port
        # worker -> its daprd (HTTP and gRPC), daprd -> the worker (deliveries, job
        # callbacks).
        self.to_sidecar = TcpProxy(target_port=stack.worker_sidecar.http_port)
        self.to_sidecar_grpc = TcpProxy(target_port=stack.worker_sidecar.grpc_port)
        self.to_worker = TcpProxy(target_port=stack.worker_port)
        stack.worker_overrides["DAPR_HTTP_PORT"] = self.to_sidecar.port
        stack.worker_overrides["DAPR_GRPC_PORT"] = self.to_sidecar_grpc.port
        stack.worker_sidecar.app_port = self.to_worker.port
        self._proxies = (self.database_proxy, self.to_sidecar, self.to_sidecar_grpc, self.to_worker)
        self.broker_disk = work_dir / "kafka"
        self.disk_mounted = False
        self.disk_unavailable_reason = ""
        self._fill = self.broker_disk / "kraft-logs" / "disk-filler"

    async def start(self) -> None:
        self._mount_broker_disk()
        for proxy in self._proxies:
            proxy.start()
        await self.stack.start()

    async def stop(self) -> None:
        await self.stack.stop()
        for proxy in self._proxies:
            proxy.stop()
        if self.disk_mounted:
            await asyncio.to_thread(
                subprocess.run, ["umount", "-l", str(self.broker_disk)], check=False
            )

    def _mount_broker_disk(self) -> None:
        self.broker_disk.mkdir(parents=True, exist_ok=True)
        if os.geteuid() != 0:
            self.disk_unavailable_reason = "mounting a small filesystem for Kafka needs root"
            return
        result = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={BROKER_DISK}", "tmpfs", str(self.broker_disk)],
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            self.disk_unavailable_reason = f"mount tmpfs failed: {result.stderr.strip()}"
            return
        self.disk_mounted = True

    @property
    def backend_url(self) -> str:
        assert self.stack.backend is not None
        return self.stack.backend.url

    @property
    def worker_url(self) -> str:
        assert self.stack.worker is not None
        return self.stack.worker.url

    def component(self, name: str) -> Killable:
        stack = self.stack
        assert stack.backend is not None
        assert stack.worker is not None
        components: dict[str, Killable] = {
            "kafka": ChildComponent("kafka", stack.kafka, stack.kafka.start),
            "worker-sidecar": ChildComponent(
                "worker-sidecar",
                stack.worker_sidecar,
                lambda: stack.worker_sidecar.start(wait_for_app=True),
            ),
            "scheduler": ChildComponent("scheduler", stack.scheduler, stack.scheduler.start),
            "worker": ServiceComponent("worker", stack.worker),
            "backend": ServiceComponent("backend", stack.backend),
            "postgres": PostgresComponent("postgres", stack),
        }
        return components[name]

    async def wipe_scheduler_storage(self) -> None:
        assert not self.stack.scheduler.running, "stop the scheduler first"
        shutil.rmtree(self.stack.scheduler.data_dir / "etcd", ignore_errors=True)

    def cut_worker_from_its_sidecar(self, cut: bool) -> None:
        for proxy in (self.to_sidecar, self.to_sidecar_grpc, self.to_worker):
            proxy.cut() if cut else proxy.restore()

    def slow_database(self, delay_seconds: float) -> None:
        self.database_proxy.delay(delay_seconds)

    async def fill_broker_disk(self, full: bool) -> None:
        if not full:
            self._fill.unlink(missing_ok=True)
            return
        free = await asyncio.to_thread(disk.fill, self._fill)
        # A scenario whose fault did not happen would pass for the wrong reason.
        assert free < disk.PAGE, f"the broker's disk could not be filled: {free} bytes free"

    @asynccontextmanager
    async def database(self) -> AsyncIterator[asyncpg.Connection]:
        conn = await asyncpg.connect(self.stack.postgres.admin_url.rsplit("/", 1)[0] + "/todo")
        try:
            yield conn
        finally:
            await conn.close()
