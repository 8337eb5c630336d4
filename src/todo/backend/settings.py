"""Typed configuration of the backend, from environment variables (prefix `TODO_`)."""

from __future__ import annotations

import secrets
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    LOCAL = "local"
    STAGING = "staging"
    PRODUCTION = "production"


class BusKind(StrEnum):
    MEMORY = "memory"
    KAFKA = "kafka"
    DAPR = "dapr"


PLACEHOLDER_SECRETS = frozenset({"", "changeme", "change-me", "secret", "changethis"})


class BackendSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TODO_", extra="ignore")

    environment: Environment = Environment.LOCAL
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    data_dir: Path = Path(".todo-data")
    # Empty: SQLite in data_dir. PostgreSQL: postgresql+asyncpg://user:pass@host/db
    database_url: str = ""
    database_pool_size: int = Field(default=10, ge=1)
    jwt_secret: str = ""
    jwt_issuer: str = "todo-cloud"
    jwt_audience: str = "todo-cloud"
    access_token_minutes: int = Field(default=60 * 24, ge=1)
    # Optional external issuer: tokens signed by its keys are accepted too.
    jwks_url: str = ""
    external_issuer: str = ""
    external_audience: str = ""
    bus: BusKind = BusKind.MEMORY
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Dapr shape: the sidecar (daprd reads the same DAPR_* variables).
    dapr_http_port: int = Field(default=3500, validation_alias="DAPR_HTTP_PORT")
    dapr_api_token: str = Field(default="", validation_alias="DAPR_API_TOKEN")
    pubsub_name: str = "pubsub"
    # Run the reminder machinery in this process, with the database scheduler (the embedded
    # shape); false when a worker service consumes the events.
    embedded_worker: bool = True
    # The Dapr app API token: internal endpoints accept only calls that carry it.
    app_api_token: str = ""
    # Apply Alembic migrations at start-up (the embedded shape); Kubernetes runs a Job.
    migrate_on_start: bool = True
    log_level: str = "INFO"
    json_logs: bool = False
    outbox_poll_seconds: float = Field(default=1.0, gt=0)

    @model_validator(mode="after")
    def _refuse_placeholders_outside_local(self) -> Self:
        if self.environment is not Environment.LOCAL:
            if self.jwt_secret.lower() in PLACEHOLDER_SECRETS or len(self.jwt_secret) < 32:
                raise ValueError(
                    "TODO_JWT_SECRET must be set to a random value of at least 32 characters "
                    f"when TODO_ENVIRONMENT={self.environment.value}"
                )
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
