"""Reminder jobs converge on the tasks: the scheduler's state is repaired from the database.

Events keep reminder jobs current as tasks change, but a scheduler can lose jobs (its
storage wiped) or refuse them while down, and an event whose scheduling failed may sit in
a dead-letter topic. The reconciler walks the tasks that have reminders (page by page,
from the task service) and, for each, makes the scheduler hold exactly the job the task
wants now: its next reminder not yet notified, or none.

What a task wants is computed from the database alone:
- open, with a fire time after its last notification (a notified reminder is done), at or
  after its last change (a reminder already past when it was set is never sent, as on the
  event path) and no older than the reminder's usefulness (a reminder hours late is noise);
- otherwise nothing.

Scheduling is idempotent (a job name is replaced), and a job that fires twice records one
notification (unique by task and fire time), so repairing a job that was in fact there,
or racing a job that fires meanwhile, doubles no effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

from pydantic import AwareDatetime, BaseModel

from todo.domain.events import TaskSnapshot
from todo.domain.handlers import ReminderJob, task_fire_times
from todo.domain.metrics import REMINDER_JOBS_REPAIRED
from todo.domain.ports import ReminderScheduler
from todo.domain.reminders import reminder_job_name

log = logging.getLogger(__name__)

# A change's commit and its snapshot's clock differ by milliseconds; a reminder set for
# "now" still counts as set before it was due.
CHANGE_CLOCK_TOLERANCE = timedelta(seconds=1)


class ReminderTaskState(BaseModel):
    """A task that has reminders, as the reconciler needs it."""

    task: TaskSnapshot
    last_notified_at: AwareDatetime | None = None
    changed_at: AwareDatetime


class ReminderTaskPage(BaseModel):
    data: list[ReminderTaskState]
    # The cursor of the next page (a task id), None after the last page.
    next_after: str | None = None


class ReminderTaskSource(Protocol):
    """The task service's listing of tasks with reminders: open ones, and those changed
    within the last `changed_within` (a task closed or stripped of its reminders lately
    may still have a job)."""

    async def reminder_tasks(
        self, after: str | None, limit: int, changed_within: timedelta
    ) -> ReminderTaskPage: ...

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        """The task as it is now (a repair checks that its page is not stale)."""


class InspectableScheduler(ReminderScheduler, Protocol):
    async def due_at(self, name: str) -> datetime | None:
        """When the job of that name is due, or None when the scheduler holds none (or
        cannot say: the caller then schedules again, which is idempotent)."""


def wanted_fire_time(
    state: ReminderTaskState, now: datetime, useful_for: timedelta
) -> datetime | None:
    """The one reminder job the task wants now, or None."""
    if state.task.status != "open":
        return None
    floor = max(state.changed_at - CHANGE_CLOCK_TOLERANCE, now - useful_for)
    for at in task_fire_times(state.task):
        if at < floor:
            continue
        if state.last_notified_at is not None and at <= state.last_notified_at:
            continue
        return at
    return None


@dataclass
class ReconcileReport:
    checked: int = 0
    restored: int = 0
    moved: int = 0
    # Jobs of tasks that want none, deleted whether or not one was left (idempotent).
    cleared: int = 0
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def repaired(self) -> int:
        return self.restored + self.moved


@dataclass
class ReminderReconciler:
    source: ReminderTaskSource
    scheduler: InspectableScheduler
    useful_for: timedelta = timedelta(hours=1)
    page_size: int = 200
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    async def reconcile(self) -> ReconcileReport:
        """One pass over every task with reminders; raises if the task service or the
        scheduler fails (the caller tries again later: every step is idempotent)."""
        report = ReconcileReport()
        after: str | None = None
        while True:
            page = await self.source.reminder_tasks(after, self.page_size, self.useful_for)
            for state in page.data:
                await self._converge(state, report)
            if page.next_after is None:
                break
            after = page.next_after
        for action in ("restored", "moved"):
            if count := getattr(report, action):
                REMINDER_JOBS_REPAIRED.labels(action=action).inc(count)
        if report.repaired:
            log.warning(
                "reminder jobs repaired",
                extra={
                    "checked": report.checked,
                    "restored": report.restored,
                    "moved": report.moved,
                },
            )
        return report

    async def _converge(self, state: ReminderTaskState, report: ReconcileReport) -> None:
        report.checked += 1
        task = state.task
        name = reminder_job_name(task.id)
        wanted = wanted_fire_time(state, self.clock(), self.useful_for)
        if wanted is None:
            # An open task's leftover job fires into nothing (its reminder was notified or
            # its time is past: the callback checks); a closed task's is deleted.
            if task.status == "open" or not await self._unchanged(task):
                return
            await self.scheduler.cancel(name)  # a no-op for a name without a job
            report.cleared += 1
            return
        held = await self.scheduler.due_at(name)
        if held == wanted or not await self._unchanged(task):
            return
        job = ReminderJob(task_id=task.id, owner_id=task.owner_id, fire_at=wanted)
        await self.scheduler.schedule(name, wanted, job.model_dump(mode="json"))
        if held is None:
            report.restored += 1
        else:
            report.moved += 1

    async def _unchanged(self, task: TaskSnapshot) -> bool:
        """Whether the task is still as its page showed it: a task changed since has its
        job kept current by the change's event, and a repair from the older page would
        undo that."""
        current = await self.source.get_task(task.id)
        return current is None or current.version == task.version
