"""Typed configuration of the backend, from environment variables (prefix `TODO_`)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from limits import parse_many
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from todo.shared.database_url import asyncpg_url
from todo.shared.settings_common import Environment, refuse_weak_secret


class BusKind(StrEnum):
    MEMORY = "memory"
    KAFKA = "kafka"
    DAPR = "dapr"


class CookieSecure(StrEnum):
    AUTO = "auto"
    ALWAYS = "always"
    NEVER = "never"


class BackendSettings(BaseSettings):
    # A refused value is never printed: it may be a secret.
    model_config = SettingsConfigDict(env_prefix="TODO_", extra="ignore", hide_input_in_errors=True)

    environment: Environment = Environment.LOCAL
    # What GET /api/v1/version reports: the images stamp the commit they were built from.
    version: str = "0.1.0"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    # Separate listeners (Kubernetes): the sidecar's on 127.0.0.1 (internal API, Dapr
    # deliveries) and the scraper's (/metrics); unset, the public listener serves them.
    internal_port: int | None = Field(default=None, ge=1, le=65535)
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    data_dir: Path = Path(".todo-data")
    # Empty: SQLite in data_dir. PostgreSQL: postgresql+asyncpg://user:pass@host/db
    database_url: str = ""
    # Connections per process, each kept once opened (`todo.shared.db.create_engine`).
    database_pool_size: int = Field(default=20, ge=1)
    jwt_secret: str = ""
    jwt_issuer: str = "todo-cloud"
    jwt_audience: str = "todo-cloud"
    access_token_minutes: int = Field(default=15, ge=1, le=24 * 60)
    refresh_token_days: int = Field(default=30, ge=1, le=365)
    # The refresh cookie's Secure flag: `auto` sets it except in local mode over plain
    # http (Safari refuses Secure cookies from http://localhost).
    cookie_secure: CookieSecure = CookieSecure.AUTO
    # Optional external issuer: tokens signed by its keys are accepted too.
    jwks_url: str = ""
    external_issuer: str = ""
    external_audience: str = ""
    # Abuse controls (docs/architecture.md, Security). Rates: `limits` notation,
    # several windows separated by ";".
    max_request_bytes: int = Field(default=256 * 1024, ge=1024)
    sign_up_rate: str = "5/minute;30/hour"
    sign_in_rate: str = "20/minute;200/hour"
    sign_in_failure_rate: str = "5/minute;20/hour;100/day"
    live_streams_per_user: int = Field(default=5, ge=1)
    live_streams_total: int = Field(default=2000, ge=1)
    # Streams re-read their user's token version this often (sign-out on another replica).
    live_recheck_seconds: float = Field(default=60.0, gt=0)
    # Slow or idle clients: a request (headers and body) must arrive within this long of
    # the connection opening or the previous response; an idle keep-alive closes sooner.
    request_read_timeout_seconds: float = Field(default=20.0, gt=0)
    keep_alive_seconds: float = Field(default=5.0, gt=0)
    bus: BusKind = BusKind.MEMORY
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Dapr shape: the sidecar (daprd reads the same DAPR_* variables).
    dapr_http_port: int = Field(default=3500, validation_alias="DAPR_HTTP_PORT")
    dapr_api_token: str = Field(default="", validation_alias="DAPR_API_TOKEN")
    pubsub_name: str = "pubsub"
    # Run the reminder machinery in this process, with the database scheduler (the embedded
    # shape); false when a worker service consumes the events.
    embedded_worker: bool = True
    # Server processes sharing the port (uvicorn workers), to use every core: more than
    # one needs the Kafka bus (each process its own live-update consumer) and PostgreSQL.
    workers: int = Field(default=1, ge=1, le=64)
    # The Dapr app API token: internal endpoints accept only calls that carry it.
    app_api_token: str = ""
    # Apply Alembic migrations at start-up (the embedded shape); Kubernetes runs a Job.
    migrate_on_start: bool = True
    log_level: str = "INFO"
    json_logs: bool = False
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Under a stream of changes the relay publishes at most this often, each batch taking
    # what gathered meanwhile (fewer, fuller batches); after a quiet spell it publishes
    # at once. The most it adds to an event's delay.
    outbox_linger_seconds: float = Field(default=0.005, ge=0, le=1)
    # Readiness: not ready once publishing events has failed for this long (Dapr shape).
    publish_grace_seconds: float = Field(default=10.0, ge=0)
    # A database outage answers 503 with this Retry-After.
    retry_after_seconds: int = Field(default=5, ge=1)

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        # Refused at start with the reason (a URL may hold a password: never echoed),
        # not by the driver at the first connection.
        if value:
            asyncpg_url(value)
        return value

    @field_validator("sign_up_rate", "sign_in_rate", "sign_in_failure_rate")
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            parse_many(value)
        except ValueError:
            raise ValueError(
                "a rate is COUNT/PERIOD, several separated by ';' (e.g. '5/minute;20/hour')"
            ) from None
        return value

    @model_validator(mode="after")
    def _external_issuer_with_jwks(self) -> Self:
        if self.jwks_url and not self.external_issuer:
            raise ValueError(
                "TODO_JWKS_URL is set but TODO_EXTERNAL_ISSUER is not: set it to the issuer "
                "(the tokens' `iss`) whose keys TODO_JWKS_URL serves"
            )
        return self

    @model_validator(mode="after")
    def _workers_need_a_shared_bus(self) -> Self:
        if self.workers > 1 and (self.bus is not BusKind.KAFKA or self.embedded_worker):
            raise ValueError(
                "TODO_WORKERS > 1 needs TODO_BUS=kafka and TODO_EMBEDDED_WORKER=false: every "
                "process must see every live update (an in-process bus keeps them to itself, "
                "and Dapr delivers each to one process of the app); with Dapr, run more pods"
            )
        if self.workers > 1 and not self.resolved_database_url().startswith("postgres"):
            raise ValueError("TODO_WORKERS > 1 needs PostgreSQL (TODO_DATABASE_URL)")
        if self.workers > 1 and not self.jwt_secret:
            raise ValueError(
                "TODO_WORKERS > 1 needs TODO_JWT_SECRET: every process must sign with one key"
            )
        if self.workers > 1 and (self.internal_port or self.metrics_port):
            raise ValueError(
                "TODO_WORKERS > 1 serves one listener: unset TODO_INTERNAL_PORT and "
                "TODO_METRICS_PORT (the separate listeners are for the Dapr shape, one process "
                "a pod)"
            )
        return self

    @model_validator(mode="after")
    def _refuse_placeholders_outside_local(self) -> Self:
        if self.environment is not Environment.LOCAL:
            where = f"when TODO_ENVIRONMENT={self.environment.value}"
            refuse_weak_secret("TODO_JWT_SECRET", self.jwt_secret, where, required=True)
            refuse_weak_secret("TODO_APP_API_TOKEN", self.app_api_token, where)
            refuse_weak_secret("DAPR_API_TOKEN", self.dapr_api_token, where)
            if self.bus is BusKind.MEMORY and not self.embedded_worker:
                raise ValueError("TODO_BUS=memory reaches no worker: use kafka or dapr")
            if not self.database_url:
                raise ValueError(
                    f"TODO_DATABASE_URL must be set when TODO_ENVIRONMENT={self.environment.value}"
                )
        return self

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'todo.db').resolve()}"

    def resolved_jwt_secret(self) -> str:
        """In local mode without a configured secret, keep one in the data dir so that
        tokens survive a restart; other environments were validated to have one."""
        if self.jwt_secret:
            return self.jwt_secret
        path = self.data_dir / "jwt-secret"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()


@lru_cache
def get_settings() -> BackendSettings:
    return BackendSettings()
