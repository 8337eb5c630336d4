"""Alembic environment of the database scheduler's store (its own version table, so it
can live in the backend's database or in a worker's database of its own)."""

from __future__ import annotations

from sqlalchemy import MetaData

from todo.shared import alembic_env
from todo.shared.scheduler_db import ScheduledJob

metadata = MetaData()
ScheduledJob.__table__.to_metadata(metadata)  # type: ignore[attr-defined]
alembic_env.run(metadata, version_table="alembic_version_scheduler")
