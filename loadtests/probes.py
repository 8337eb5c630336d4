"""Event-latency probes that run beside Locust (in the runner's event loop, on their own
accounts) while the load is on, each at about one sample a second:

- event:commit_to_topic (Kafka target): every record on `task-events` (all users' changes),
  the event's `time` (its commit) to the record's timestamp on the broker; and, reported
  beside it, event:commit_to_consumer, to this consumer seeing it.
- event:commit_to_sse (every target; the embedded target's stand-in for the topic): a task
  created by the probe, its `updated_at` (commit) to its `refresh` arriving on
  /api/v1/events/stream.
- reminder:lateness: tasks with a reminder due 2-5 s after creation; the notification's
  created_at - fire_at (both server clock), found by polling /api/v1/notifications.
- recurrence:next_visible: a daily task completed; its completed_at to the moment a list
  request (polled every 50 ms) first shows the next occurrence.

Server and probe share the machine's clock, so server timestamps and local wall time compare.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from aiokafka import ConsumerRecord

from loadtests.slo import ProbeSamples
from todo.domain.events import CloudEvent, Topic
from todo.shared.bus_kafka import KafkaEventBus

log = logging.getLogger("loadtests.probes")

API = "/api/v1"
PASSWORD = "probe-pass-12345"  # noqa: S105 - throwaway accounts of a test server
INTERVAL_S = 1.0
SSE_WAIT_S = 10.0
RECURRENCE_POLL_S = 0.05
RECURRENCE_WAIT_S = 30.0
REMINDER_POLL_S = 0.5
REMINDER_GRACE_S = 20.0
KAFKA_DRAIN_QUIET_S = 2.0
KAFKA_DRAIN_MAX_S = 30.0

_rng = random.Random()  # noqa: S311 - spreads probe timings, not security

PROBE_NOTES = {
    "event:commit_to_topic": "task-events record timestamp - event time, all changes of the run",
    "event:commit_to_consumer": "event time to the probe's consumer handling it (no SLO)",
    "event:commit_to_sse": "task created (updated_at) to its SSE refresh",
    "reminder:lateness": "notification created_at - fire_at, reminders due 2-5 s ahead",
    "recurrence:next_visible": "completed_at to next occurrence in the list, 50 ms polling",
}


def _ts(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


@dataclass
class Probes:
    base_url: str
    kafka_bootstrap: str | None = None
    samples: dict[str, ProbeSamples] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def _bucket(self, name: str) -> ProbeSamples:
        return self.samples.setdefault(name, ProbeSamples(note=PROBE_NOTES.get(name, "")))

    async def run(self, stop: asyncio.Event) -> dict[str, ProbeSamples]:
        """Sample until `stop` is set, then wait (bounded) for what is still in flight."""
        limits = httpx.Limits(max_connections=10)
        async with httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(15.0), limits=limits
        ) as client:
            jobs: list[Awaitable[None]] = [
                self._guard("event:commit_to_sse", self._sse, client, stop),
                self._guard("reminder:lateness", self._reminders, client, stop),
                self._guard("recurrence:next_visible", self._recurrence, client, stop),
            ]
            if self.kafka_bootstrap:
                jobs.append(self._guard("event:commit_to_topic", self._kafka, client, stop))
            await asyncio.gather(*jobs)
        return self.samples

    async def _guard(
        self,
        name: str,
        probe: Callable[[httpx.AsyncClient, asyncio.Event], Awaitable[None]],
        client: httpx.AsyncClient,
        stop: asyncio.Event,
    ) -> None:
        """A probe that breaks ends with a note in the report, not the run."""
        self._bucket(name)
        try:
            await probe(client, stop)
        except Exception as exc:
            message = f"{name}: probe stopped early: {type(exc).__name__}: {exc}"
            log.warning(message)
            self.errors.append(message)

    async def _account(self, client: httpx.AsyncClient, label: str) -> dict[str, str]:
        response = await client.post(
            f"{API}/auth/register",
            json={
                "email": f"probe-{label}-{uuid.uuid4().hex[:12]}@example.com",
                "password": PASSWORD,
            },
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    @staticmethod
    async def _pause(stop: asyncio.Event, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), seconds)

    # ------------------------------------------------------------------ SSE

    async def _sse(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        bucket = self._bucket("event:commit_to_sse")
        headers = await self._account(client, "sse")
        arrivals: dict[str, float] = {}
        waiters: dict[str, asyncio.Event] = {}
        ready = asyncio.Event()

        async def listen() -> None:
            async with client.stream(
                "GET",
                f"{API}/events/stream",
                headers=headers,
                timeout=httpx.Timeout(10.0, read=None),
            ) as response:
                response.raise_for_status()
                kind = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        kind = line.removeprefix("event:").strip()
                    elif line.startswith("data:"):
                        if kind == "ready":
                            ready.set()
                        elif kind == "refresh":
                            # A CloudEvent whose data is a RefreshData.
                            event = json.loads(line.removeprefix("data:").strip())
                            task_id = (event.get("data") or {}).get("task_id")
                            if task_id and task_id not in arrivals:
                                arrivals[task_id] = time.time()
                                if task_id in waiters:
                                    waiters[task_id].set()

        listener = asyncio.create_task(listen(), name="probe-sse-listener")
        try:
            await asyncio.wait_for(ready.wait(), 30)
            while not stop.is_set():
                response = await client.post(
                    f"{API}/tasks", json={"title": "probe sse"}, headers=headers
                )
                response.raise_for_status()
                body = response.json()
                task_id = str(body["id"])
                if task_id not in arrivals:
                    waiters[task_id] = asyncio.Event()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(waiters[task_id].wait(), SSE_WAIT_S)
                    waiters.pop(task_id, None)
                if task_id in arrivals:
                    bucket.values_ms.append(
                        (arrivals.pop(task_id) - _ts(body["updated_at"])) * 1000
                    )
                else:
                    bucket.lost += 1
                await self._pause(stop, INTERVAL_S)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                await listener

    # ------------------------------------------------------------------ reminders

    async def _reminders(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        bucket = self._bucket("reminder:lateness")
        headers = await self._account(client, "reminder")
        pending: dict[str, datetime] = {}  # task id -> its reminder's fire time

        async def poll() -> None:
            response = await client.get(
                f"{API}/notifications", params={"unread": "true", "limit": 200}, headers=headers
            )
            response.raise_for_status()
            for item in response.json()["data"]:
                if item["task_id"] in pending:
                    pending.pop(item["task_id"])
                    bucket.values_ms.append((_ts(item["created_at"]) - _ts(item["fire_at"])) * 1000)
                    read = await client.post(
                        f"{API}/notifications/{item['id']}/read", headers=headers
                    )
                    read.raise_for_status()

        next_create = 0.0
        while not stop.is_set():
            if time.monotonic() >= next_create:
                fire_at = datetime.now(UTC) + timedelta(seconds=_rng.uniform(2.0, 5.0))
                response = await client.post(
                    f"{API}/tasks",
                    json={
                        "title": "probe reminder",
                        "reminders": [{"kind": "absolute", "at": fire_at.isoformat()}],
                    },
                    headers=headers,
                )
                response.raise_for_status()
                pending[str(response.json()["id"])] = fire_at
                next_create = time.monotonic() + INTERVAL_S
            await poll()
            await self._pause(stop, REMINDER_POLL_S)
        if pending:
            last_fire = max(pending.values())
            deadline = last_fire + timedelta(seconds=REMINDER_GRACE_S)
            while pending and datetime.now(UTC) < deadline:
                await poll()
                await asyncio.sleep(REMINDER_POLL_S)
        bucket.lost += len(pending)

    # ------------------------------------------------------------------ recurrence

    async def _recurrence(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        bucket = self._bucket("recurrence:next_visible")
        headers = await self._account(client, "recurrence")
        while not stop.is_set():
            due = datetime.now(UTC) + timedelta(hours=1)
            created = await client.post(
                f"{API}/tasks",
                json={
                    "title": "probe recurrence",
                    "due_at": due.isoformat(),
                    "recurrence": {"frequency": "daily"},
                },
                headers=headers,
            )
            created.raise_for_status()
            task: dict[str, Any] = created.json()
            done = await client.post(f"{API}/tasks/{task['id']}/complete", headers=headers)
            done.raise_for_status()
            completed_at = _ts(done.json()["completed_at"])
            deadline = time.monotonic() + RECURRENCE_WAIT_S
            seen: float | None = None
            while seen is None and time.monotonic() < deadline:
                listed = await client.get(
                    f"{API}/tasks",
                    params={"status": "open", "sort": "-created", "limit": 10},
                    headers=headers,
                )
                listed.raise_for_status()
                arrived = time.time()
                if any(
                    item["series_id"] == task["series_id"]
                    and item["occurrence_number"] == task["occurrence_number"] + 1
                    for item in listed.json()["data"]
                ):
                    seen = arrived
                else:
                    await asyncio.sleep(RECURRENCE_POLL_S)
            if seen is None:
                bucket.lost += 1
            else:
                bucket.values_ms.append((seen - completed_at) * 1000)
            await self._pause(stop, INTERVAL_S)

    # ------------------------------------------------------------------ Kafka

    async def _kafka(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        assert self.kafka_bootstrap is not None
        to_topic = self._bucket("event:commit_to_topic")
        to_consumer = self._bucket("event:commit_to_consumer")
        last_seen = time.monotonic()

        def observe(record: ConsumerRecord, event: CloudEvent) -> None:
            nonlocal last_seen
            committed_ms = event.time.timestamp() * 1000
            to_topic.values_ms.append(record.timestamp - committed_ms)
            to_consumer.values_ms.append(time.time() * 1000 - committed_ms)
            last_seen = time.monotonic()

        async def handler(event: CloudEvent) -> None:
            return None

        bus = KafkaEventBus(self.kafka_bootstrap, client_id="loadtest-probe", observe=observe)
        bus.subscribe(Topic.TASK_EVENTS, f"loadtest-probe-{uuid.uuid4().hex[:8]}", handler)
        await bus.start()
        try:
            await bus.wait_ready(60)
            await stop.wait()
            drain_until = time.monotonic() + KAFKA_DRAIN_MAX_S
            while (
                time.monotonic() - last_seen < KAFKA_DRAIN_QUIET_S
                and time.monotonic() < drain_until
            ):
                await asyncio.sleep(0.2)
        finally:
            await bus.stop()
