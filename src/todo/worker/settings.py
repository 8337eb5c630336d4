"""Typed configuration of the worker, from environment variables (prefix `TODO_WORKER_`)."""

from __future__ import annotations

from functools import lru_cache

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TODO_WORKER_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8001, ge=0, le=65535)
    log_level: str = "INFO"
    json_logs: bool = False


@lru_cache
def get_settings() -> WorkerSettings:
    return WorkerSettings()
