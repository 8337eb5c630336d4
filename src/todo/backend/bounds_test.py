"""Hostile and extreme input: each bound answers 422 naming the field, nothing is stored,
and no stored row can make a read fail (on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import insert

from todo.backend.concurrency_test import create, settled
from todo.backend.models import TASK_TAGS, TASKS, new_id
from todo.domain.bounds import LATEST
from todo.domain.events import EventType, ReminderKind, ReminderSpec
from todo.domain.recurrence import Frequency, RecurrenceRule
from todo.domain.tasks import Priority, TaskStatus

API = "/api/v1/tasks"

EDGES = [
    "9999-12-31T23:59:59+00:00",
    "9999-12-31T23:59:59-05:00",
    "0001-01-01T00:00:00+00:00",
    "0001-01-01T00:00:00+05:00",
    "9000-01-01T00:00:00Z",
    "0999-12-31T23:59:59Z",
]


def assert_422_names(response: httpx.Response, *path: str) -> str:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    for error in body["detail"]:
        if [str(p) for p in error["loc"][-len(path) :]] == list(path):
            return str(error["msg"])
    raise AssertionError(f"no error at {path}: {response.text}")


async def count(client: httpx.AsyncClient, who: dict[str, str]) -> int:
    r = await client.get(API, headers=who)
    assert r.status_code == 200, r.text
    total: int = r.json()["count"]
    return total


@pytest.mark.parametrize("edge", EDGES)
async def test_edge_datetimes_are_refused_everywhere(
    client: httpx.AsyncClient, alice: dict[str, str], edge: str
) -> None:
    bodies: list[tuple[dict[str, Any], tuple[str, ...]]] = [
        ({"title": "t", "due_at": edge}, ("due_at",)),
        ({"title": "t", "reminders": [{"kind": "absolute", "at": edge}]}, ("reminders", "0", "at")),
        (
            {
                "title": "t",
                "due_at": "2030-01-01T09:00:00Z",
                "recurrence": {"frequency": "daily", "until": edge},
            },
            ("recurrence",),
        ),
    ]
    for body, path in bodies:
        msg = assert_422_names(await client.post(API, json=body, headers=alice), *path)
        assert "1000-01-01" in msg, msg
    task = await create(client, alice)
    r = await client.patch(f"{API}/{task['id']}", json={"due_at": edge}, headers=alice)
    assert_422_names(r, "due_at")
    r = await client.post(f"{API}/{task['id']}/snooze", json={"until": edge}, headers=alice)
    assert_422_names(r, "until")
    r = await client.get(API, params={"due_before": edge}, headers=alice)
    assert_422_names(r, "due_before")
    assert await count(client, alice) == 1
    assert (await client.get(f"{API}/{task['id']}", headers=alice)).json()["due_at"] is None


@pytest.mark.parametrize("value", [1893456000, 1893456000.5, True, [2030, 1, 1], {"y": 2030}])
async def test_a_datetime_must_be_text(
    client: httpx.AsyncClient, alice: dict[str, str], value: Any
) -> None:
    r = await client.post(API, json={"title": "t", "due_at": value}, headers=alice)
    assert_422_names(r, "due_at")
    assert await count(client, alice) == 0


@pytest.mark.parametrize(
    ("title", "position"),
    [("\ud800 lone", "U+D800"), ("nul\x00", "U+0000"), ("bell\x07", "U+0007"), ("\x85x", "U+0085")],
)
async def test_text_that_cannot_be_stored_is_refused(
    client: httpx.AsyncClient, alice: dict[str, str], title: str, position: str
) -> None:
    for body, path in (
        ({"title": title}, ("title",)),
        ({"title": "t", "notes": title}, ("notes",)),
    ):
        # Sent as JSON escapes (\ud800), as a client may: httpx cannot encode it raw.
        raw = json.dumps(body, ensure_ascii=True).encode()
        r = await client.post(
            API, content=raw, headers={**alice, "Content-Type": "application/json"}
        )
        assert position in assert_422_names(r, *path)
        assert "\ud800" not in r.text
    assert await count(client, alice) == 0


async def test_any_storable_unicode_comes_back_as_sent(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    title = "😀 Ünïcödé ﷽ \U0001d518 \u200b zero-width, RTL \u202e, tab\tend"
    notes = "line\nbreak\r\n" + "𝄞" * 2000
    task = await create(client, alice, title=title, notes=notes, tags=["日本語", "ß"])
    got = (await client.get(f"{API}/{task['id']}", headers=alice)).json()
    assert (got["title"], got["notes"]) == (title.strip(), notes)
    assert got["tags"] == sorted(["日本語", "ß"])
    listed = (await client.get(API, params={"q": "Ünïcödé"}, headers=alice)).json()
    assert [t["id"] for t in listed["data"]] == [task["id"]]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"offset": 2**63}, "offset"),
        ({"offset": 1_000_001}, "offset"),
        ({"limit": 2**63}, "limit"),
        ({"limit": -1}, "limit"),
        ({"tag": [f"t{n}" for n in range(1000)]}, "tag"),
        ({"priority": ["low"] * 50}, "priority"),
        ({"q": "x" * 201}, "q"),
        ({"q": "a\x00b"}, "q"),
        ({"tag": ["x" * 41]}, "tag"),
    ],
)
async def test_query_parameters_are_bounded(
    client: httpx.AsyncClient, alice: dict[str, str], params: dict[str, Any], field: str
) -> None:
    r = await client.get(API, params=params, headers=alice)
    assert r.status_code == 422, r.text
    assert field in {str(part) for e in r.json()["detail"] for part in e["loc"]}, r.text


async def test_bodies_and_lists_are_bounded(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    cases: list[tuple[dict[str, Any], str]] = [
        ({"title": "t", "tags": [f"t{n}" for n in range(21)]}, "tags"),
        ({"title": "t", "tags": ["x"] * 10_000}, "tags"),
        (
            {"title": "t", "reminders": [{"kind": "absolute", "at": "2030-01-01T00:00:00Z"}] * 11},
            "reminders",
        ),
        (
            {"title": "t", "reminders": [{"kind": "before_due", "minutes_before": 10**9}]},
            "minutes_before",
        ),
        ({"title": "x" * 201}, "title"),
        ({"title": "t", "notes": "n" * 10_001}, "notes"),
        ({"title": "t", "time_zone": "Mars/Olympus"}, "time_zone"),
        ({"title": "t", "priority": "critical"}, "priority"),
        ({"title": "t", "surprise": 1}, "surprise"),
    ]
    for body, field in cases:
        r = await client.post(API, json=body, headers=alice)
        assert r.status_code == 422, (body, r.text)
        assert field in {str(part) for e in r.json()["detail"] for part in e["loc"]}, r.text
        # The answer quotes at most an excerpt of what was sent.
        assert len(r.content) < 4_000, len(r.content)
    task = await create(client, alice)
    for version in (0, 2**31, 2**63):
        r = await client.patch(
            f"{API}/{task['id']}", json={"title": "x", "version": version}, headers=alice
        )
        assert_422_names(r, "version")
    # The last one is an Arabic-Indic digit one, as UTF-8 bytes on the wire.
    bad_etags = ['"2147483648"', '"-1"', '"1e3"', "x" * 101, '"\u0661"']
    for bad in bad_etags:
        headers = [(k.encode(), v.encode()) for k, v in {**alice, "If-Match": bad}.items()]
        r = await client.patch(f"{API}/{task['id']}", json={"title": "x"}, headers=headers)
        assert r.status_code in (400, 422), (bad, r.text)
    for bad_id in ("a%00b", "x" * 65, "%ED%A0%80"):
        r = await client.get(f"{API}/{bad_id}", headers=alice)
        assert r.status_code in (404, 422), r.text
    assert await count(client, alice) == 1


async def test_worst_rows_still_list(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    """The worst tasks the API accepts, and rows stored before inputs were bounded (year 1,
    year 9999, reminders that overflow): every read of the list and of each task works."""
    user_id = (await client.get("/api/v1/users/me", headers=alice)).json()["id"]
    last = LATEST - timedelta(microseconds=1)
    worst: list[dict[str, Any]] = [
        {
            "due_at": last,
            "reminders": [ReminderSpec(kind=ReminderKind.BEFORE_DUE, minutes_before=527040)],
        },
        {
            "due_at": datetime(1, 1, 1, tzinfo=UTC),
            "reminders": [ReminderSpec(kind=ReminderKind.BEFORE_DUE, minutes_before=527040)],
        },
        {
            "due_at": datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
            "recurrence": RecurrenceRule(frequency=Frequency.YEARLY),
        },
        {
            "due_at": None,
            "reminders": [
                ReminderSpec(kind=ReminderKind.ABSOLUTE, at=datetime(9999, 12, 31, tzinfo=UTC))
            ],
        },
        {
            "due_at": datetime(2030, 1, 1, tzinfo=UTC),
            "snoozed_until": datetime(9999, 12, 31, 23, 59, tzinfo=UTC),
        },
    ]
    now = datetime.now(UTC)
    async with app.state.runtime.sessions() as session:
        for fields in worst:
            task_id = new_id()
            await session.execute(
                insert(TASKS).values(
                    id=task_id,
                    owner_id=user_id,
                    title="💣" * 200,
                    notes="n" * 10_000,
                    status=TaskStatus.OPEN,
                    priority=Priority.URGENT,
                    priority_rank=Priority.URGENT.rank,
                    time_zone="Pacific/Kiritimati",
                    reminders=fields.get("reminders", []),
                    recurrence=fields.get("recurrence"),
                    series_id=task_id,
                    series_start=fields["due_at"],
                    occurrence_number=1,
                    created_at=now,
                    updated_at=now,
                    version=1,
                    due_at=fields["due_at"],
                    snoozed_until=fields.get("snoozed_until"),
                )
            )
            await session.execute(
                insert(TASK_TAGS),
                [
                    {"task_id": task_id, "tag": f"{'t' * 38}{n:02d}", "owner_id": user_id}
                    for n in range(20)
                ],
            )
        await session.commit()
    for sort in ("due", "-due", "priority", "-priority", "created", "title", "-title"):
        for overdue in (None, True, False):
            params: dict[str, Any] = {"sort": sort, "limit": 200}
            if overdue is not None:
                params["overdue"] = str(overdue).lower()
            r = await client.get(API, params=params, headers=alice)
            assert r.status_code == 200, r.text
    listed = (await client.get(API, params={"limit": 200}, headers=alice)).json()["data"]
    assert len(listed) == len(worst)
    for task in listed:
        r = await client.get(f"{API}/{task['id']}", headers=alice)
        assert r.status_code == 200, r.text


async def test_a_next_occurrence_out_of_range_is_a_permanent_error(
    client: httpx.AsyncClient, alice: dict[str, str], app: FastAPI
) -> None:
    """A yearly series due in 8999 has no next occurrence the range holds: the completion
    is dead-lettered at once (no retry loop), and the series simply stops."""
    task = await create(
        client,
        alice,
        due_at="8999-06-01T09:00:00Z",
        recurrence={"frequency": "yearly"},
    )
    r = await client.post(f"{API}/{task['id']}/complete", headers=alice)
    assert r.status_code == 200, r.text
    await settled(app)
    bus = app.state.runtime.bus
    lost = [
        (event, error)
        for event, error in bus.dead_letters
        if event.type == EventType.TASK_COMPLETED and event.subject == task["id"]
    ]
    # Dead-lettered as permanent (no retries first); the relay may deliver it twice.
    assert {event.id for event, _ in lost} == {lost[0][0].id}, bus.dead_letters
    assert all(error.startswith("permanent:") for _, error in lost), lost
    assert await count(client, alice) == 1
