"""PostgreSQL reads a default page in its index's order: the page's own rows, not every
task of the owner sorted, and the total counted once, apart from the rows."""

from __future__ import annotations

import json
from typing import Any

import asyncpg
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from todo.backend.migrate import upgrade_async
from todo.backend.tasks.queries import TaskQuery, page_statement

pytestmark = pytest.mark.postgres

OWNER_TASKS = 1000


async def plan_of(url: str, query: TaskQuery, values: dict[str, Any]) -> dict[str, Any]:
    engine = create_async_engine(url)
    try:
        compiled = page_statement(query, "postgresql").compile(dialect=engine.dialect)
    finally:
        await engine.dispose()
    arguments = [{"string_agg_2": ",", **values}[name] for name in compiled.positiontup or ()]
    connection = await asyncpg.connect(url.replace("+asyncpg", "", 1))
    try:
        # The generic plan: what a prepared statement (the driver's) runs after five calls.
        await connection.execute("SET plan_cache_mode = force_generic_plan")
        statement = await connection.prepare(f"EXPLAIN (FORMAT JSON) {compiled.string}")
        plan: dict[str, Any] = json.loads(await statement.fetchval(*arguments))[0]["Plan"]
        return plan
    finally:
        await connection.close()


def nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += nodes(child)
    return found


async def seed(url: str) -> None:
    connection = await asyncpg.connect(url.replace("+asyncpg", "", 1))
    try:
        await connection.execute(
            "INSERT INTO users (id, email, display_name, token_version, created_at) "
            "SELECT 'u' || u, 'u' || u || '@example.com', '', 1, now() "
            "FROM generate_series(1, 8) AS u"
        )
        await connection.execute(
            "INSERT INTO tasks (id, owner_id, title, notes, status, priority, priority_rank, "
            "due_at, time_zone, reminders, series_id, occurrence_number, created_at, "
            "updated_at, version) "
            "SELECT 't' || u || '-' || g, 'u' || u, 'task ' || g, '', 'open', 'medium', 2, "
            "CASE WHEN g % 5 = 0 THEN NULL ELSE now() + g * interval '1 hour' END, 'UTC', "
            "'[]', 't' || u || '-' || g, 1, now(), now(), 1 "
            "FROM generate_series(1, $1::int) AS g, generate_series(1, 8) AS u",
            OWNER_TASKS,
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def test_a_default_page_reads_its_rows_in_index_order_and_counts_apart(
    postgres_url: str,
) -> None:
    await upgrade_async(postgres_url)
    await seed(postgres_url)
    plan = await plan_of(
        postgres_url, TaskQuery(limit=25), {"owner_id": "u1", "limit": 25, "offset": 0}
    )
    kinds = [node["Node Type"] for node in nodes(plan)]
    assert "Sort" not in kinds, f"every task of the owner sorted: {kinds}"
    assert "WindowAgg" not in kinds, f"a window over every row of the owner: {kinds}"
    scans = [node for node in nodes(plan) if node.get("Relation Name") == "tasks"]
    assert any(node.get("Index Name") == "ix_tasks_owner_page_order" for node in scans), scans
    counted = [node for node in nodes(plan) if node.get("Parent Relationship") == "InitPlan"]
    assert counted, "the total is not counted once, before the page"
