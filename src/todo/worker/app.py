"""The worker service: consumes task events, fires reminders, rolls recurring tasks.

Its handlers live in `todo.worker.handlers` and are shared with the embedded backend."""

from __future__ import annotations

from fastapi import FastAPI

from todo.shared.observability import configure_logging, health_router, instrument
from todo.worker.settings import WorkerSettings, get_settings


def create_app(settings: WorkerSettings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(title="Todo Cloud worker", version="0.1.0")
    configure_logging(settings.log_level, settings.json_logs)
    instrument(app)
    app.include_router(health_router({}))
    return app
