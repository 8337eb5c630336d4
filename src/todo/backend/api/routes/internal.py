"""Service-to-service endpoints for the worker (through Dapr service invocation, or
direct in Kafka mode)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from todo.backend import notifications
from todo.backend.api.deps import ReadSessionDep, SessionDep
from todo.backend.reminder_tasks import reminder_tasks
from todo.backend.tasks import commands, queries
from todo.domain.errors import NotFound
from todo.domain.events import TaskSnapshot
from todo.domain.reconciler import ReminderTaskPage

# Included by the app behind `require_app_token`: only daprd (or the worker) gets in.
router = APIRouter(prefix="/internal/v1", tags=["internal"], include_in_schema=False)


class NextOccurrenceRequest(BaseModel):
    idempotency_key: str = Field(min_length=1, max_length=200)


class NextOccurrenceResult(BaseModel):
    task_id: str | None


class ReminderRequest(BaseModel):
    fire_at: AwareDatetime
    title: str = Field(max_length=200)


class ReminderResult(BaseModel):
    notification_id: str
    created: bool


@router.get("/reminder-tasks")
async def list_reminder_tasks(
    session: ReadSessionDep,
    after: Annotated[str | None, Query(max_length=36, description="cursor: a task id")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    changed_within_seconds: Annotated[int, Query(ge=0, le=30 * 24 * 3600)] = 3600,
) -> ReminderTaskPage:
    """Tasks with reminders for the worker's reconciler: open ones, and those changed
    within `changed_within_seconds`; each with its last notification's fire time."""
    return await reminder_tasks(session, after, limit, timedelta(seconds=changed_within_seconds))


@router.get("/tasks/{task_id}")
async def get_task(task_id: str, session: ReadSessionDep) -> TaskSnapshot:
    found = await queries.load_snapshot(session, task_id)
    if found is None:
        raise NotFound("task", task_id)
    return found


@router.post("/tasks/{task_id}/next-occurrence")
async def next_occurrence(
    task_id: str, body: NextOccurrenceRequest, session: SessionDep
) -> NextOccurrenceResult:
    created = await commands.create_next_occurrence(session, task_id, body.idempotency_key)
    return NextOccurrenceResult(task_id=created)


@router.post("/tasks/{task_id}/reminders")
async def record_reminder(
    task_id: str, body: ReminderRequest, session: SessionDep
) -> ReminderResult:
    notification_id, created = await notifications.record_reminder(
        session, task_id, body.fire_at, body.title
    )
    return ReminderResult(notification_id=notification_id, created=created)
