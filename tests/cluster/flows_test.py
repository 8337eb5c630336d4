"""The product through the ingress on 127.0.0.1, as users reach it: sign up, a reminder that
fires through the Jobs API and the in-cluster Dapr scheduler, a recurring task that rolls
forward once, live updates over SSE."""

from __future__ import annotations

import asyncio
from datetime import datetime

from cluster.app import (
    API,
    Ingress,
    lateness,
    live_events,
    notifications,
    open_tasks,
    signup,
    soon,
    wait_for,
    wait_for_notifications,
)
from cluster.diagnostics import reminder_trail
from kubernetes import client as k8s


async def test_sign_up_and_sign_in(ingress: Ingress) -> None:
    async with ingress.client() as client:
        me = await signup(client)
        response = await client.get(f"{API}/users/me", headers=me)
        assert response.status_code == 200
        assert response.json()["email"].endswith("@example.com")
        assert (await client.get(f"{API}/users/me")).status_code == 401


async def test_a_reminder_ten_seconds_ahead_fires_once(
    api: k8s.ApiClient, ingress: Ingress
) -> None:
    async with ingress.client() as client:
        me = await signup(client)
        fire_at = soon(10)
        response = await client.post(
            f"{API}/tasks",
            headers=me,
            json={
                "title": "Cluster reminder",
                "reminders": [{"kind": "absolute", "at": fire_at.isoformat()}],
            },
        )
        assert response.status_code == 201, response.text
        assert await notifications(client, me) == []
        (note,) = await wait_for_notifications(client, me, 1, timeout=60)
        assert datetime.fromisoformat(note["fire_at"]) == fire_at
        assert note["task_id"] == response.json()["id"]
        assert 0 <= lateness(note) < 5, (
            f"reminder recorded {lateness(note):.2f}s after its time\n"
            + reminder_trail(api, note["task_id"])
        )
        await asyncio.sleep(3)
        assert len(await notifications(client, me)) == 1


async def test_completing_a_recurring_task_makes_exactly_one_next_occurrence(
    ingress: Ingress,
) -> None:
    async with ingress.client() as client:
        me = await signup(client)
        task = (
            await client.post(
                f"{API}/tasks",
                headers=me,
                json={
                    "title": "Daily in the cluster",
                    "due_at": "2031-03-01T09:00:00+00:00",
                    "recurrence": {"frequency": "daily"},
                },
            )
        ).json()
        done = await client.post(f"{API}/tasks/{task['id']}/complete", headers=me)
        assert done.status_code == 200, done.text

        async def following() -> list[dict[str, object]]:
            return await open_tasks(client, me)

        (next_one,) = await wait_for("the next occurrence", following, timeout=60)
        assert next_one["occurrence_number"] == 2
        assert str(next_one["due_at"]).startswith("2031-03-02T09:00:00")
        await asyncio.sleep(5)
        assert len(await open_tasks(client, me)) == 1, "more than one next occurrence"


async def test_a_change_reaches_the_live_stream(ingress: Ingress) -> None:
    async with ingress.client() as client:
        me = await signup(client)
        async with live_events(client, me) as events:
            created = await client.post(f"{API}/tasks", headers=me, json={"title": "Live"})
            assert created.status_code == 201
            event = await asyncio.wait_for(events.get(), timeout=30)
            assert event["event"] == "refresh"
            # The stream carries the task-updates CloudEvent: its data says what changed.
            assert event["data"]["data"]["task_id"] == created.json()["id"]
