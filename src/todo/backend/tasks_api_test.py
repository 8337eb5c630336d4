from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from todo.backend.conftest import signup

API = "/api/v1/tasks"


def iso(dt: datetime) -> str:
    return dt.isoformat()


async def create(
    client: httpx.AsyncClient, headers: dict[str, str], **fields: Any
) -> dict[str, Any]:
    body = {"title": "Task", **fields}
    r = await client.post(API, json=body, headers=headers)
    assert r.status_code == 201, r.text
    data: dict[str, Any] = r.json()
    return data


def error_fields(response: httpx.Response) -> set[str]:
    return {str(e["loc"][-1]) for e in response.json()["detail"]}


def error_for(response: httpx.Response, field: str) -> str:
    for e in response.json()["detail"]:
        if field in [str(part) for part in e["loc"]]:
            return str(e["msg"])
    raise AssertionError(f"no error for {field}: {response.text}")


async def test_create_and_read_a_full_task(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    due = datetime(2030, 3, 1, 9, 0, tzinfo=UTC)
    r = await client.post(
        API,
        headers=alice,
        json={
            "title": "  Pay rent ",
            "notes": "landlord's IBAN in the folder",
            "priority": "high",
            "tags": ["Home", "money", "home"],
            "due_at": iso(due),
            "time_zone": "Europe/Berlin",
            "reminders": [
                {"kind": "before_due", "minutes_before": 60},
                {"kind": "absolute", "at": iso(due - timedelta(days=1))},
            ],
            "recurrence": {"frequency": "monthly", "month_day": 1},
        },
    )
    assert r.status_code == 201, r.text
    task = r.json()
    assert r.headers["ETag"] == '"1"'
    assert task["title"] == "Pay rent"
    assert task["tags"] == ["home", "money"]
    assert task["status"] == "open"
    assert task["version"] == 1
    assert task["recurrence_text"] == "Every month on the 1st"
    assert task["next_reminder_at"] == iso(due - timedelta(days=1)).replace("+00:00", "Z")

    got = await client.get(f"{API}/{task['id']}", headers=alice)
    assert got.status_code == 200
    assert got.json() == task
    assert got.headers["ETag"] == '"1"'


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"title": "   "}, "title", "blank"),
        ({"title": ""}, "title", "at least 1"),
        ({"title": "x" * 201}, "title", "at most 200"),
        ({"title": "t", "priority": "p0"}, "priority", "low"),
        ({"title": "t", "time_zone": "Mars/Olympus"}, "time_zone", "unknown IANA time zone"),
        ({"title": "t", "due_at": "2030-01-01T09:00:00"}, "due_at", "timezone"),
        ({"title": "t", "tags": ["two words"]}, "tags", "spaces"),
        ({"title": "t", "tags": [f"t{i}" for i in range(21)]}, "tags", "at most 20"),
        (
            {"title": "t", "reminders": [{"kind": "absolute"}]},
            "reminders",
            "needs 'at'",
        ),
        (
            {"title": "t", "recurrence": {"frequency": "daily", "weekdays": ["MO"]}},
            "recurrence",
            "weekdays",
        ),
        ({"title": "t", "colour": "red"}, "colour", "Extra inputs"),
    ],
)
async def test_create_validation_names_field_and_reason(
    client: httpx.AsyncClient, alice: dict[str, str], body: dict[str, Any], field: str, reason: str
) -> None:
    r = await client.post(API, json=body, headers=alice)
    assert r.status_code == 422
    assert reason in error_for(r, field)
    listed = await client.get(API, headers=alice)
    assert listed.json()["count"] == 0, "a rejected request must store nothing"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": "t", "reminders": [{"kind": "before_due", "minutes_before": 5}]}, "reminders"),
        ({"title": "t", "recurrence": {"frequency": "daily"}}, "recurrence"),
    ],
)
async def test_rules_that_need_a_due_date(
    client: httpx.AsyncClient, alice: dict[str, str], body: dict[str, Any], field: str
) -> None:
    r = await client.post(API, json=body, headers=alice)
    assert r.status_code == 422
    assert "due_at" in error_for(r, field)


