"""What every Alembic environment of the project does: migrate with an async engine, on
SQLite (batch mode) and PostgreSQL alike. Each schema owner's `env.py` calls `run` with
its own tables and version table, so two owners can share a database."""

from __future__ import annotations

import asyncio
import zlib

from alembic import context
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def run(target_metadata: MetaData, version_table: str = "alembic_version") -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or ""

    def migrate(connection: Connection) -> None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            version_table=version_table,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
        )
        with context.begin_transaction():
            if connection.dialect.name == "postgresql":
                # Processes that start together (TODO_WORKERS, replicas migrating on
                # start) take turns: the next one reads the version table after the
                # first committed, finds it at head and does nothing, instead of racing
                # it to CREATE TABLE. Held until this transaction ends.
                key = zlib.crc32(version_table.encode())
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
            context.run_migrations()

    async def migrate_async() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, version_table=version_table)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(migrate_async())


def upgrade(script_location: str, database_url: str, revision: str = "head") -> None:
    """Apply the migrations under `script_location` to `database_url`."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    command.upgrade(config, revision)
