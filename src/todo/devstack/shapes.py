"""The shapes the product runs in, started on this machine as child processes: one API
for the stack command, the load-test targets and the integration tests.

- `embedded`: the backend alone (SQLite, or a PostgreSQL database), the in-process bus,
  scheduler and reminder machinery.
- `kafka`: backend and worker services, a Kafka broker, PostgreSQL; the worker keeps its
  reminder jobs in the database.
- `dapr`: `todo.devstack.stack.DevStack`, the production shape: backend and worker each
  behind a real daprd, the Dapr scheduler, Kafka and PostgreSQL.

A service's environment is never spelled by hand: it is built from the service's own
typed settings (`BackendSettings`, `WorkerSettings`) by `settings_env`, so the contract
between a launcher and a service has one definition, the settings class.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any, TypeVar, cast

from pydantic_settings import BaseSettings

from todo.backend.settings import BackendSettings, BusKind
from todo.devstack.kafka import KafkaBroker, ensure_topics
from todo.devstack.ports import free_port
from todo.devstack.postgres import create_database, drop_database
from todo.devstack.processes import PythonService, python_env
from todo.worker.settings import WorkerSettings

READY_TIMEOUT_S = 90.0

S = TypeVar("S", bound=BaseSettings)


class ShapeName(StrEnum):
    EMBEDDED = "embedded"
    KAFKA = "kafka"
    DAPR = "dapr"


def _env_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Enum):
        return str(value.value)
    return str(value)


def settings_env(settings: BaseSettings) -> dict[str, str]:
    """The variables that make a service read exactly the fields set on `settings` (its
    env prefix, or a field's own alias such as DAPR_HTTP_PORT)."""
    prefix = settings.model_config.get("env_prefix", "")
    env: dict[str, str] = {}
    for name in settings.model_fields_set:
        info = type(settings).model_fields[name]
        alias = info.validation_alias
        variable = alias if isinstance(alias, str) else f"{prefix}{name}".upper()
        env[variable] = _env_value(getattr(settings, name))
    return env


def settings_of(cls: type[S], **fields: Any) -> S:
    """Settings of exactly these fields, validated, and not read from this process's own
    environment as a BaseSettings otherwise is. Aliased fields take their alias
    (DAPR_HTTP_PORT=...)."""

    class Exact(cls):  # type: ignore[valid-type, misc]
        @classmethod
        def settings_customise_sources(
            cls, settings_cls: type[BaseSettings], init_settings: Any, **others: Any
        ) -> tuple[Any, ...]:
            return (init_settings,)

    exact = Exact(**fields)
    return cast(S, cls.model_construct(_fields_set=set(exact.model_fields_set), **exact.__dict__))


def child_env(*settings: BaseSettings, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's environment without its TODO_* variables (a developer's settings
    must not leak into a service), plus the services' settings, with this import path."""
    env: dict[str, str] = {}
    for item in settings:
        env.update(settings_env(item))
    return python_env({**env, **(extra or {})}, drop_prefix="TODO_")


def backend_settings(port: int, data_dir: Path, **fields: Any) -> BackendSettings:
    """A local backend on 127.0.0.1:`port` with a fresh signing key."""
    return settings_of(
        BackendSettings,
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        jwt_secret=secrets.token_urlsafe(48),
        **fields,
    )


def backend_service(settings: BackendSettings, log: Path) -> PythonService:
    return PythonService("backend", "todo.backend.main", settings.port, child_env(settings), log)


def worker_service(settings: WorkerSettings, log: Path, name: str = "worker") -> PythonService:
    return PythonService(name, "todo.worker.main", settings.port, child_env(settings), log)


@dataclass
class Running:
    """A shape that is up: where it answers, and its processes (for logs and faults)."""

    shape: ShapeName
    base_url: str
    backend: PythonService
    worker: PythonService | None = None
    kafka: KafkaBroker | None = None
    database_url: str | None = None
    services: list[PythonService] = field(default_factory=list)


@contextlib.asynccontextmanager
async def embedded(
    work_dir: Path,
    *,
    database_url: str | None = None,
    logs: Path | None = None,
    log_level: str = "WARNING",
    backend_overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[Running]:
    """The embedded shape on SQLite in `work_dir`, or on the database `database_url`;
    logs in `logs` (default `work_dir/logs`); `backend_overrides` are more backend settings."""
    logs = logs or work_dir / "logs"
    fields: dict[str, Any] = {
        "log_level": log_level,
        "migrate_on_start": True,
        **(backend_overrides or {}),
    }
    if database_url:
        fields["database_url"] = database_url
    settings = backend_settings(free_port(), work_dir / "data", **fields)
    backend = backend_service(settings, logs / "backend.log")
    try:
        backend.start()
        await backend.wait_ready(READY_TIMEOUT_S)
        yield Running(ShapeName.EMBEDDED, backend.url, backend, services=[backend])
    finally:
        await backend.stop()


@contextlib.asynccontextmanager
async def kafka(
    work_dir: Path,
    *,
    postgres_admin_url: str,
    logs: Path | None = None,
    log_level: str = "WARNING",
    backend_overrides: Mapping[str, Any] | None = None,
) -> AsyncIterator[Running]:
    """Backend and worker services over a Kafka broker of their own and a fresh
    PostgreSQL database (dropped afterwards); logs in `logs` (default `work_dir/logs`);
    `backend_overrides` are more backend settings."""
    logs = logs or work_dir / "logs"
    broker = KafkaBroker.on_free_ports(work_dir / "kafka")
    services: list[PythonService] = []
    database_url: str | None = None
    try:
        await broker.start()
        await ensure_topics(broker.bootstrap)
        database_url = await create_database(postgres_admin_url)
        app_token = secrets.token_urlsafe(24)
        backend = backend_service(
            backend_settings(
                free_port(),
                work_dir / "data",
                database_url=database_url,
                bus=BusKind.KAFKA,
                kafka_bootstrap=broker.bootstrap,
                embedded_worker=False,
                app_api_token=app_token,
                log_level=log_level,
                **(backend_overrides or {}),
            ),
            logs / "backend.log",
        )
        services.append(backend)
        backend.start()
        await backend.wait_ready(READY_TIMEOUT_S)
        worker = worker_service(
            settings_of(
                WorkerSettings,
                host="127.0.0.1",
                port=free_port(),
                kafka_bootstrap=broker.bootstrap,
                backend_url=backend.url,
                app_api_token=app_token,
                database_url=database_url,
                log_level=log_level,
            ),
            logs / "worker.log",
        )
        services.append(worker)
        worker.start()
        await worker.wait_ready(READY_TIMEOUT_S)
        yield Running(
            ShapeName.KAFKA,
            backend.url,
            backend,
            worker=worker,
            kafka=broker,
            database_url=database_url,
            services=services,
        )
    finally:
        for service in reversed(services):
            await service.stop()
        await broker.stop()
        if database_url is not None:
            with contextlib.suppress(Exception):
                await drop_database(postgres_admin_url, database_url)
