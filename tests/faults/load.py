"""The steady load of a fault scenario and the ledger of what the system accepted.

A few users, each in a loop: create a task with a reminder 5-30 s ahead, now and then a
daily series task that is completed at once (its next occurrence is due), and read their
list. Only an answered 2xx counts as accepted; a refused request (connection refused, a
503 while the database is away) is no promise, a timed-out one an unknown that the
invariants leave out.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx

API = "/api/v1"


@dataclass
class Ledger:
    reminders: dict[str, datetime] = field(default_factory=dict)  # task id -> fire time
    completed_series: dict[str, str] = field(default_factory=dict)  # task id -> series id
    answers: Counter[str] = field(default_factory=Counter)  # "201", "503", "refused", ...
    unknown: int = 0
    # Every 5xx answer other than 503 (a bare 500 is a defect), and 503s without a reason.
    bad_answers: list[str] = field(default_factory=list)

    @property
    def accepted_writes(self) -> int:
        return len(self.reminders) + 2 * len(self.completed_series)


@dataclass
class SteadyLoad:
    base_url: str
    users: int = 3
    pause_seconds: float = 0.3
    rng: random.Random = field(default_factory=lambda: random.Random(12))
    ledger: Ledger = field(default_factory=Ledger)

    async def run(self, duration_seconds: float) -> Ledger:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=10) as client:
            tokens = [await self._signup(client) for _ in range(self.users)]
            stop_at = asyncio.get_running_loop().time() + duration_seconds
            await asyncio.gather(*(self._user(client, token, stop_at) for token in tokens))
        return self.ledger

    async def _signup(self, client: httpx.AsyncClient) -> dict[str, str]:
        for _ in range(60):
            answer = await self._call(
                client,
                "POST",
                f"{API}/auth/register",
                {},
                {"email": f"f-{uuid.uuid4().hex[:10]}@example.com", "password": "fault-suite-pw"},
            )
            if answer is not None and answer.status_code == 201:
                return {"Authorization": f"Bearer {answer.json()['access_token']}"}
            await asyncio.sleep(0.5)
        raise RuntimeError("could not sign up a load user in 30 s")

    async def _user(self, client: httpx.AsyncClient, me: dict[str, str], stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        turn = 0
        while loop.time() < stop_at:
            turn += 1
            fire_at = datetime.now(UTC).replace(microsecond=0) + timedelta(
                seconds=self.rng.randint(5, 30)
            )
            created = await self._call(
                client,
                "POST",
                f"{API}/tasks",
                me,
                {
                    "title": f"remind {turn}",
                    "reminders": [{"kind": "absolute", "at": fire_at.isoformat()}],
                },
            )
            if created is not None and created.status_code == 201:
                self.ledger.reminders[created.json()["id"]] = fire_at
            if turn % 2 == 0:
                await self._series(client, me)
            await self._call(client, "GET", f"{API}/tasks", me, None)
            await asyncio.sleep(self.pause_seconds)

    async def _series(self, client: httpx.AsyncClient, me: dict[str, str]) -> None:
        due = (datetime.now(UTC) + timedelta(days=1)).replace(hour=9, minute=0, second=0)
        created = await self._call(
            client,
            "POST",
            f"{API}/tasks",
            me,
            {"title": "daily", "due_at": due.isoformat(), "recurrence": {"frequency": "daily"}},
        )
        if created is None or created.status_code != 201:
            return
        task = created.json()
        for _ in range(40):  # the completion is retried until answered (the task exists)
            done = await self._call(client, "POST", f"{API}/tasks/{task['id']}/complete", me, None)
            if done is not None and done.status_code == 200:
                self.ledger.completed_series[task["id"]] = task["series_id"]
                return
            if done is not None and done.status_code < 500:
                return
            await asyncio.sleep(0.5)

    async def _call(
        self,
        client: httpx.AsyncClient,
        method: str,
        path: str,
        headers: dict[str, str],
        body: object,
    ) -> httpx.Response | None:
        try:
            answer = await client.request(method, path, headers=headers, json=body)
        except httpx.TimeoutException:
            self.ledger.unknown += 1 if method != "GET" else 0
            self.ledger.answers["timeout"] += 1
            return None
        except httpx.TransportError:
            self.ledger.answers["refused"] += 1
            return None
        self.ledger.answers[str(answer.status_code)] += 1
        if answer.status_code >= 500:
            self._judge_5xx(method, path, answer)
        return answer

    def _judge_5xx(self, method: str, path: str, answer: httpx.Response) -> None:
        what = f"{method} {path}: {answer.status_code} {answer.text[:200]!r}"
        if answer.status_code != 503:
            self.ledger.bad_answers.append(what)
            return
        try:
            body = answer.json()
        except ValueError:
            self.ledger.bad_answers.append(what)
            return
        if body.get("code") != "service_unavailable" or "Retry-After" not in answer.headers:
            self.ledger.bad_answers.append(what)
