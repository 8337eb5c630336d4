"""A warm-up before the measured load: every kind of request the workload sends, a few times.

A server's first requests of each kind are slower than the rest: SQLAlchemy compiles and
caches each statement, pydantic and FastAPI build their serializers, connection pools
fill. On a 2-core machine, with a light profile of a few hundred requests per group,
those first requests (tens of milliseconds each, all in the first seconds) decide the
p95 of a group by themselves. They are a start-up cost, which the readiness probe and a
rolling deployment absorb, not the steady state that slo.yaml describes: so the runner
sends them before Locust starts, on an account of their own, and reports the warm-up
apart (it is not judged).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from loadtests.workload import PRIORITIES, TAGS, WORDS, list_queries, new_task_body, title

API = "/api/v1"
PASSWORD = "warm-up-pass-12345"  # noqa: S105 - a throwaway account of a test server


class WarmUpError(RuntimeError):
    """The target failed a request of the warm-up: no load test is worth running."""


@dataclass(frozen=True)
class WarmUp:
    requests: int
    seconds: float

    def describe(self) -> str:
        return f"warm-up: {self.requests} requests in {self.seconds:.1f} s before the load"


class _Session:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client
        self.token = ""
        self.requests = 0

    async def call(
        self,
        method: str,
        path: str,
        expect: int,
        *,
        json: dict[str, Any] | None = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        all_headers = dict(headers or {})
        if self.token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        response = await self.client.request(
            method, path, json=json, params=params, headers=all_headers
        )
        self.requests += 1
        if response.status_code != expect:
            raise WarmUpError(
                f"{method} {path} answered {response.status_code} (expected {expect}): "
                f"{response.text[:300]}"
            )
        return {} if expect == 204 else dict(response.json())


async def warm_up(base_url: str, rounds: int = 3, timeout_s: float = 30.0) -> WarmUp:
    started = time.monotonic()
    async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s) as client:
        session = _Session(client)
        email = f"warm-up-{uuid.uuid4().hex}@example.com"
        account = {"email": email, "password": PASSWORD}
        body = await session.call(
            "POST", f"{API}/auth/register", 201, json={**account, "display_name": "warm-up"}
        )
        session.token = str(body["access_token"])
        for _ in range(rounds):
            await _round(session, account)
    return WarmUp(session.requests, time.monotonic() - started)


async def _round(session: _Session, account: dict[str, str]) -> None:
    now = datetime.now(UTC)
    login = await session.call("POST", f"{API}/auth/login", 200, json=account)
    session.token = str(login["access_token"])
    await session.call("GET", f"{API}/users/me", 200)
    # Every optional part of a task at least once: reminders of both kinds, recurrence.
    due = (now + timedelta(days=1)).isoformat()
    full = {
        "title": title(),
        "notes": " ".join(WORDS[:6]),
        "priority": "high",
        "tags": list(TAGS[:2]),
        "due_at": due,
        "time_zone": "Europe/Berlin",
        "reminders": [
            {"kind": "before_due", "minutes_before": 15},
            {"kind": "absolute", "at": (now + timedelta(hours=2)).isoformat()},
        ],
        "recurrence": {"frequency": "daily"},
    }
    created = [await session.call("POST", f"{API}/tasks", 201, json=full)]
    for _ in range(4):
        created.append(await session.call("POST", f"{API}/tasks", 201, json=new_task_body(now)))
    for query in list_queries(now):
        await session.call("GET", f"{API}/tasks", 200, params=query)
    await session.call("GET", f"{API}/tasks", 200, params={"q": WORDS[0], "limit": 20})
    await session.call("GET", f"{API}/notifications", 200, params={"limit": 20})
    changes: list[dict[str, Any]] = [
        {"title": title()},
        {"priority": PRIORITIES[-1]},
        {"tags": list(TAGS[2:4])},
        {"notes": " ".join(WORDS[6:10])},
    ]
    tasks = {str(t["id"]): int(t["version"]) for t in created}
    for (task_id, version), change in zip(list(tasks.items()), changes, strict=False):
        await session.call("GET", f"{API}/tasks/{task_id}", 200)
        updated = await session.call(
            "PATCH",
            f"{API}/tasks/{task_id}",
            200,
            json=change,
            headers={"If-Match": f'"{version}"'},
        )
        tasks[task_id] = int(updated["version"])
    ids = list(tasks)
    # The recurring task first: completing it rolls the series forward.
    await session.call(
        "POST",
        f"{API}/tasks/{ids[0]}/complete",
        200,
        headers={"If-Match": f'"{tasks[ids[0]]}"'},
    )
    await session.call(
        "DELETE", f"{API}/tasks/{ids[-1]}", 204, headers={"If-Match": f'"{tasks[ids[-1]]}"'}
    )
