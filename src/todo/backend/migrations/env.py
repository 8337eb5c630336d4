"""Alembic environment of the backend's tables (the scheduler's store has its own)."""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlmodel import SQLModel

import todo.backend.models  # noqa: F401 (registers the tables on SQLModel.metadata)
from todo.shared import alembic_env
from todo.shared.scheduler_db import ScheduledJob

# The backend's tables only: SQLModel's metadata holds the scheduler's table too.
metadata = MetaData()
for table in SQLModel.metadata.sorted_tables:
    if table is not ScheduledJob.__table__:  # type: ignore[attr-defined]
        table.to_metadata(metadata)
alembic_env.run(metadata)
