"""The distributed shape on one machine: PostgreSQL, Kafka (KRaft), the Dapr scheduler,
and the backend and the worker, each with its own real daprd.

    ./pants run src/todo/devstack:stack          # prints where everything listens; Ctrl+C stops
    ./pants run src/todo/devstack:stack -- --shape kafka|embedded   # the other shapes

The Dapr resources are the `charts/todo-dapr` chart rendered with its local values, so
the sidecars here load the same components, subscriptions, resiliency and configuration
as the cluster. Also usable from tests: `async with DevStack(work_dir) as stack: ...`.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from todo.backend.settings import BusKind
from todo.devstack import shapes
from todo.devstack.dapr import DaprScheduler, DaprSidecar, ensure_dapr_binaries
from todo.devstack.helm import render_chart
from todo.devstack.kafka import KafkaBroker, ensure_topics
from todo.devstack.ports import free_port
from todo.devstack.postgres import PostgresServer
from todo.devstack.processes import PythonService, StartStop, stop_requested
from todo.devstack.shapes import (
    ShapeName,
    backend_service,
    backend_settings,
    settings_of,
    worker_service,
)
from todo.worker.settings import WorkerBus, WorkerSettings

BACKEND_APP_ID = "todo-backend"
WORKER_APP_ID = "todo-worker"


def _log(message: str) -> None:
    print(f"[devstack] {message}", flush=True)


def repo_root() -> Path:
    for start in (Path(__file__).resolve().parent, Path.cwd().resolve()):
        for parent in (start, *start.parents):
            if (parent / "charts" / "todo-dapr" / "Chart.yaml").is_file():
                return parent
    raise FileNotFoundError("charts/todo-dapr not found: run from the repository")


def split_resources(rendered: str) -> dict[str, str]:
    """`helm template` output as one file per resource, named `<kind>-<name>.yaml`: the
    layout a cluster applies (one object each). daprd reads only the first document of a
    multi-document file for some kinds (a Resiliency after a Component is never loaded)."""
    files: dict[str, str] = {}
    for document in re.split(r"^---\s*$", rendered, flags=re.MULTILINE):
        resource = yaml.safe_load(document)
        if not resource:
            continue
        name = f"{resource['kind'].lower()}-{resource['metadata']['name']}.yaml"
        if name in files:
            raise ValueError(f"two resources would be written to {name}")
        files[name] = document.strip() + "\n"
    return files


async def render_resources(dapr_dir: Path, kafka_bootstrap: str, database_url: str) -> None:
    """charts/todo-dapr with its local values, as files for daprd: `resources/` (components,
    subscriptions, resiliency; one file per resource, as the cluster holds them) and
    `config.yaml` (the Configuration, which daprd takes from `--config`)."""
    resources = dapr_dir / "resources"
    if resources.exists():
        shutil.rmtree(resources)
    resources.mkdir(parents=True)
    secrets_file = dapr_dir / "secrets.json"
    libpq = database_url.replace("postgresql+asyncpg://", "postgres://")
    secrets_file.write_text(json.dumps({"todo-postgres": {"dapr-state-connection-string": libpq}}))
    secrets_file.chmod(0o600)
    rendered = await render_chart(
        repo_root() / "charts" / "todo-dapr",
        values_files=[repo_root() / "charts" / "todo-dapr" / "values-local.yaml"],
        set_values={
            "pubsub.brokers": kafka_bootstrap,
            "secretStore.file": str(secrets_file),
            "nameResolution.sqlite.path": str(dapr_dir / "names.db"),
        },
    )
    configurations = 0
    for name, text in split_resources(rendered).items():
        if name.startswith("configuration-"):
            (dapr_dir / "config.yaml").write_text(text)
            configurations += 1
        else:
            (resources / name).write_text(text)
    if configurations != 1:
        raise ValueError(f"charts/todo-dapr rendered {configurations} Configurations, not 1")


@dataclass
class DevStack(StartStop):
    work_dir: Path
    postgres_port: int = field(default_factory=free_port)
    backend_port: int = field(default_factory=free_port)
    worker_port: int = field(default_factory=free_port)
    app_api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    dapr_api_token: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    # Where the backend reaches PostgreSQL, if not directly (a fault test's proxy).
    backend_database_port: int | None = None
    # More settings of the services (e.g. shorter periods in fault tests), by field name.
    backend_overrides: dict[str, Any] = field(default_factory=dict)
    worker_overrides: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self.postgres = PostgresServer(self._pg_dir(), self.postgres_port)
        self.kafka = KafkaBroker.on_free_ports(self.work_dir / "kafka")
        self.scheduler = DaprScheduler.on_free_ports(self.work_dir / "scheduler")
        resources = self.work_dir / "dapr" / "resources"
        config = self.work_dir / "dapr" / "config.yaml"
        self.backend_sidecar = DaprSidecar.on_free_ports(
            BACKEND_APP_ID,
            self.work_dir / "dapr",
            app_port=self.backend_port,
            resources_paths=[resources],
            config=config,
            scheduler_address=self.scheduler.address,
            app_api_token=self.app_api_token,
            dapr_api_token=self.dapr_api_token,
        )
        self.worker_sidecar = DaprSidecar.on_free_ports(
            WORKER_APP_ID,
            self.work_dir / "dapr",
            app_port=self.worker_port,
            resources_paths=[resources],
            config=config,
            scheduler_address=self.scheduler.address,
            app_api_token=self.app_api_token,
            dapr_api_token=self.dapr_api_token,
        )
        self.backend: PythonService | None = None
        self.worker: PythonService | None = None

    def _pg_dir(self) -> Path:
        # As root the server runs as `postgres`, which must reach its directory.
        if os.geteuid() == 0:
            base = Path("/var/tmp/todo-devstack")
            base.mkdir(parents=True, exist_ok=True)
            base.chmod(0o755)
            return base / f"postgres-{self.postgres_port}"
        return self.work_dir / "postgres"

    async def start(self) -> None:
        started = time.monotonic()
        await ensure_dapr_binaries()
        await self.postgres.start()
        database_url = await self.postgres.create_database("todo")
        await self.kafka.start()
        await ensure_topics(self.kafka.bootstrap)
        await self.scheduler.start()
        await render_resources(self.work_dir / "dapr", self.kafka.bootstrap, database_url)
        backend_database_url = database_url
        if self.backend_database_port is not None:
            backend_database_url = database_url.replace(
                f":{self.postgres_port}/", f":{self.backend_database_port}/"
            )
        backend_fields: dict[str, Any] = {
            "database_url": backend_database_url,
            "bus": BusKind.DAPR,
            "embedded_worker": False,
            "app_api_token": self.app_api_token,
            "DAPR_HTTP_PORT": self.backend_sidecar.http_port,
            "DAPR_API_TOKEN": self.dapr_api_token,
            "outbox_poll_seconds": 0.2,
        }
        self.backend = backend_service(
            backend_settings(
                self.backend_port,
                self.work_dir / "backend",
                **{**backend_fields, **self.backend_overrides},
            ),
            self.work_dir / "logs" / "backend.log",
        )
        worker_fields: dict[str, Any] = {
            "port": self.worker_port,
            "bus": WorkerBus.DAPR,
            "app_api_token": self.app_api_token,
            "DAPR_HTTP_PORT": self.worker_sidecar.http_port,
            "DAPR_GRPC_PORT": self.worker_sidecar.grpc_port,
            "DAPR_API_TOKEN": self.dapr_api_token,
            # Kafka is local and plaintext here: the automatic dead-letter retry tier.
            "dlq_kafka_bootstrap": self.kafka.bootstrap,
        }
        self.worker = worker_service(
            settings_of(WorkerSettings, **{**worker_fields, **self.worker_overrides}),
            self.work_dir / "logs" / "worker.log",
        )
        self.backend.start()
        self.worker.start()
        await asyncio.gather(self.backend_sidecar.start(), self.worker_sidecar.start())
        await asyncio.gather(self.backend.wait_ready(90), self.worker.wait_ready(90))
        await asyncio.gather(
            self.backend_sidecar.start(wait_for_app=True),
            self.worker_sidecar.start(wait_for_app=True),
        )
        _log(f"ready in {time.monotonic() - started:.1f}s")

    async def stop(self) -> None:
        for app in (self.worker, self.backend):
            if app is not None:
                await app.stop()
        for closer in (
            self.worker_sidecar.stop,
            self.backend_sidecar.stop,
            self.scheduler.stop,
            self.kafka.stop,
            self.postgres.stop,
        ):
            with contextlib.suppress(Exception):
                await closer()

    async def restart_worker(self) -> None:
        """Stop the worker and its sidecar, then start both again (same ports)."""
        assert self.worker is not None
        await self.worker.stop()
        await self.worker_sidecar.stop()
        self.worker.start()
        await self.worker_sidecar.start()
        await self.worker.wait_ready(90)

    async def restart_scheduler(self, *, wipe: bool = False) -> None:
        """Stop the Dapr scheduler and start it again on the same ports; with `wipe`, on
        empty storage (every job it held is gone)."""
        await self.scheduler.stop()
        if wipe:
            shutil.rmtree(self.scheduler.data_dir / "etcd", ignore_errors=True)
        await self.scheduler.start()

    def describe(self) -> str:
        backend = self.backend.url if self.backend else "-"
        worker = self.worker.url if self.worker else "-"
        return "\n".join(
            [
                f"  web UI and API   {backend}/  (docs {backend}/docs)",
                f"  worker           {worker}/metrics",
                f"  backend daprd    {self.backend_sidecar.http_url}",
                f"  worker daprd     {self.worker_sidecar.http_url}",
                f"  Dapr scheduler   {self.scheduler.address}",
                f"  Kafka            {self.kafka.bootstrap}",
                f"  PostgreSQL       {self.postgres.url}",
                f"  logs             {self.work_dir}",
            ]
        )


async def _serve(work_dir: Path, shape: ShapeName, postgres_url: str) -> None:
    if shape is ShapeName.DAPR:
        async with DevStack(work_dir) as stack:
            print("Todo Cloud devstack (dapr) is up:\n" + stack.describe(), flush=True)
            await stop_requested().wait()
    else:
        started = (
            shapes.embedded(work_dir, log_level="INFO")
            if shape is ShapeName.EMBEDDED
            else shapes.kafka(work_dir, postgres_admin_url=postgres_url, log_level="INFO")
        )
        async with started as running:
            print(f"Todo Cloud ({shape.value}) is up:", flush=True)
            print(f"  web UI and API   {running.base_url}/", flush=True)
            if running.kafka is not None:
                print(f"  Kafka            {running.kafka.bootstrap}", flush=True)
            print(f"  logs             {work_dir / 'logs'}", flush=True)
            await stop_requested().wait()
    print("stopping…", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--work-dir", default=".todo-data/devstack")
    parser.add_argument(
        "--shape",
        type=ShapeName,
        choices=list(ShapeName),
        default=ShapeName.DAPR,
        help="dapr (default: the production shape), kafka, or embedded",
    )
    parser.add_argument(
        "--render-only",
        action="store_true",
        help="only write the Dapr resources (for `dapr run -f dapr.yaml`) and exit",
    )
    parser.add_argument("--kafka", default="127.0.0.1:9092", help="with --render-only")
    parser.add_argument(
        "--postgres-url",
        default="postgresql+asyncpg://todo_test:todo_test@127.0.0.1:5432/postgres",
        help="with --render-only: the state store's database; with --shape kafka: the server",
    )
    args = parser.parse_args()
    work_dir = Path(args.work_dir).resolve()
    if args.render_only:
        asyncio.run(render_resources(work_dir / "dapr", args.kafka, args.postgres_url))
        print(f"Dapr resources in {work_dir / 'dapr'}")
        return
    asyncio.run(_serve(work_dir, args.shape, args.postgres_url))


if __name__ == "__main__":
    main()
