"""The worker service: consumes task events, fires reminders, rolls recurring tasks.

Its handlers live in `todo.domain.handlers` and are shared with the embedded backend;
this module only wires them to Kafka (with the database scheduler) or to a Dapr sidecar
(subscriptions, Jobs API, service invocation, state store)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from todo.domain.events import CloudEvent, EventType, Topic
from todo.domain.handlers import ReminderService, TaskEventHandler
from todo.domain.metrics import REMINDER_DELIVERY_LATENESS
from todo.shared.bus_kafka import KafkaEventBus
from todo.shared.dapr import (
    DaprEventBus,
    DaprStateIdempotencyStore,
    SidecarGrpc,
    sidecar_client,
)
from todo.shared.dapr_routes import dapr_job_router, dapr_subscription_router
from todo.shared.db import create_engine, session_factory
from todo.shared.observability import ReadinessCheck, configure_logging, health_router, instrument
from todo.shared.scheduler_db import DatabaseScheduler, ScheduledJob
from todo.worker.gateway_http import HttpTaskGateway
from todo.worker.reminder_jobs import reminder_jobs, with_dead_letter_watch
from todo.worker.settings import WorkerBus, WorkerSettings, get_settings

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


async def observe_reminder(event: CloudEvent) -> None:
    """Consumes `reminders`: the point where a reminder counts as delivered."""
    if event.type == EventType.REMINDER_DUE:
        due = event.reminder_data().fire_at
        REMINDER_DELIVERY_LATENESS.observe((datetime.now(UTC) - due).total_seconds())


def _kafka_shape(settings: WorkerSettings) -> tuple[Lifespan, dict[str, ReadinessCheck]]:
    buses: list[KafkaEventBus] = []
    engines: list[AsyncEngine] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = make_url(settings.database_url)
            if url.get_backend_name() == "sqlite" and url.database:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(settings.database_url)
            stack.push_async_callback(engine.dispose)
            async with engine.begin() as conn:
                # The scheduler's one table, for a worker with a store of its own.
                await conn.run_sync(
                    SQLModel.metadata.create_all,
                    tables=[ScheduledJob.__table__],  # type: ignore[attr-defined]
                )
            client = httpx.AsyncClient(
                base_url=settings.backend_url,
                headers={"dapr-api-token": settings.app_api_token},
                timeout=10,
            )
            stack.push_async_callback(client.aclose)
            gateway = HttpTaskGateway(client)
            scheduler = DatabaseScheduler(session_factory(engine))
            reminders = ReminderService(scheduler, gateway)
            scheduler.set_handler(reminders.on_job)
            bus = KafkaEventBus(settings.kafka_bootstrap, client_id="todo-worker")
            group = settings.consumer_group
            bus.subscribe(Topic.TASK_EVENTS, group, TaskEventHandler(reminders, gateway))
            bus.subscribe(Topic.REMINDERS, group, observe_reminder)
            await bus.start()
            stack.push_async_callback(bus.stop)
            await scheduler.start()
            stack.push_async_callback(scheduler.stop)
            engines.append(engine)
            buses.append(bus)
            log.info("worker started (kafka)", extra={"group": group})
            yield

    async def store_ready() -> None:
        async with engines[0].connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def kafka_ready() -> None:
        if not buses[0].ready:
            raise ConnectionError(f"Kafka at {settings.kafka_bootstrap} not connected")

    return lifespan, {"scheduler store": store_ready, "kafka": kafka_ready}


def _dapr_shape(
    settings: WorkerSettings, app_routes: list[Callable[[FastAPI], None]]
) -> tuple[Lifespan, dict[str, ReadinessCheck]]:
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
    reminders = ReminderService(scheduling, gateway)
    bus = DaprEventBus(
        sidecar,
        pubsub=settings.pubsub_name,
        idempotency=DaprStateIdempotencyStore(grpc, store=settings.state_store_name),
    )
    bus.subscribe(Topic.TASK_EVENTS, settings.consumer_group, TaskEventHandler(reminders, gateway))
    bus.subscribe(Topic.REMINDERS, settings.consumer_group, observe_reminder)
    app_routes.append(
        lambda app: app.include_router(dapr_subscription_router(bus, settings.app_api_token))
    )
    app_routes.append(
        lambda app: app.include_router(dapr_job_router(reminders.on_job, settings.app_api_token))
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            stack.push_async_callback(sidecar.aclose)
            stack.push_async_callback(invoke.aclose)
            stack.push_async_callback(grpc.close)
            await watch.start()
            stack.push_async_callback(watch.stop)
            log.info("worker started (dapr)", extra={"sidecar": settings.dapr_http_port})
            yield

    async def sidecar_ready() -> None:
        response = await sidecar.get("/v1.0/healthz")
        if response.status_code >= 300:
            raise ConnectionError(f"Dapr sidecar not healthy: {response.status_code}")

    async def scheduler_ready() -> None:
        jobs.scheduling.check()

    return lifespan, {"dapr sidecar": sidecar_ready, "dapr scheduler": scheduler_ready}


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    routes: list[Callable[[FastAPI], None]] = []
    if settings.bus is WorkerBus.DAPR:
        lifespan, checks = _dapr_shape(settings, routes)
    else:
        lifespan, checks = _kafka_shape(settings)
    lifespan = with_dead_letter_watch(settings, lifespan)
    app = FastAPI(title="Todo Cloud worker", version="0.1.0", lifespan=lifespan)
    configure_logging(settings.log_level, settings.json_logs)
    instrument(app)
    app.include_router(health_router(checks))
    for add in routes:
        add(app)
    return app
