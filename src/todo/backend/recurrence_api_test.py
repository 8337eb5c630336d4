"""Recurrence through the API: RRULE text in and out, rules stored in the earlier shape, and
series that cannot go on (on SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from sqlalchemy import text

from todo.backend.app import EMBEDDED_WORKER_GROUP, create_app
from todo.backend.conftest import make_settings, signup
from todo.domain.events import Topic
from todo.shared.db import dialect_name

API = "/api/v1/tasks"


async def eventually(probe: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last: {value!r})")
        await asyncio.sleep(0.05)


def error_for(response: httpx.Response, field: str) -> str:
    for e in response.json()["detail"]:
        if e["loc"][-1] == field:
            return str(e["msg"])
    raise AssertionError(f"no error for {field}: {response.text}")


async def create(client: httpx.AsyncClient, who: dict[str, str], **body: Any) -> dict[str, Any]:
    r = await client.post(API, headers=who, json={"title": "Recurring", **body})
    assert r.status_code == 201, r.text
    task: dict[str, Any] = r.json()
    return task


async def test_rrule_text_in_gives_the_structured_rule_and_the_text_out(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(
        client,
        alice,
        due_at="2026-01-19T09:00:00+01:00",
        time_zone="Europe/Berlin",
        rrule="RRULE:freq=monthly;byday=-2mo",
    )

    assert task["recurrence"]["by_day"] == [{"weekday": "MO", "ordinal": -2}]
    assert task["recurrence"]["basis"] == "due"
    assert task["rrule"] == "FREQ=MONTHLY;BYDAY=-2MO"
    assert task["recurrence_text"] == "Every month on the 2nd to last Monday"
    assert (await client.get(f"{API}/{task['id']}", headers=alice)).json() == task


async def test_structured_rule_in_gives_the_text_out_too(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(
        client,
        alice,
        due_at="2026-01-31T09:00:00Z",
        recurrence={"frequency": "monthly", "by_month_day": [31], "missing_day": "last_day"},
    )

    assert task["rrule"] == "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;SKIP=BACKWARD"
    assert task["recurrence_text"] == "Every month on the 31st (or the month's last day)"


async def test_the_basis_of_rrule_text_goes_beside_it(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(
        client,
        alice,
        due_at="2026-01-05T09:00:00Z",
        rrule="FREQ=WEEKLY;BYDAY=MO,TH",
        recurrence_basis="completion",
    )

    assert task["recurrence"]["basis"] == "completion"
    assert task["rrule"] == "FREQ=WEEKLY;BYDAY=MO,TH"


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        (
            {"rrule": "FREQ=DAILY", "recurrence": {"frequency": "daily"}},
            "body",
            "give either recurrence (structured) or rrule (text), not both",
        ),
        (
            {"recurrence": {"frequency": "daily"}, "recurrence_basis": "completion"},
            "body",
            "recurrence_basis goes with rrule",
        ),
        ({"rrule": "FREQ=DAILY;BYHOUR=9"}, "rrule", "RRULE part BYHOUR is not supported"),
        ({"rrule": "FREQ=MONTHLY;BYDAY=6MO"}, "rrule", "BYDAY: 6MO cannot occur"),
        ({"rrule": "FREQ=DAILY;SKIP=FORWARD"}, "rrule", "SKIP=FORWARD is not supported"),
        ({"rrule": 5}, "rrule", "valid string"),
        ({"rrule": "FREQ=DAILY", "recurrence_basis": "start"}, "recurrence_basis", "'due'"),
        (
            {"recurrence": {"frequency": "weekly", "by_day": [{"weekday": "MO", "ordinal": 1}]}},
            "recurrence",
            "an ordinal (1MO) is only allowed with frequency 'monthly' or 'yearly'",
        ),
        (
            {"recurrence": {"frequency": "monthly", "by_month_day": [31], "by_month": [4]}},
            "recurrence",
            "none of these days exists in the months of by_month",
        ),
        (
            {"recurrence": {"frequency": "monthly", "by_month_day": [0]}},
            "by_month_day",
            "must not contain 0",
        ),
    ],
)
async def test_recurrence_input_is_refused_naming_the_field(
    client: httpx.AsyncClient,
    alice: dict[str, str],
    body: dict[str, Any],
    field: str,
    reason: str,
) -> None:
    r = await client.post(
        API, headers=alice, json={"title": "t", "due_at": "2026-01-05T09:00:00Z", **body}
    )

    assert r.status_code == 422, r.text
    assert r.json()["code"] == "validation_error"
    assert reason in error_for(r, field)


async def test_patch_sets_and_clears_recurrence_as_text(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice, due_at="2026-01-05T09:00:00Z")

    set_ = await client.patch(
        f"{API}/{task['id']}", headers=alice, json={"rrule": "FREQ=YEARLY;BYMONTH=1,7"}
    )
    assert set_.status_code == 200, set_.text
    assert set_.json()["recurrence"]["by_month"] == [1, 7]
    assert set_.json()["rrule"] == "FREQ=YEARLY;BYMONTH=1,7"

    cleared = await client.patch(f"{API}/{task['id']}", headers=alice, json={"rrule": None})
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["recurrence"], cleared.json()["rrule"]) == (None, None)


async def _open_tasks(client: httpx.AsyncClient, who: dict[str, str]) -> list[dict[str, Any]]:
    r = await client.get(API, headers=who, params={"status": "open"})
    data: list[dict[str, Any]] = r.json()["data"]
    return data


async def test_a_rule_stored_in_the_earlier_shape_reads_and_rolls_as_it_did(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    task = await create(
        client, alice, due_at="2026-01-31T09:00:00Z", recurrence={"frequency": "monthly"}
    )
    earlier = {
        "frequency": "monthly",
        "interval": 1,
        "weekdays": None,
        "month_day": 31,
        "nth_weekday": None,
        "until": None,
        "count": None,
        "basis": "due",
    }
    async with app.state.runtime.sessions() as session:
        cast = "CAST(:rule AS JSON)" if dialect_name(session) == "postgresql" else ":rule"
        await session.execute(
            text(f"UPDATE tasks SET recurrence = {cast} WHERE id = :id"),  # noqa: S608
            {"rule": json.dumps(earlier), "id": task["id"]},
        )
        await session.commit()

    read = (await client.get(API, headers=alice)).json()["data"]
    assert [t["rrule"] for t in read] == [
        "RSCALE=GREGORIAN;FREQ=MONTHLY;BYMONTHDAY=31;SKIP=BACKWARD"
    ]
    await client.post(f"{API}/{task['id']}/complete", headers=alice)

    (following,) = await eventually(lambda: _open_tasks(client, alice))
    # The earlier rule fell back to February's last day; it still does.
    assert following["due_at"] == "2026-02-28T09:00:00Z"
    assert following["occurrence_number"] == 2
    assert following["recurrence"]["missing_day"] == "last_day"


def dead_letters() -> float:
    labels = {"topic": Topic.TASK_EVENTS.value, "group": EMBEDDED_WORKER_GROUP}
    value = REGISTRY.get_sample_value(
        "todo_events_consumed_total", {**labels, "outcome": "dead_letter"}
    )
    return value or 0.0


@pytest.mark.parametrize(
    "body",
    [
        # The next occurrence, 9000-06-01, lies past the supported range.
        {"due_at": "8999-06-01T09:00:00Z", "recurrence": {"frequency": "yearly"}},
        # Every 7 days from a Monday is never a Friday: the bounded search runs out.
        {
            "due_at": "2026-01-05T09:00:00Z",
            "recurrence": {"frequency": "daily", "interval": 7, "by_day": [{"weekday": "FR"}]},
        },
    ],
)
async def test_a_series_that_cannot_go_on_is_dead_lettered_once_not_retried(
    client: httpx.AsyncClient, alice: dict[str, str], body: dict[str, Any]
) -> None:
    task = await create(client, alice, **body)
    before = dead_letters()

    done = await client.post(f"{API}/{task['id']}/complete", headers=alice)

    assert done.status_code == 200
    assert await eventually(lambda: _later(dead_letters, before)) == before + 1
    await asyncio.sleep(0.5)
    assert dead_letters() == before + 1, "a permanent error is not retried"
    listed = (await client.get(API, headers=alice)).json()
    assert listed["count"] == 1
    assert listed["data"][0]["status"] == "completed"


async def _later(value: Callable[[], float], than: float) -> float | None:
    current = value()
    return current if current > than else None


async def test_the_internal_api_answers_a_series_that_cannot_go_on_with_422(
    tmp_path: Path,
) -> None:
    # What the worker service gets over HTTP: a 4xx, which its gateway dead-letters.
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 't.db'}", tmp_path)
    app = create_app(settings.model_copy(update={"app_api_token": "internal-token"}))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            alice = await signup(c)
            task = await create(
                c, alice, due_at="8999-06-01T09:00:00Z", recurrence={"frequency": "yearly"}
            )
            await c.post(f"{API}/{task['id']}/complete", headers=alice)
            r = await c.post(
                f"/internal/v1/tasks/{task['id']}/next-occurrence",
                headers={"dapr-api-token": "internal-token"},
                json={"idempotency_key": "evt-uncomputable"},
            )

    assert r.status_code == 422
    assert r.json()["code"] == "uncomputable"
    assert "out of range" in r.json()["detail"][0]["msg"]
