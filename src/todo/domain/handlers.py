"""The worker's domain logic: reminders and recurrence, written once against the ports.

Both shapes run these handlers: the embedded backend calls them in process; the worker
service calls them from Dapr subscriptions and job callbacks, or its Kafka consumer.

Every effect is idempotent by a key checked atomically where the effect is stored:
scheduling a job replaces the job of the same name, a next occurrence is unique by the
completion event's id, a notification is unique by (task, fire time). A redelivered event
therefore never doubles an effect.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ValidationError

from todo.domain.events import (
    TASK_EVENT_TYPES,
    CloudEvent,
    EventType,
    TaskEventData,
    TaskSnapshot,
    Topic,
)
from todo.domain.metrics import JOBS_FIRED, REMINDER_DELIVERY_LATENESS, REMINDER_LATENESS
from todo.domain.ports import (
    EventBus,
    FiresJobs,
    JobHandler,
    PermanentEventError,
    ReminderScheduler,
    TaskGateway,
)
from todo.domain.reminders import fire_times, next_fire_time, reminder_job_name

log = logging.getLogger(__name__)


class ReminderJob(BaseModel):
    """What a reminder job carries to its callback."""

    task_id: str
    owner_id: str
    fire_at: AwareDatetime


def task_fire_times(task: TaskSnapshot) -> list[datetime]:
    return fire_times(task.reminders, task.due_at, task.snoozed_until)


@dataclass
class ReminderService:
    scheduler: ReminderScheduler
    tasks: TaskGateway

    async def reschedule(self, task: TaskSnapshot, after: datetime, *, inclusive: bool) -> None:
        name = reminder_job_name(task.id)
        upcoming = None
        if task.status == "open":
            upcoming = next_fire_time(task_fire_times(task), after, inclusive=inclusive)
        if upcoming is None:
            await self.scheduler.cancel(name)
            return
        job = ReminderJob(task_id=task.id, owner_id=task.owner_id, fire_at=upcoming)
        await self.scheduler.schedule(name, upcoming, job.model_dump(mode="json"))

    async def on_job(self, name: str, payload: dict[str, Any]) -> None:
        """A reminder job fired: notify if the task is open and the reminder still stands."""
        try:
            job = ReminderJob.model_validate(payload)
        except ValidationError as exc:
            JOBS_FIRED.labels(outcome="malformed").inc()
            raise PermanentEventError(f"job {name}: malformed payload: {exc}") from exc
        task = await self.tasks.get_task(job.task_id)
        if task is None or task.status != "open":
            JOBS_FIRED.labels(outcome="task_closed").inc()
            return
        current = task_fire_times(task)
        if job.fire_at not in current:
            # The task changed after this job was scheduled; its update event has
            # scheduled the reminder that stands now.
            JOBS_FIRED.labels(outcome="stale").inc()
            return
        _, created = await self.tasks.record_reminder(task.id, job.fire_at, task.title)
        if created:
            REMINDER_LATENESS.observe((datetime.now(UTC) - job.fire_at).total_seconds())
        JOBS_FIRED.labels(outcome="notified" if created else "duplicate").inc()
        await self.reschedule(task, job.fire_at, inclusive=False)


REMINDER_FIELDS = frozenset({"reminders", "due_at", "snoozed_until", "status"})


def affects_reminders(event_type: str, data: TaskEventData) -> bool:
    """Whether the event can change the task's reminder job: most changes (a title, tags,
    a task without reminders) cannot, and skipping them keeps the scheduler's store quiet."""
    task = data.task
    has_reminders = bool(task.reminders) or task.snoozed_until is not None
    if event_type == EventType.TASK_UPDATED:
        return bool(REMINDER_FIELDS & set(data.changed_fields))
    return has_reminders


@dataclass
class TaskEventHandler:
    """Consumes `task-events`: keeps reminder jobs current and rolls recurring tasks."""

    reminders: ReminderService
    tasks: TaskGateway

    async def __call__(self, event: CloudEvent) -> None:
        if event.type not in TASK_EVENT_TYPES:
            log.debug("ignoring event type", extra={"type": event.type, "event_id": event.id})
            return
        try:
            data = event.task_data()
        except ValidationError as exc:
            raise PermanentEventError(f"event {event.id}: bad task payload: {exc}") from exc
        task = data.task
        if affects_reminders(event.type, data):
            if event.type == EventType.TASK_DELETED:
                await self.reminders.scheduler.cancel(reminder_job_name(task.id))
                return
            await self.reminders.reschedule(task, event.time, inclusive=True)
        if event.type == EventType.TASK_COMPLETED and task.recurrence is not None:
            created = await self.tasks.create_next_occurrence(task.id, idempotency_key=event.id)
            log.info(
                "next occurrence",
                extra={"task_id": task.id, "event_id": event.id, "next_task_id": created},
            )


async def observe_reminder(event: CloudEvent) -> None:
    """Consumes `reminders`: the point where a reminder counts as delivered."""
    if event.type == EventType.REMINDER_DUE:
        due = event.reminder_data().fire_at
        REMINDER_DELIVERY_LATENESS.observe((datetime.now(UTC) - due).total_seconds())


@dataclass(frozen=True)
class ReminderMachinery:
    """Everything that keeps reminders and recurrence going, wired once for every shape:
    task events reschedule reminder jobs and roll series forward; fired jobs notify."""

    reminders: ReminderService
    task_events: TaskEventHandler

    @property
    def on_job(self) -> JobHandler:
        """What the scheduler calls when a job falls due (a Dapr shape routes it here)."""
        return self.reminders.on_job


def reminder_machinery(
    scheduler: ReminderScheduler, tasks: TaskGateway, bus: EventBus, group: str
) -> ReminderMachinery:
    """Build the machinery on `scheduler` and `tasks`, and subscribe it to `bus` as the
    consumer `group`. A scheduler that fires its own jobs (the database one) is handed
    the job handler; with Dapr, the sidecar calls the app's job route instead."""
    reminders = ReminderService(scheduler, tasks)
    machinery = ReminderMachinery(reminders, TaskEventHandler(reminders, tasks))
    if isinstance(scheduler, FiresJobs):
        scheduler.set_handler(machinery.on_job)
    bus.subscribe(Topic.TASK_EVENTS, group, machinery.task_events)
    bus.subscribe(Topic.REMINDERS, group, observe_reminder)
    return machinery
