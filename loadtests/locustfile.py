"""The Locust workload of Todo Cloud: simulated people using the REST API.

Every simulated user registers its own account in on_start (so per-user isolation is
exercised: each sees, changes and is charged for its own tasks only), seeds a few tasks,
then mixes reads and writes with weights that resemble real use (reads about 3 in 4):
lists with filters, search, one task, the notifications list, create (some with
reminders and recurrence), update with If-Match, complete, delete, and now and then a
fresh sign-in.

Request names are the SLO groups of slo.yaml ("tasks:list", "auth:login", ...), not URLs.

Run through the runner (`python -m loadtests.run`), or alone against a running backend:

    locust -f loadtests/locustfile.py --host http://127.0.0.1:8000

Environment: LOADTEST_WAIT_MIN / LOADTEST_WAIT_MAX, the think time between two actions of
one user in seconds (default 1 and 3: a person; the runner's profiles use less, each
simulated user standing for many people); LOADTEST_STATS_JSON, where to write the stats
snapshot (with response-time histograms) that the runner evaluates against the SLOs.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from locust import FastHttpUser, between, events, task
from locust.env import Environment

from loadtests.workload import (
    PRIORITIES,
    TAGS,
    WORDS,
    list_query,
    new_task_body,
    rng,
    title,
)

API = "/api/v1"
PASSWORD = "load-test-pass-1"  # noqa: S105 - throwaway accounts of a test server
SEED_TASKS = 5
MAX_KNOWN_TASKS = 200

# Shapes the workload, not security (one generator shared by the users under gevent).
_rng = rng()


def _env_float(name: str, default: float) -> float:
    raw = os.environ.get(name, "")
    return float(raw) if raw else default


class TodoUser(FastHttpUser):
    """One person with their own account."""

    wait_time = between(_env_float("LOADTEST_WAIT_MIN", 1.0), _env_float("LOADTEST_WAIT_MAX", 3.0))

    def on_start(self) -> None:
        self.email = f"lt-{uuid.uuid4().hex}@example.com"
        self.token = ""
        # Open tasks this user knows: id -> version (its ETag).
        self.known: dict[str, int] = {}
        body = self._call(
            "POST",
            f"{API}/auth/register",
            "auth:register",
            201,
            json={"email": self.email, "password": PASSWORD, "display_name": "load test"},
            auth=False,
        )
        if body is None:
            self.stop()  # no account: nothing this user could do would count
            return
        self.token = str(body["access_token"])
        now = datetime.now(UTC)
        for _ in range(SEED_TASKS):
            self._create(now)

    # ------------------------------------------------------------------ helpers

    def _call(
        self,
        method: str,
        path: str,
        name: str,
        expect: int,
        *,
        json: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        auth: bool = True,
    ) -> dict[str, Any] | None:
        """One request; anything but the expected status is a failure named after the group.
        Returns the JSON body (an empty dict for 204) or None on failure."""
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = f"Bearer {self.token}"
        with self.client.request(
            method, path, name=name, json=json, headers=all_headers, catch_response=True
        ) as response:
            if response.status_code != expect:
                text = (response.text or "")[:200]
                response.failure(f"HTTP {response.status_code}, expected {expect}: {text}")
                return None
            try:
                body: dict[str, Any] = {} if expect == 204 else response.json()
            except ValueError as exc:
                response.failure(f"not JSON: {exc}")
                return None
            response.success()
            return body

    def _remember(self, body: dict[str, Any]) -> None:
        if body.get("status") == "open":
            self.known[str(body["id"])] = int(body["version"])
        else:
            self.known.pop(str(body["id"]), None)
        while len(self.known) > MAX_KNOWN_TASKS:
            self.known.pop(next(iter(self.known)))

    def _pick(self) -> tuple[str, int] | None:
        if not self.known:
            return None
        task_id = _rng.choice(list(self.known))
        return task_id, self.known[task_id]

    def _create(self, now: datetime) -> None:
        body = self._call("POST", f"{API}/tasks", "tasks:create", 201, json=new_task_body(now))
        if body is not None:
            self._remember(body)

    def _list(self, query: dict[str, Any], name: str) -> None:
        body = self._call("GET", f"{API}/tasks?{urlencode(query, doseq=True)}", name, 200)
        if body is not None:
            for item in body["data"]:
                self._remember(item)

    # ------------------------------------------------------------------ reads

    @task(20)
    def list_open(self) -> None:
        self._list({"status": "open", "sort": "due", "limit": 50}, "tasks:list")

    @task(10)
    def list_filtered(self) -> None:
        self._list(list_query(datetime.now(UTC)), "tasks:list")

    @task(8)
    def search(self) -> None:
        self._list({"q": _rng.choice(WORDS), "limit": 20}, "tasks:search")

    @task(8)
    def get_one(self) -> None:
        picked = self._pick()
        if picked is None:
            return self.list_open()
        body = self._call("GET", f"{API}/tasks/{picked[0]}", "tasks:get", 200)
        if body is not None:
            self._remember(body)
        return None

    @task(6)
    def notifications(self) -> None:
        self._call("GET", f"{API}/notifications?limit=20", "notifications:list", 200)

    @task(2)
    def me(self) -> None:
        self._call("GET", f"{API}/users/me", "users:me", 200)

    # ------------------------------------------------------------------ writes

    @task(8)
    def create(self) -> None:
        self._create(datetime.now(UTC))

    @task(6)
    def update(self) -> None:
        picked = self._pick()
        if picked is None:
            return self.create()
        task_id, version = picked
        change: dict[str, Any] = _rng.choice(
            (
                {"title": title()},
                {"priority": _rng.choice(PRIORITIES)},
                {"tags": _rng.sample(TAGS, _rng.randint(0, 3))},
                {"notes": " ".join(_rng.choices(WORDS, k=8))},
            )
        )
        body = self._call(
            "PATCH",
            f"{API}/tasks/{task_id}",
            "tasks:update",
            200,
            json=change,
            headers={"If-Match": f'"{version}"'},
        )
        if body is not None:
            self._remember(body)
        return None

    @task(4)
    def complete(self) -> None:
        picked = self._pick()
        if picked is None:
            return self.create()
        task_id, version = picked
        body = self._call(
            "POST",
            f"{API}/tasks/{task_id}/complete",
            "tasks:complete",
            200,
            headers={"If-Match": f'"{version}"'},
        )
        self.known.pop(task_id, None)  # completed, or gone: either way not open any more
        if body is not None:
            self._remember(body)
        return None

    @task(2)
    def delete(self) -> None:
        picked = self._pick()
        if picked is None:
            return None
        task_id, version = picked
        self._call(
            "DELETE",
            f"{API}/tasks/{task_id}",
            "tasks:delete",
            204,
            headers={"If-Match": f'"{version}"'},
        )
        self.known.pop(task_id, None)
        return None

    @task(1)
    def login(self) -> None:
        body = self._call(
            "POST",
            f"{API}/auth/login",
            "auth:login",
            200,
            json={"email": self.email, "password": PASSWORD},
            auth=False,
        )
        if body is not None:
            self.token = str(body["access_token"])


# --------------------------------------------------------------------------- stats out


def stats_snapshot(environment: Environment) -> dict[str, Any]:
    """Locust's figures with full response-time histograms (its CSV has only percentiles,
    which cannot be pooled across request names), in loadtests.slo.StatsSnapshot's shape."""
    stats = environment.stats
    total = stats.total
    end = total.last_request_timestamp or total.start_time
    return {
        "duration_s": max(0.0, end - total.start_time),
        "requests": [
            {
                "name": entry.name,
                "method": entry.method,
                "count": entry.num_requests,
                "failures": entry.num_failures,
                "response_times": {str(k): v for k, v in entry.response_times.items()},
            }
            for entry in stats.entries.values()
            if entry.num_requests or entry.num_failures
        ],
        "errors": [
            {
                "method": error.method,
                "name": error.name,
                "error": str(error.error),
                "occurrences": error.occurrences,
            }
            for error in stats.errors.values()
        ],
        "start_time": total.start_time,
        "end_time": end,
    }


def _write_stats_snapshot(environment: Environment, **_kwargs: Any) -> None:
    target = os.environ.get("LOADTEST_STATS_JSON")
    if target:
        Path(target).write_text(json.dumps(stats_snapshot(environment), indent=1))


# Locust's EventHook.add_listener has no annotations; called (not used as a decorator) so
# that only this line needs the ignore, and the listener keeps its types.
events.quitting.add_listener(_write_stats_snapshot)  # type: ignore[no-untyped-call]
