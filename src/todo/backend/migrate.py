"""Alembic migrations, run from code (on start in the embedded shape, as a Job in k8s)."""

from __future__ import annotations

import asyncio
from importlib.resources import files

from alembic import command
from alembic.config import Config


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("todo.backend") / "migrations"))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


async def upgrade_async(database_url: str) -> None:
    # env.py drives its own event loop: give it a thread of its own.
    await asyncio.to_thread(upgrade, database_url)


def main() -> None:
    """`todo-migrate`: apply every migration to TODO_DATABASE_URL."""
    from todo.backend.settings import get_settings

    settings = get_settings()
    upgrade(settings.resolved_database_url())
    print("migrations applied")


if __name__ == "__main__":
    main()
