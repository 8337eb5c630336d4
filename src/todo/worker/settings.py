"""Typed configuration of the worker, from environment variables (prefix `TODO_WORKER_`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerBus(StrEnum):
    KAFKA = "kafka"


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TODO_WORKER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    log_level: str = "INFO"
    json_logs: bool = False
    bus: WorkerBus = WorkerBus.KAFKA
    kafka_bootstrap: str = "127.0.0.1:9092"
    consumer_group: str = "todo-worker"
    # The backend's internal API (directly, or a Dapr invocation URL) and its app token.
    backend_url: str = "http://127.0.0.1:8000"
    app_api_token: str = ""
    # Where the reminder scheduler keeps its jobs (PostgreSQL in production).
    database_url: str = "sqlite+aiosqlite:///.todo-data/worker.db"


@lru_cache
def get_settings() -> WorkerSettings:
    return WorkerSettings()
