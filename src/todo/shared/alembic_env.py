"""What every Alembic environment of the project does: migrate with an async engine, on
SQLite (batch mode) and PostgreSQL alike. Each schema owner's `env.py` calls `run` with
its own tables and version table, so two owners can share a database."""

from __future__ import annotations

import asyncio
import weakref
import zlib

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from todo.shared.database_url import asyncpg_url


def run(target_metadata: MetaData, version_table: str = "alembic_version") -> None:
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or ""

    def migrate(connection: Connection) -> None:
        if connection.dialect.name == "sqlite":
            # WAL from the database's first migration on, set by this one connection:
            # the app's pools then only read the mode. Left to them, their first
            # connections raced to switch it, and SQLite refused one at once.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
            connection.commit()
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
        engine = create_async_engine(asyncpg_url(url))
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
            await connection.commit()
        await engine.dispose()

    shared = config.attributes.get("connection")
    if shared is not None:
        # `upgrade_async`: the caller's event loop holds the connection and drives this
        # through run_sync; no loop of our own.
        migrate(shared)
        return
    if context.is_offline_mode():
        context.configure(
            url=asyncpg_url(url), target_metadata=target_metadata, version_table=version_table
        )
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(migrate_async())


def _config(script_location: str, database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", script_location)
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade(script_location: str, database_url: str, revision: str = "head") -> None:
    """Apply the migrations under `script_location` to `database_url` (with no event loop
    running in this thread: env.py runs one of its own)."""
    command.upgrade(_config(script_location, database_url), revision)


# Alembic's `context` is one module-level proxy: two upgrades interleaved on one loop would
# swap it under each other, so a loop runs them one at a time.
_upgrade_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
    weakref.WeakKeyDictionary()
)


async def upgrade_async(script_location: str, database_url: str, revision: str = "head") -> None:
    """`upgrade` on the caller's event loop: one async connection, Alembic's synchronous API
    driven on it through run_sync (a greenlet), the database I/O awaited like any other.

    Not a thread running env.py's own event loop: that put a second loop, its driver
    threads and its greenlets beside the app's, and the app's garbage collector could reach
    their objects while they ran (a test process once died of a segmentation fault there).
    Reading the migration scripts does hold this loop for a moment; it runs at start-up,
    before anything is served."""

    def migrate_on(connection: Connection) -> None:
        config = _config(script_location, database_url)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)

    lock = _upgrade_locks.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    async with lock:
        engine = create_async_engine(asyncpg_url(database_url))
        try:
            async with engine.connect() as connection:
                await connection.run_sync(migrate_on)
                await connection.commit()
        finally:
            await engine.dispose()
