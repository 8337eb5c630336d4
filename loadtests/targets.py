"""What the load runs against: the backend (and, for Kafka, a broker, PostgreSQL and a
worker) started as separate processes, or a server that already runs.

- embedded: `python -m todo.backend.main` on SQLite in a temporary directory, with its
  in-process bus, scheduler and worker handlers.
- kafka: a fresh database on the PostgreSQL server given, a devstack Kafka broker
  (todo.devstack.kafka), the backend in service shape (TODO_BUS=kafka, no embedded worker)
  and a worker service `python -m todo.worker.main`.
- a URL: only that; loopback addresses only, unless allow_remote.

The shapes are `todo.devstack.shapes`: children get a clean TODO_* environment built from
their typed settings (the caller's TODO_* variables do not leak in), a random signing
key, log into the output directory, and die with the runner (SIGTERM on exit, and the
kernel's parent-death signal on Linux).
"""

from __future__ import annotations

import contextlib
import ipaddress
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import httpx
from sqlalchemy.engine import make_url

from todo.devstack import shapes
from todo.devstack.processes import PythonService
from todo.devstack.stack import DevStack

TargetKind = Literal["embedded", "kafka", "devstack", "url"]


class TargetError(RuntimeError):
    """The target could not be started or reached."""


def is_loopback_host(host: str) -> bool:
    """Only literal loopback addresses and `localhost`: a name could resolve anywhere."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_url(url: str, *, allow_remote: bool) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise TargetError(f"--target {url!r}: give embedded, kafka, devstack or an http(s) URL")
    if not allow_remote and not is_loopback_host(parts.hostname):
        raise TargetError(
            f"--target {url}: {parts.hostname} is not a loopback address; load tests send "
            "traffic to this machine only unless --allow-remote is given"
        )
    return url.rstrip("/")


@dataclass
class Target:
    kind: TargetKind
    base_url: str
    description: str
    kafka_bootstrap: str | None = None
    backend: PythonService | None = None
    services: list[PythonService] = field(default_factory=list)
    # Other processes of the target whose CPU use the report shows (name -> pid).
    other_pids: dict[str, int] = field(default_factory=dict)


# Every simulated user signs up and in from this one machine's address: the per-address
# limits that bound a real client's attempts would refuse the load itself.
LOAD_TEST_LIMITS = {"sign_up_rate": "100000/minute", "sign_in_rate": "100000/minute"}


@contextlib.asynccontextmanager
async def embedded(
    workdir: Path, logs: Path, database_url: str | None = None
) -> AsyncIterator[Target]:
    """The embedded shape; on SQLite in `workdir`, or on the database `database_url`."""
    async with shapes.embedded(
        workdir, database_url=database_url, logs=logs, backend_overrides=LOAD_TEST_LIMITS
    ) as running:
        database = "PostgreSQL" if database_url else "SQLite"
        yield Target(
            kind="embedded",
            base_url=running.base_url,
            description=(
                f"embedded: backend subprocess (uvicorn, 1 process) on {database}, in-process "
                "bus, scheduler and worker handlers"
            ),
            backend=running.backend,
            services=running.services,
        )


@contextlib.asynccontextmanager
async def kafka(
    workdir: Path, logs: Path, postgres_admin_url: str, *, allow_remote: bool
) -> AsyncIterator[Target]:
    host = make_url(postgres_admin_url).host or "localhost"
    if not allow_remote and not is_loopback_host(host):
        raise TargetError(
            f"--postgres-url names {host}, not a loopback address (give --allow-remote)"
        )
    async with shapes.kafka(
        workdir,
        postgres_admin_url=postgres_admin_url,
        logs=logs,
        backend_overrides=LOAD_TEST_LIMITS,
    ) as running:
        assert running.kafka is not None
        yield Target(
            kind="kafka",
            base_url=running.base_url,
            description=(
                "kafka: backend subprocess (uvicorn, 1 process, TODO_BUS=kafka) on PostgreSQL, "
                "worker subprocess, single-node Kafka broker (devstack)"
            ),
            kafka_bootstrap=running.kafka.bootstrap,
            backend=running.backend,
            services=running.services,
            other_pids={"kafka broker": running.kafka.pid} if running.kafka.pid is not None else {},
        )


@contextlib.asynccontextmanager
async def devstack(workdir: Path, logs: Path) -> AsyncIterator[Target]:
    """The production shape on this machine (todo.devstack.stack): its own PostgreSQL,
    Kafka, the Dapr scheduler, and backend and worker each behind a real daprd. Their logs
    are copied to `logs` when it stops (the work dir is temporary)."""
    stack_dir = workdir / "devstack"
    try:
        async with _devstack_target(stack_dir) as target:
            yield target
    finally:
        keep_logs(stack_dir, logs)


def keep_logs(work_dir: Path, logs: Path) -> list[Path]:
    """Copy the *.log files of `work_dir` and of its direct subdirectories (each server
    writes there) to `logs`, named after their path. Deeper ones are data, not logs:
    Kafka's partition segments end in .log too."""
    kept = []
    for log in sorted([*work_dir.glob("*.log"), *work_dir.glob("*/*.log")]):
        if log.is_file():
            target = logs / "-".join(log.relative_to(work_dir).parts)
            shutil.copyfile(log, target)
            kept.append(target)
    return kept


@contextlib.asynccontextmanager
async def _devstack_target(stack_dir: Path) -> AsyncIterator[Target]:
    async with DevStack(stack_dir, backend_overrides=LOAD_TEST_LIMITS) as stack:
        assert stack.backend is not None
        assert stack.worker is not None
        services = [stack.backend, stack.worker]
        sidecars = {
            f"daprd {s.app_id}": s.pid
            for s in (stack.backend_sidecar, stack.worker_sidecar)
            if s.pid is not None
        }
        yield Target(
            kind="devstack",
            base_url=stack.backend.url,
            description=(
                "devstack: backend and worker subprocesses (uvicorn, 1 process each) behind "
                "their own daprd (Dapr 1.16.0: Kafka pub/sub, Jobs API, service invocation, "
                "PostgreSQL state), PostgreSQL, single-node Kafka broker"
            ),
            kafka_bootstrap=stack.kafka.bootstrap,
            backend=services[0],
            services=services,
            other_pids={
                **sidecars,
                **({"kafka broker": stack.kafka.pid} if stack.kafka.pid is not None else {}),
            },
        )


@contextlib.asynccontextmanager
async def remote(url: str, *, allow_remote: bool) -> AsyncIterator[Target]:
    base = check_url(url, allow_remote=allow_remote)
    async with httpx.AsyncClient(timeout=5.0) as client:
        try:
            response = await client.get(f"{base}/readyz")
        except httpx.HTTPError as exc:
            raise TargetError(f"{base}/readyz: {type(exc).__name__}: {exc}") from None
    if response.status_code != 200:
        raise TargetError(f"{base}/readyz answered HTTP {response.status_code}")
    yield Target(kind="url", base_url=base, description="a server started elsewhere")
