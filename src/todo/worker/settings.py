"""Typed configuration of the worker, from environment variables (prefix `TODO_WORKER_`)."""

from __future__ import annotations

from enum import StrEnum
from functools import lru_cache
from typing import Self

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from todo.shared.database_url import asyncpg_url
from todo.shared.settings_common import Environment, refuse_weak_secret


class WorkerBus(StrEnum):
    KAFKA = "kafka"
    DAPR = "dapr"


class WorkerSettings(BaseSettings):
    # A refused value is never printed: it may be a secret.
    model_config = SettingsConfigDict(
        env_prefix="TODO_WORKER_", extra="ignore", hide_input_in_errors=True
    )

    environment: Environment = Environment.LOCAL
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
    dapr_grpc_port: int = Field(default=50001, validation_alias="DAPR_GRPC_PORT")
    dapr_api_token: str = Field(default="", validation_alias="DAPR_API_TOKEN")
    backend_app_id: str = "todo-backend"
    pubsub_name: str = "pubsub"
    state_store_name: str = "statestore"
    # Reminder jobs (Dapr shape): a failed callback is tried again every
    # `reminder_retry_seconds` for as long as the reminder is useful, then dropped; the
    # reconciler restores no reminder older than that either.
    reminder_retry_seconds: int = Field(default=3, ge=1)
    reminder_useful_for_seconds: int = Field(default=3600, ge=60)
    # The scheduler watch: probe (readiness, lost jobs) and reconcile periods.
    scheduler_probe_seconds: float = Field(default=5.0, gt=0)
    # A Jobs API call that takes longer has failed (a restarted scheduler hangs them).
    scheduler_call_timeout_seconds: float = Field(default=5.0, gt=0)
    reconcile_seconds: float = Field(default=60.0, gt=0)
    # Dead letters (both shapes): with a Kafka to reach (plaintext), the worker reports the
    # depth of `<topic>.dlq` and replays its events older than `dlq_retry_after_seconds`
    # every `dlq_check_seconds` (empty: no automatic retry tier; `todo.worker.dlq` by hand).
    dlq_kafka_bootstrap: str = ""
    dlq_check_seconds: float = Field(default=60.0, gt=0)
    dlq_retry_after_seconds: float = Field(default=300.0, ge=0)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        asyncpg_url(value)  # refused at start with the reason, never echoing the URL
        return value

    @model_validator(mode="after")
    def _refuse_weak_secrets_outside_local(self) -> Self:
        if self.environment is not Environment.LOCAL:
            where = f"when TODO_WORKER_ENVIRONMENT={self.environment.value}"
            refuse_weak_secret("TODO_WORKER_APP_API_TOKEN", self.app_api_token, where)
            refuse_weak_secret("DAPR_API_TOKEN", self.dapr_api_token, where)
        return self


@lru_cache
def get_settings() -> WorkerSettings:
    return WorkerSettings()
