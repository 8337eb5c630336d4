"""The worker service: consumes task events, fires reminders, rolls recurring tasks.

Its handlers live in `todo.worker.handlers` and are shared with the embedded backend."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel

from todo.shared.bus_kafka import KafkaEventBus
from todo.shared.db import create_engine, session_factory
from todo.shared.events import CloudEvent, EventType, Topic
from todo.shared.metrics import REMINDER_DELIVERY_LATENESS
from todo.shared.observability import configure_logging, health_router, instrument
from todo.shared.scheduler_db import DatabaseScheduler, ScheduledJob
from todo.worker.gateway_http import HttpTaskGateway
from todo.worker.handlers import ReminderService, TaskEventHandler
from todo.worker.settings import WorkerSettings, get_settings

log = logging.getLogger(__name__)


async def observe_reminder(event: CloudEvent) -> None:
    """Consumes `reminders`: the point where a reminder counts as delivered."""
    if event.type == EventType.REMINDER_DUE:
        due = event.reminder_data().fire_at
        REMINDER_DELIVERY_LATENESS.observe((datetime.now(UTC) - due).total_seconds())


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    engines: list[AsyncEngine] = []
    buses: list[KafkaEventBus] = []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            url = make_url(settings.database_url)
            if url.get_backend_name() == "sqlite" and url.database:
                Path(url.database).parent.mkdir(parents=True, exist_ok=True)
            engine = create_engine(settings.database_url)
            stack.push_async_callback(engine.dispose)
            async with engine.begin() as conn:
                # The scheduler's one table; created here when the worker has a store of its own.
                await conn.run_sync(
                    SQLModel.metadata.create_all,
                    tables=[ScheduledJob.__table__],  # type: ignore[attr-defined]
                )
            sessions = session_factory(engine)
            client = httpx.AsyncClient(
                base_url=settings.backend_url,
                headers={"dapr-api-token": settings.app_api_token},
                timeout=10,
            )
            stack.push_async_callback(client.aclose)
            gateway = HttpTaskGateway(client)
            scheduler = DatabaseScheduler(sessions)
            reminders = ReminderService(scheduler, gateway)
            scheduler.set_handler(reminders.on_job)
            bus = KafkaEventBus(settings.kafka_bootstrap, client_id="todo-worker")
            bus.subscribe(
                Topic.TASK_EVENTS, settings.consumer_group, TaskEventHandler(reminders, gateway)
            )
            bus.subscribe(Topic.REMINDERS, settings.consumer_group, observe_reminder)
            await bus.start()
            stack.push_async_callback(bus.stop)
            await scheduler.start()
            stack.push_async_callback(scheduler.stop)
            engines.append(engine)
            buses.append(bus)
            log.info("worker started", extra={"group": settings.consumer_group})
            yield

    async def store_ready() -> None:
        async with engines[0].connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def kafka_ready() -> None:
        if not buses[0].ready:
            raise ConnectionError(f"Kafka at {settings.kafka_bootstrap} not connected")

    app = FastAPI(title="Todo Cloud worker", version="0.1.0", lifespan=lifespan)
    configure_logging(settings.log_level, settings.json_logs)
    instrument(app)
    app.include_router(health_router({"scheduler store": store_ready, "kafka": kafka_ready}))
    return app
