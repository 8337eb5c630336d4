"""Restarts under load: a rolling restart of each Deployment while a steady loop of writes
goes through the ingress loses no accepted write and no reminder; killing the worker pod
in the middle of a stream of events loses none of them."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from cluster.app import (
    API,
    NOTIFICATIONS_PAGE,
    Ingress,
    lateness,
    notifications,
    signup,
    soon,
    wait_for,
    wait_for_notifications,
)
from cluster.diagnostics import reminder_trail
from kubernetes import client as k8s

from todo.cluster import gitops, install, kube

# Fewer than one page of notifications holds (`notifications` reads one page).
MAX_REMINDERS = NOTIFICATIONS_PAGE - 50


@dataclass
class Load:
    """Writes sent one after another; what the API accepted, and what failed."""

    accepted: dict[str, dt.datetime | None] = field(default_factory=dict)  # task id -> reminder
    failed: list[str] = field(default_factory=list)


async def steady_writes(
    client: httpx.AsyncClient,
    who: dict[str, str],
    load: Load,
    stop: asyncio.Event,
    remind_every: int,
) -> None:
    """Create tasks back to back; every ``remind_every``-th one with a reminder 25 s ahead,
    as long as one page of notifications can show them all (a slow rollout lengthens the
    run, and with it the count)."""
    n = reminders = 0
    while not stop.is_set():
        n += 1
        fire_at = None
        if n % remind_every == 0 and reminders < MAX_REMINDERS:
            fire_at, reminders = soon(25), reminders + 1
        body: dict[str, object] = {"title": f"steady {n}"}
        if fire_at is not None:
            body["reminders"] = [{"kind": "absolute", "at": fire_at.isoformat()}]
        try:
            response = await client.post(f"{API}/tasks", headers=who, json=body)
        except httpx.HTTPError as exc:
            load.failed.append(f"{type(exc).__name__}")
        else:
            if response.status_code == 201:
                load.accepted[response.json()["id"]] = fire_at
            else:
                load.failed.append(f"HTTP {response.status_code}")
        await asyncio.sleep(0.05)


async def retried(client: httpx.AsyncClient, url: str, **kwargs: Any) -> httpx.Response:
    """POST until the gateway passes it on (a refused request changed nothing)."""
    for _ in range(20):
        try:
            response = await client.post(url, **kwargs)
        except httpx.TransportError:
            await asyncio.sleep(0.5)
            continue
        if response.status_code not in (502, 503, 504):
            return response
        await asyncio.sleep(0.5)
    raise AssertionError(f"POST {url} was refused 20 times")


def terminating_pods(api: k8s.ApiClient, name: str) -> list[str]:
    """The pods of ``name`` (an app.kubernetes.io/name) that are being deleted."""
    return [
        str(pod.metadata.name)
        for pod in kube.pods(api, install.APP_NAMESPACE, f"app.kubernetes.io/name={name}")
        if pod.metadata is not None and pod.metadata.deletion_timestamp is not None
    ]


def restart(api: k8s.ApiClient, deployment: str) -> None:
    """What `kubectl rollout restart` does: a new pod-template annotation."""
    stamp = dt.datetime.now(dt.UTC).isoformat()
    k8s.AppsV1Api(api).patch_namespaced_deployment(
        deployment,
        install.APP_NAMESPACE,
        {
            "spec": {
                "template": {
                    "metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}
                }
            }
        },
    )


async def all_tasks(client: httpx.AsyncClient, who: dict[str, str]) -> set[str]:
    found: set[str] = set()
    offset = 0
    while True:
        response = await client.get(
            f"{API}/tasks", headers=who, params={"limit": 100, "offset": offset}
        )
        assert response.status_code == 200, response.text
        page = response.json()["data"]
        found |= {task["id"] for task in page}
        if len(page) < 100:
            return found
        offset += 100


async def under_load(
    client: httpx.AsyncClient, who: dict[str, str], disturb: Callable[[], Awaitable[None]]
) -> Load:
    """Steady writes (every tenth with a reminder) before, during and after ``disturb``."""
    load, stop = Load(), asyncio.Event()
    writer = asyncio.create_task(steady_writes(client, who, load, stop, remind_every=10))
    await asyncio.sleep(3)
    await disturb()
    await asyncio.sleep(3)
    stop.set()
    await writer
    return load


async def check_nothing_lost(client: httpx.AsyncClient, me: dict[str, str], load: Load) -> None:
    assert len(load.accepted) > 20, f"too little load: {len(load.accepted)} writes"
    stored = await all_tasks(client, me)
    lost = set(load.accepted) - stored
    assert not lost, f"{len(lost)} accepted writes lost of {len(load.accepted)}"
    reminders = {task for task, fire_at in load.accepted.items() if fire_at is not None}
    last = max(fire_at for fire_at in load.accepted.values() if fire_at is not None)
    wait = max(0.0, (last - dt.datetime.now(dt.UTC)).total_seconds()) + 60

    async def all_fired() -> list[dict[str, object]] | None:
        found = await notifications(client, me)
        return found if {n["task_id"] for n in found} >= reminders else None

    fired = await wait_for(f"{len(reminders)} reminders", all_fired, timeout=wait, interval=1)
    per_task = [str(n["task_id"]) for n in fired]
    assert sorted(per_task) == sorted(reminders), "a reminder fired twice or for a task without one"


@pytest.mark.parametrize("deployment", ["todo-backend", "todo-worker"])
async def test_a_rolling_restart_loses_no_accepted_write_and_no_reminder(
    api: k8s.ApiClient, ingress: Ingress, deployment: str
) -> None:
    async def roll() -> None:
        restart(api, deployment)
        await asyncio.to_thread(
            kube.wait_rollout, api, install.APP_NAMESPACE, "Deployment", deployment, 300
        )

    async with ingress.client(timeout=20) as client:
        me = await signup(client)
        load = await under_load(client, me, roll)
        await check_nothing_lost(client, me, load)
    total = len(load.accepted) + len(load.failed)
    print(
        f"{deployment} restart: {len(load.accepted)}/{total} writes accepted, "
        f"{len(load.failed)} refused ({sorted(set(load.failed))})"
    )


async def test_a_new_worker_fires_reminders_on_time_once_its_sidecar_has_its_stream(
    api: k8s.ApiClient, ingress: Ingress
) -> None:
    """What `up` and `deliver` wait for after a rollout: every sidecar's stream to the
    scheduler (a Ready pod alone may not have it yet) and the worker's calls reaching the
    backend. From then on a reminder a few seconds ahead fires on time, through the new
    worker."""
    restart(api, "todo-worker")
    await asyncio.to_thread(
        kube.wait_rollout, api, install.APP_NAMESPACE, "Deployment", "todo-worker", 300
    )
    rolled_out = time.monotonic()
    # The replaced pod terminates for up to its grace period after the rollout counts it
    # out: until it has left, its sidecar may still hold the consumer group's partitions
    # (a rebalance when it leaves) or a scheduler stream, and the timing below would
    # judge the old pod's goodbye, not the new one.
    await asyncio.to_thread(
        kube.wait_until,
        "the replaced worker pod gone",
        lambda: not terminating_pods(api, "todo-worker"),
        120,
        lambda: str(terminating_pods(api, "todo-worker")),
    )
    await asyncio.to_thread(gitops.wait_reminders_flow, api)
    print(f"reminders flow {time.monotonic() - rolled_out:.1f}s after the rollout")
    async with ingress.client(timeout=20) as client:
        me = await signup(client)
        fire_at = soon(4)
        response = await client.post(
            f"{API}/tasks",
            headers=me,
            json={"title": "first", "reminders": [{"kind": "absolute", "at": fire_at.isoformat()}]},
        )
        assert response.status_code == 201, response.text
        (note,) = await wait_for_notifications(client, me, 1, timeout=60)
        assert 0 <= lateness(note) < 2, (
            f"reminder recorded {lateness(note):.2f}s after its time\n"
            + reminder_trail(api, note["task_id"])
        )


async def test_killing_the_worker_mid_stream_loses_no_event(
    api: k8s.ApiClient, ingress: Ingress
) -> None:
    """Recurring tasks completed back to back (task-events for the worker) while the worker
    pod is killed without grace: each completion still yields exactly one next occurrence,
    and every reminder set meanwhile fires once."""
    async with ingress.client(timeout=20) as client:
        me = await signup(client)
        core = k8s.CoreV1Api(api)
        completed: list[str] = []
        load, stop = Load(), asyncio.Event()
        writer = asyncio.create_task(steady_writes(client, me, load, stop, remind_every=5))

        async def complete_recurring(count: int) -> None:
            for i in range(count):
                created = await retried(
                    client,
                    f"{API}/tasks",
                    headers=me,
                    json={
                        "title": f"daily {i}",
                        "due_at": "2032-05-01T08:00:00+00:00",
                        "recurrence": {"frequency": "daily"},
                    },
                )
                assert created.status_code == 201, created.text
                task = created.json()
                done = await retried(client, f"{API}/tasks/{task['id']}/complete", headers=me)
                # 409: an earlier attempt completed it and only its answer was lost.
                assert done.status_code in (200, 409), done.text
                completed.append(task["id"])

        first = asyncio.create_task(complete_recurring(10))
        await asyncio.sleep(1)
        for pod in kube.pods(api, install.APP_NAMESPACE, "app.kubernetes.io/name=todo-worker"):
            core.delete_namespaced_pod(
                kube.name_of(pod), install.APP_NAMESPACE, grace_period_seconds=0
            )
        await first
        await complete_recurring(10)
        await asyncio.to_thread(
            kube.wait_rollout, api, install.APP_NAMESPACE, "Deployment", "todo-worker", 300
        )
        stop.set()
        await writer

        async def next_occurrences() -> list[dict[str, object]] | None:
            response = await client.get(
                f"{API}/tasks",
                headers=me,
                params={
                    "status": "open",
                    "due_after": "2032-05-01T12:00:00+00:00",
                    "due_before": "2032-05-03T00:00:00+00:00",
                    "limit": 200,
                },
            )
            found: list[dict[str, object]] = response.json()["data"]
            return found if len(found) >= len(completed) else None

        found = await wait_for(
            "a next occurrence per completion", next_occurrences, timeout=120, interval=1
        )
        assert len(found) == len(
            completed
        ), f"{len(found)} next occurrences for {len(completed)} completions"
        await check_nothing_lost(client, me, load)
