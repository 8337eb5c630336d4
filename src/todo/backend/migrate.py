"""Alembic migrations, run from code (on start in the embedded shape, as a Job in k8s).

Two schema owners share the backend's database: the backend's tables
(`todo.backend.migrations`) and, where the process runs the database scheduler (the
embedded shape), the scheduler's store (`todo.shared.scheduler_migrations`)."""

from __future__ import annotations

from importlib.resources import files

from todo.shared import alembic_env
from todo.shared.scheduler_db import upgrade_store


def upgrade(database_url: str, revision: str = "head") -> None:
    alembic_env.upgrade(str(files("todo.backend") / "migrations"), database_url, revision)


async def upgrade_async(database_url: str, *, with_scheduler_store: bool = True) -> None:
    await alembic_env.upgrade_async(str(files("todo.backend") / "migrations"), database_url)
    if with_scheduler_store:
        await upgrade_store(database_url)


def main() -> None:
    """`todo-migrate`: apply every migration to TODO_DATABASE_URL."""
    from todo.backend.settings import get_settings

    settings = get_settings()
    upgrade(settings.resolved_database_url())
    print("migrations applied")


if __name__ == "__main__":
    main()
