"""The worker's TaskGateway over HTTP: to the backend's internal API, directly or through
Dapr service invocation (`{dapr}/v1.0/invoke/{app-id}/method`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx

from todo.domain.events import TaskSnapshot
from todo.domain.ports import PermanentEventError
from todo.domain.reconciler import ReminderTaskPage


@dataclass
class HttpTaskGateway:
    client: httpx.AsyncClient
    """Its base URL ends where `/internal/v1/...` begins; its headers carry the tokens."""

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        response = await self.client.get(f"/internal/v1/tasks/{task_id}")
        if response.status_code == 404:
            return None
        _raise_for_status(response)
        return TaskSnapshot.model_validate_json(response.content)

    async def create_next_occurrence(self, task_id: str, idempotency_key: str) -> str | None:
        response = await self.client.post(
            f"/internal/v1/tasks/{task_id}/next-occurrence",
            json={"idempotency_key": idempotency_key},
        )
        _raise_for_status(response)
        created: str | None = response.json()["task_id"]
        return created

    async def record_reminder(
        self, task_id: str, fire_at: datetime, title: str
    ) -> tuple[str, bool]:
        response = await self.client.post(
            f"/internal/v1/tasks/{task_id}/reminders",
            json={"fire_at": fire_at.isoformat(), "title": title},
        )
        _raise_for_status(response)
        body = response.json()
        return str(body["notification_id"]), bool(body["created"])

    async def reminder_tasks(
        self, after: str | None, limit: int, changed_within: timedelta
    ) -> ReminderTaskPage:
        params: dict[str, str | int] = {
            "limit": limit,
            "changed_within_seconds": int(changed_within.total_seconds()),
        }
        if after is not None:
            params["after"] = after
        response = await self.client.get("/internal/v1/reminder-tasks", params=params)
        _raise_for_status(response)
        return ReminderTaskPage.model_validate_json(response.content)


def _raise_for_status(response: httpx.Response) -> None:
    # 4xx other than the handled ones will not heal by retrying; 5xx and network errors may.
    if 400 <= response.status_code < 500 and response.status_code not in (408, 429):
        raise PermanentEventError(
            f"{response.request.method} {response.request.url.path}: "
            f"{response.status_code} {response.text[:300]}"
        )
    response.raise_for_status()
