"""The backend's composition root: API, web UI, live updates and the outbox relay, and in
the embedded shape the reminder machinery with the database scheduler in the same
process.

Everything is built when the app is created (no I/O); the lifespan only prepares the
database and starts and stops what runs in the background.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import Depends, FastAPI
from sqlalchemy import text

from todo.backend.api.errors import install_error_handlers
from todo.backend.api.router import api_router, internal_router
from todo.backend.auth import TokenIssuer
from todo.backend.body_limit import BodyLimit
from todo.backend.gateway_local import LocalTaskGateway
from todo.backend.live import LiveUpdates, SubscriptionProbe
from todo.backend.migrate import upgrade_async
from todo.backend.outbox import OutboxRelay, OutboxSignal
from todo.backend.rate_limits import AbusePolicy
from todo.backend.runtime import Runtime
from todo.backend.security_headers import SecurityHeaders
from todo.backend.settings import BackendSettings, BusKind, get_settings
from todo.backend.unavailable import install_database_outage_handlers
from todo.backend.web import web_router
from todo.domain.events import Topic
from todo.domain.handlers import reminder_machinery
from todo.domain.ports import EventBus
from todo.shared.bus_kafka import KafkaEventBus
from todo.shared.bus_memory import MemoryEventBus
from todo.shared.dapr import DaprEventBus, sidecar_client
from todo.shared.dapr_routes import dapr_subscription_router, require_app_token
from todo.shared.db import is_sqlite, open_database
from todo.shared.heap import freeze_startup_heap
from todo.shared.observability import configure_logging, health_router, instrument
from todo.shared.scheduler_db import DatabaseScheduler

log = logging.getLogger(__name__)

# The embedded worker's consumer group, as the worker service names its own.
EMBEDDED_WORKER_GROUP = "worker"


def build_bus(settings: BackendSettings) -> EventBus:
    if settings.bus is BusKind.MEMORY:
        return MemoryEventBus()
    if settings.bus is BusKind.KAFKA:
        return KafkaEventBus(settings.kafka_bootstrap, client_id="todo-backend")
    return DaprEventBus(
        sidecar_client(settings.dapr_http_port, settings.dapr_api_token),
        pubsub=settings.pubsub_name,
        publish_grace_seconds=settings.publish_grace_seconds,
    )


def build_runtime(settings: BackendSettings) -> Runtime:
    url = settings.resolved_database_url()
    signal = OutboxSignal()
    database = open_database(url, settings.database_pool_size, after_commit=signal.after_commit)
    sessions = database.writes
    bus = build_bus(settings)
    relay = OutboxRelay(
        sessions,
        bus,
        signal,
        poll_seconds=settings.outbox_poll_seconds,
        linger_seconds=settings.outbox_linger_seconds,
        reads=database.reads if database.single_writer_connection else None,
    )
    live = LiveUpdates(per_user=settings.live_streams_per_user, total=settings.live_streams_total)
    live_probe = SubscriptionProbe(bus)
    # Every replica sees every refresh (its browsers may belong to any user), from its start
    # on: a refresh is a hint for the browsers connected now, none of which needs history.
    bus.subscribe(
        Topic.TASK_UPDATES,
        f"backend-live-{uuid.uuid4().hex[:8]}",
        live_probe.handing_on_to(live),
        newest_only=True,
    )
    tokens = TokenIssuer(
        secret=settings.resolved_jwt_secret(),
        issuer=settings.jwt_issuer,
        audience=settings.jwt_audience,
        lifetime=timedelta(minutes=settings.access_token_minutes),
        jwks_url=settings.jwks_url,
        external_issuer=settings.external_issuer,
        external_audience=settings.external_audience,
    )
    abuse = AbusePolicy.parse(
        settings.sign_up_rate, settings.sign_in_rate, settings.sign_in_failure_rate
    )
    runtime = Runtime(settings, database, bus, relay, live, tokens, abuse, live_probe=live_probe)
    if settings.embedded_worker:
        runtime.scheduler = DatabaseScheduler(sessions, database.reads)
        runtime.task_gateway = LocalTaskGateway(sessions, database.reads)
        reminder_machinery(runtime.scheduler, runtime.task_gateway, bus, EMBEDDED_WORKER_GROUP)
    return runtime


def create_app(settings: BackendSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.json_logs)
    runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.resolved_database_url()
        if is_sqlite(url):
            settings.data_dir.mkdir(parents=True, exist_ok=True)
        if settings.migrate_on_start:
            await upgrade_async(url, with_scheduler_store=settings.embedded_worker)
        async with AsyncExitStack() as stack:
            stack.push_async_callback(runtime.database.dispose)
            for component in runtime.background():
                await component.start()
                stack.push_async_callback(component.stop)
            log.info("backend started", extra={"database": runtime.engine.url.render_as_string()})
            freeze_startup_heap()
            yield

    async def database_ready() -> None:
        async with runtime.reads() as session:
            await session.execute(text("SELECT 1"))

    async def bus_ready() -> None:
        if isinstance(runtime.bus, DaprEventBus):
            await runtime.bus.check_ready()  # which part fails, since when
        elif not runtime.bus.ready:
            raise ConnectionError(f"event bus ({settings.bus.value}) not connected")

    app = FastAPI(
        title="Todo Cloud",
        version=settings.version,
        summary="Tasks with due dates, reminders and recurrence; every change is an event.",
        lifespan=lifespan,
        # Starlette's slash redirect builds its Location from the Host header.
        redirect_slashes=False,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_request_bytes)
    instrument(app)
    app.add_middleware(SecurityHeaders)
    install_database_outage_handlers(app, settings.retry_after_seconds)

    async def live_updates_ready() -> None:
        await runtime.live_probe.check(within=0.25)

    app.include_router(
        health_router(
            {"database": database_ready, "event bus": bus_ready, "live updates": live_updates_ready}
        )
    )
    app.include_router(api_router)
    app.include_router(
        internal_router, dependencies=[Depends(require_app_token(settings.app_api_token))]
    )
    app.include_router(web_router)
    if isinstance(runtime.bus, DaprEventBus):
        app.include_router(dapr_subscription_router(runtime.bus, settings.app_api_token))
    return app
