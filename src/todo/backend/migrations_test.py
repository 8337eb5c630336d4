"""Migration 0003_sessions keeps every account, tasks included, and moves each external
account's "issuer|subject" key into external_identities (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from importlib.resources import files

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import create_async_engine

from todo.backend.migrate import upgrade, upgrade_async


def _downgrade(url: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(files("todo.backend") / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.downgrade(config, revision)


async def _execute(url: str, *statements: str) -> list[list[tuple[object, ...]]]:
    engine = create_async_engine(url)
    results = []
    async with engine.begin() as connection:
        for statement in statements:
            result = await connection.execute(sa.text(statement))
            results.append([tuple(row) for row in result.all()] if result.returns_rows else [])
    await engine.dispose()
    return results


async def test_upgrade_moves_external_subjects_and_keeps_tasks(database_url: str) -> None:
    await asyncio.to_thread(upgrade, database_url, "0001")
    await _execute(
        database_url,
        "INSERT INTO users (id, email, display_name, external_subject, created_at) VALUES "
        "('u-ext', 'g@example.com', 'G', 'https://issuer.example|ext-42', CURRENT_TIMESTAMP), "
        "('u-local', 'l@example.com', 'L', NULL, CURRENT_TIMESTAMP)",
        "INSERT INTO tasks (id, owner_id, title, notes, status, priority, priority_rank, "
        "time_zone, series_id, occurrence_number, created_at, updated_at, version) VALUES "
        "('t1', 'u-local', 'kept', '', 'open', 'medium', 1, 'UTC', 's1', 1, "
        "CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
    )
    await asyncio.to_thread(upgrade, database_url, "0003_sessions")
    identities, tasks, versions = await _execute(
        database_url,
        "SELECT issuer, subject, user_id FROM external_identities",
        "SELECT id, owner_id FROM tasks",
        "SELECT id, token_version FROM users ORDER BY id",
    )
    assert identities == [("https://issuer.example", "ext-42", "u-ext")]
    assert tasks == [("t1", "u-local")]
    assert versions == [("u-ext", 0), ("u-local", 0)]
    # And back: the key is rebuilt.
    await asyncio.to_thread(_downgrade, database_url, "0001")
    (keys,) = await _execute(database_url, "SELECT id, external_subject FROM users ORDER BY id")
    assert keys == [("u-ext", "https://issuer.example|ext-42"), ("u-local", None)]


@pytest.mark.postgres()
@pytest.mark.timeout(120)
async def test_processes_starting_at_once_migrate_an_empty_database_once(
    postgres_url: str,
) -> None:
    """Several server processes (TODO_WORKERS, on PostgreSQL) or replicas start together
    and each migrates on start: every upgrade succeeds and the schema ends at head, once.
    Before the advisory lock, all but one failed on CREATE TABLE alembic_version."""
    database_url = postgres_url
    loop = asyncio.get_running_loop()
    # Processes, as in production: Alembic's context is one per process.
    spawn = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(4, mp_context=spawn) as processes:
        upgrades = [loop.run_in_executor(processes, upgrade, database_url) for _ in range(4)]
        results = await asyncio.gather(*upgrades, return_exceptions=True)
    assert [r for r in results if isinstance(r, BaseException)] == []
    ((versions,),) = await _execute(database_url, "SELECT count(*) FROM alembic_version")
    assert versions == (1,)


async def test_the_async_upgrade_runs_on_the_callers_loop(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On start the app migrates on its own event loop: no second loop (env.py's
    asyncio.run) and no worker thread beside it, whose objects the app's garbage collector
    could reach while they run. Twice (the second finds head), and two at once (Alembic's
    one context, taken in turn)."""

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError("the upgrade started an event loop or a thread of its own")

    monkeypatch.setattr(asyncio, "run", refused)
    monkeypatch.setattr(asyncio, "new_event_loop", refused)
    monkeypatch.setattr(asyncio, "to_thread", refused)
    await upgrade_async(database_url)
    await asyncio.gather(upgrade_async(database_url), upgrade_async(database_url))
    (versions, jobs) = await _execute(
        database_url,
        "SELECT version_num FROM alembic_version",
        "SELECT count(*) FROM alembic_version_scheduler",
    )
    assert len(versions) == 1
    assert jobs == [(1,)]
