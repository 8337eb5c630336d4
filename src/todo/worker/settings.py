"""Typed configuration of the worker, from environment variables (prefix `TODO_WORKER_`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerBus(StrEnum):
    KAFKA = "kafka"
    DAPR = "dapr"


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
    # Kafka mode: where the reminder scheduler keeps its jobs.
    database_url: str = "sqlite+aiosqlite:///.todo-data/worker.db"
    # Dapr mode: the sidecar (its API token is DAPR_API_TOKEN, as daprd reads it too).
    dapr_http_port: int = Field(default=3500, validation_alias="DAPR_HTTP_PORT")
    dapr_api_token: str = Field(default="", validation_alias="DAPR_API_TOKEN")
    backend_app_id: str = "todo-backend"
    pubsub_name: str = "pubsub"
    state_store_name: str = "statestore"


@lru_cache
def get_settings() -> WorkerSettings:
    return WorkerSettings()