async def test_a_repeat_that_ends_before_its_first_due_date_is_refused(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    rule = {"frequency": "monthly", "until": "2030-01-31T23:59:59+01:00"}
    r = await client.post(
        API,
        json={"title": "t", "due_at": "2030-02-01T09:00:00+01:00", "recurrence": rule},
        headers=alice,
    )
    assert r.status_code == 422
    assert "before the first due date" in error_for(r, "recurrence")
    ok = await client.post(
        API,
        json={"title": "t", "due_at": "2030-01-31T09:00:00+01:00", "recurrence": rule},
        headers=alice,
    )
    assert ok.status_code == 201
    # Moving the due date past the end is refused the same way.
    moved = await client.patch(
        f"{API}/{ok.json()['id']}", json={"due_at": "2030-03-01T09:00:00+01:00"}, headers=alice
    )
    assert moved.status_code == 422
    assert "before the first due date" in error_for(moved, "recurrence")


async def test_patch_changes_only_given_fields_and_bumps_version(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice, notes="keep me", tags=["a"])
    r = await client.patch(f"{API}/{task['id']}", headers=alice, json={"title": "Renamed"})
    assert r.status_code == 200
    body = r.json()
    assert body["title"] == "Renamed"
    assert body["notes"] == "keep me"
    assert body["tags"] == ["a"]
    assert body["version"] == 2
    assert r.headers["ETag"] == '"2"'
    cleared = await client.patch(f"{API}/{task['id']}", headers=alice, json={"tags": []})
    assert cleared.json()["tags"] == []


async def test_patch_null_for_required_field_is_422(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice)
    r = await client.patch(f"{API}/{task['id']}", headers=alice, json={"title": None})
    assert r.status_code == 422
    assert "null" in error_for(r, "title")


async def test_if_match_conflict_is_412_and_loses_nothing(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice)
    first = await client.patch(
        f"{API}/{task['id']}", headers={**alice, "If-Match": '"1"'}, json={"title": "Mine"}
    )
    assert first.status_code == 200
    stale = await client.patch(
        f"{API}/{task['id']}", headers={**alice, "If-Match": '"1"'}, json={"title": "Theirs"}
    )
    assert stale.status_code == 412
    assert stale.headers["ETag"] == '"2"'
    assert "version 2" in stale.json()["detail"]
    current = await client.get(f"{API}/{task['id']}", headers=alice)
    assert current.json()["title"] == "Mine"


async def test_body_version_conflict_is_409(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice)
    await client.patch(f"{API}/{task['id']}", headers=alice, json={"notes": "n", "version": 1})
    r = await client.patch(f"{API}/{task['id']}", headers=alice, json={"notes": "m", "version": 1})
    assert r.status_code == 409


async def test_malformed_if_match_is_400(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    task = await create(client, alice)
    r = await client.patch(
        f"{API}/{task['id']}", headers={**alice, "If-Match": "yesterday"}, json={"title": "x"}
    )
    assert r.status_code == 400
    assert "If-Match" in r.json()["detail"]


async def test_other_users_tasks_are_404_everywhere(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    task = await create(client, alice, title="Alice's secret")
    url = f"{API}/{task['id']}"
    missing = await client.get(f"{API}/00000000-0000-0000-0000-000000000000", headers=bob)
    attempts = [
        await client.get(url, headers=bob),
        await client.patch(url, headers=bob, json={"title": "pwned"}),
        await client.delete(url, headers=bob),
        await client.post(f"{url}/complete", headers=bob),
        await client.post(f"{url}/snooze", headers=bob, json={"minutes": 5}),
    ]
    for r in attempts:
        assert r.status_code == 404
        assert r.json() == {"detail": "there is no task with this id", "code": "not_found"}
    assert missing.status_code == 404
    assert (await client.get(API, headers=bob)).json()["count"] == 0
    assert (await client.get(url, headers=alice)).json()["title"] == "Alice's secret"


async def test_complete_reopen_and_delete(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    task = await create(client, alice)
    done = await client.post(f"{API}/{task['id']}/complete", headers=alice)
    assert done.json()["status"] == "completed"
    assert done.json()["completed_at"] is not None
    again = await client.post(f"{API}/{task['id']}/complete", headers=alice)
    assert again.json()["version"] == done.json()["version"], "completing twice is a no-op"
    reopened = await client.post(f"{API}/{task['id']}/reopen", headers=alice)
    assert reopened.json()["status"] == "open"
    assert reopened.json()["completed_at"] is None
    stale_delete = await client.delete(f"{API}/{task['id']}", headers={**alice, "If-Match": '"1"'})
    assert stale_delete.status_code == 412
    gone = await client.delete(f"{API}/{task['id']}", headers=alice)
    assert gone.status_code == 204
    assert (await client.get(f"{API}/{task['id']}", headers=alice)).status_code == 404


async def test_snooze_sets_the_next_reminder(
    client: httpx.AsyncClient, alice: dict[str, str]
) -> None:
    task = await create(client, alice)
    r = await client.post(f"{API}/{task['id']}/snooze", headers=alice, json={"minutes": 10})
    assert r.status_code == 200
    snoozed = datetime.fromisoformat(r.json()["snoozed_until"])
    assert timedelta(minutes=9) < snoozed - datetime.now(UTC) <= timedelta(minutes=10)
    assert r.json()["next_reminder_at"] == r.json()["snoozed_until"]
    both = await client.post(
        f"{API}/{task['id']}/snooze",
        headers=alice,
        json={"minutes": 5, "until": iso(datetime.now(UTC) + timedelta(hours=1))},
    )
    assert both.status_code == 422
    past = await client.post(
        f"{API}/{task['id']}/snooze",
        headers=alice,
        json={"until": iso(datetime.now(UTC) - timedelta(hours=1))},
    )
    assert past.status_code == 422
    assert "future" in error_for(past, "until")


async def test_list_filters_search_sort_and_pages(
    client: httpx.AsyncClient, alice: dict[str, str], bob: dict[str, str]
) -> None:
    now = datetime.now(UTC)
    await create(
        client,
        alice,
        title="Buy oat milk",
        priority="low",
        tags=["shop"],
        due_at=iso(now + timedelta(days=2)),
    )
    await create(
        client,
        alice,
        title="File taxes",
        notes="receipts from the milkman",
        priority="urgent",
        tags=["money"],
        due_at=iso(now - timedelta(days=1)),
    )
    await create(client, alice, title="Call mum", priority="high", tags=["family", "shop"])
    done = await create(client, alice, title="Old thing", due_at=iso(now - timedelta(days=3)))
    await client.post(f"{API}/{done['id']}/complete", headers=alice)
    await create(client, bob, title="Bob's milk", tags=["shop"])

    async def titles(**params: Any) -> list[str]:
        r = await client.get(API, headers=alice, params=params)
        assert r.status_code == 200, r.text
        return [t["title"] for t in r.json()["data"]]

    assert await titles(sort="due") == ["Old thing", "File taxes", "Buy oat milk", "Call mum"]
    assert await titles(sort="-due") == ["Buy oat milk", "File taxes", "Old thing", "Call mum"]
    assert (await titles(sort="priority"))[:2] == ["File taxes", "Call mum"]
    assert await titles(sort="title") == ["Buy oat milk", "Call mum", "File taxes", "Old thing"]
    assert sorted(await titles(q="milk")) == ["Buy oat milk", "File taxes"]
    assert await titles(q="oat milk") == ["Buy oat milk"]
    assert await titles(status="completed") == ["Old thing"]
    assert await titles(overdue="true") == ["File taxes"]
    assert sorted(await titles(tag="shop")) == ["Buy oat milk", "Call mum"]
    assert await titles(tag=["shop", "family"]) == ["Call mum"]
    assert sorted(await titles(priority=["low", "urgent"])) == ["Buy oat milk", "File taxes"]
    assert await titles(due_after=iso(now), due_before=iso(now + timedelta(days=3))) == [
        "Buy oat milk"
    ]
    page = await client.get(API, headers=alice, params={"sort": "title", "limit": 2, "offset": 2})
    assert page.json()["count"] == 4
    assert [t["title"] for t in page.json()["data"]] == ["File taxes", "Old thing"]
    # `count` is the total of the filter, not of the page, and not of other users' tasks.
    shop = await client.get(API, headers=alice, params={"tag": "shop", "limit": 1})
    assert shop.json()["count"] == 2
    assert len(shop.json()["data"]) == 1
    # A first page that holds every match counts its rows; a last, partial page still
    # reports the whole total.
    whole = await client.get(API, headers=alice, params={"limit": 10})
    assert (whole.json()["count"], len(whole.json()["data"])) == (4, 4)
    last = await client.get(API, headers=alice, params={"sort": "title", "limit": 2, "offset": 3})
    assert (last.json()["count"], [t["title"] for t in last.json()["data"]]) == (4, ["Old thing"])
    past_end = await client.get(API, headers=alice, params={"limit": 2, "offset": 10})
    assert past_end.json()["count"] == 4
    assert past_end.json()["data"] == []
    # Each task of a page carries all its tags, sorted; an untagged one none.
    listed = (await client.get(API, headers=alice, params={"sort": "title"})).json()["data"]
    assert {t["title"]: t["tags"] for t in listed} == {
        "Buy oat milk": ["shop"],
        "Call mum": ["family", "shop"],
        "File taxes": ["money"],
        "Old thing": [],
    }
    # Each shape of filter has one statement, built once: the values of the last call
    # must never stay in it.
    assert await titles(tag="money") == ["File taxes"]
    assert await titles(tag="shop", sort="title") == ["Buy oat milk", "Call mum"]
    assert await titles(q="taxes") == ["File taxes"]
    assert await titles(q="mum") == ["Call mum"]
    assert await titles(priority=["high"]) == ["Call mum"]
    assert await titles(priority=["low", "urgent", "high"], sort="title") == [
        "Buy oat milk",
        "Call mum",
        "File taxes",
    ]
    assert await titles(overdue="false", sort="title") == ["Buy oat milk", "Call mum"]
    assert await titles(status="open", tag="shop", q="oat", priority=["low"]) == ["Buy oat milk"]
    nothing = await client.get(API, headers=alice, params={"q": "no such words"})
    assert nothing.json()["count"] == 0
    assert nothing.json()["data"] == []
    overdue = (await client.get(API, headers=alice, params={"overdue": "true"})).json()["data"]
    assert overdue[0]["overdue"] is True


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"sort": "colour"}, "sort"),
        ({"limit": 0}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"status": "maybe"}, "status"),
        ({"due_after": "2030-01-01T00:00:00"}, "due_after"),
        ({"due_after": "2030-01-02T00:00:00Z", "due_before": "2030-01-01T00:00:00Z"}, "due_before"),
    ],
)
async def test_list_rejects_bad_query_parameters(
    client: httpx.AsyncClient, alice: dict[str, str], params: dict[str, Any], field: str
) -> None:
    r = await client.get(API, headers=alice, params=params)
    assert r.status_code == 422
    assert field in error_fields(r)


async def test_openapi_documents_every_route(client: httpx.AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    paths = spec["paths"]
    for path in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/tasks",
        "/api/v1/tasks/{task_id}",
        "/api/v1/tasks/{task_id}/complete",
        "/api/v1/tasks/{task_id}/reopen",
        "/api/v1/tasks/{task_id}/snooze",
        "/api/v1/notifications",
        "/api/v1/events/stream",
    ]:
        assert path in paths, path
    patch = paths["/api/v1/tasks/{task_id}"]["patch"]
    assert {"404", "409", "412", "422"} <= set(patch["responses"])
    assert any(p["name"] == "If-Match" for p in patch["parameters"])
    assert "TaskPublic" in spec["components"]["schemas"]


async def test_a_second_user_starts_empty(client: httpx.AsyncClient, alice: dict[str, str]) -> None:
    await create(client, alice)
    newcomer = await signup(client)
    assert (await client.get(API, headers=newcomer)).json() == {
        "data": [],
        "count": 0,
        "limit": 50,
        "offset": 0,
    }
