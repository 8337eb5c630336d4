"""The worker's composition root: the reminder machinery of `todo.domain.handlers`, wired
to Kafka with the database scheduler, or to a Dapr sidecar (subscriptions, Jobs API,
service invocation, state store).

Everything is built when the app is created (no I/O); the lifespan starts and stops
what runs in the background.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from fastapi import APIRouter, FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url

from todo.domain.handlers import reminder_machinery
from todo.shared.background import Background
from todo.shared.bus_kafka import KafkaEventBus
from todo.shared.dapr import (
    DaprEventBus,
    DaprStateIdempotencyStore,
    SidecarGrpc,
    sidecar_client,
)
from todo.shared.dapr_routes import dapr_job_router, dapr_subscription_router
from todo.shared.db import create_engine, session_factory
from todo.shared.heap import freeze_startup_heap
from todo.shared.observability import ReadinessCheck, configure_logging, health_router, instrument
from todo.shared.scheduler_db import DatabaseScheduler, upgrade_store
from todo.worker.gateway_http import HttpTaskGateway
from todo.worker.reminder_jobs import dead_letter_watches, reminder_jobs
from todo.worker.settings import WorkerBus, WorkerSettings, get_settings

log = logging.getLogger(__name__)


@dataclass
class Shape:
    """One way of running the worker: what it starts, what readiness checks, the routes
    the sidecar calls, and what to prepare before starting."""

    name: str
    background: list[Background]
    checks: dict[str, ReadinessCheck]
    routers: list[APIRouter] = field(default_factory=list)
    prepare: list[Callable[[], Awaitable[None]]] = field(default_factory=list)
    close: list[Callable[[], Awaitable[None]]] = field(default_factory=list)


def kafka_shape(settings: WorkerSettings) -> Shape:
    engine = create_engine(settings.database_url)
    client = httpx.AsyncClient(
        base_url=settings.backend_url,
        headers={"dapr-api-token": settings.app_api_token},
        timeout=10,
    )
    scheduler = DatabaseScheduler(session_factory(engine))
    bus = KafkaEventBus(settings.kafka_bootstrap, client_id="todo-worker")
    reminder_machinery(scheduler, HttpTaskGateway(client), bus, settings.consumer_group)

    async def prepare_store() -> None:
        url = make_url(settings.database_url)
        if url.get_backend_name() == "sqlite" and url.database:
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        await upgrade_store(settings.database_url)

    async def store_ready() -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def kafka_ready() -> None:
        if not bus.ready:
            raise ConnectionError(f"Kafka at {settings.kafka_bootstrap} not connected")

    return Shape(
        name="kafka",
        background=[bus, scheduler, *dead_letter_watches(settings)],
        checks={"scheduler store": store_ready, "kafka": kafka_ready},
        prepare=[prepare_store],
        close=[client.aclose, engine.dispose],
    )


def dapr_shape(settings: WorkerSettings) -> Shape:
    sidecar = sidecar_client(settings.dapr_http_port, settings.dapr_api_token)
    invoke = httpx.AsyncClient(
        base_url=(
            f"http://127.0.0.1:{settings.dapr_http_port}"
            f"/v1.0/invoke/{settings.backend_app_id}/method"
        ),
        headers=sidecar.headers,
        timeout=10,
    )
    gateway = HttpTaskGateway(invoke)
    grpc = SidecarGrpc(sidecar, settings.dapr_grpc_port)
    jobs, scheduling, watch = reminder_jobs(settings, grpc, gateway)
    bus = DaprEventBus(
        sidecar,
        pubsub=settings.pubsub_name,
        idempotency=DaprStateIdempotencyStore(grpc, store=settings.state_store_name),
    )
    machinery = reminder_machinery(scheduling, gateway, bus, settings.consumer_group)

    async def sidecar_ready() -> None:
        response = await sidecar.get("/v1.0/healthz")
        if response.status_code >= 300:
            raise ConnectionError(f"Dapr sidecar not healthy: {response.status_code}")

    async def scheduler_ready() -> None:
        jobs.scheduling.check()

    return Shape(
        name="dapr",
        background=[watch, *dead_letter_watches(settings)],
        checks={"dapr sidecar": sidecar_ready, "dapr scheduler": scheduler_ready},
        routers=[
            dapr_subscription_router(bus, settings.app_api_token),
            dapr_job_router(machinery.on_job, settings.app_api_token),
        ],
        close=[sidecar.aclose, invoke.aclose, grpc.close],
    )


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.json_logs)
    shape = dapr_shape(settings) if settings.bus is WorkerBus.DAPR else kafka_shape(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            for close in shape.close:
                stack.push_async_callback(close)
            for prepare in shape.prepare:
                await prepare()
            for component in shape.background:
                await component.start()
                stack.push_async_callback(component.stop)
            log.info("worker started", extra={"shape": shape.name})
            freeze_startup_heap()
            yield

    app = FastAPI(title="Todo Cloud worker", version="0.1.0", lifespan=lifespan)
    instrument(app)
    app.include_router(health_router(shape.checks))
    for router in shape.routers:
        app.include_router(router)
    return app
