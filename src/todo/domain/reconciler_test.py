"""The reconciler's decisions (pure logic over in-memory ports; the real scheduler that
lost its storage is in tests/integration/dapr_flow_test.py and the fault suite)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from todo.domain.events import ReminderKind, ReminderSpec, TaskSnapshot
from todo.domain.reconciler import (
    ReminderReconciler,
    ReminderTaskPage,
    ReminderTaskState,
    wanted_fire_time,
)
from todo.domain.reminders import reminder_job_name

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def state(
    task_id: str,
    *at: datetime,
    status: str = "open",
    last_notified_at: datetime | None = None,
    changed_at: datetime = NOW - HOUR,
) -> ReminderTaskState:
    task = TaskSnapshot(
        id=task_id,
        owner_id="u1",
        title=task_id,
        status=status,  # type: ignore[arg-type]
        priority="medium",
        series_id=task_id,
        version=1,
        reminders=[ReminderSpec(kind=ReminderKind.ABSOLUTE, at=t) for t in at],
    )
    return ReminderTaskState(task=task, last_notified_at=last_notified_at, changed_at=changed_at)


def test_the_wanted_job_is_the_first_reminder_not_yet_notified() -> None:
    first, second = NOW - timedelta(minutes=5), NOW + timedelta(minutes=5)
    assert wanted_fire_time(state("t", first, second), NOW, HOUR) == first
    assert wanted_fire_time(state("t", first, second, last_notified_at=first), NOW, HOUR) == second
    assert wanted_fire_time(state("t", first, second, status="completed"), NOW, HOUR) is None


def test_no_job_for_a_reminder_past_its_usefulness_or_past_when_it_was_set() -> None:
    stale = NOW - 2 * HOUR
    assert wanted_fire_time(state("t", stale, changed_at=NOW - 3 * HOUR), NOW, HOUR) is None
    earlier = NOW - timedelta(minutes=10)
    assert (
        wanted_fire_time(state("t", earlier, changed_at=NOW - timedelta(minutes=1)), NOW, HOUR)
        is None
    )


class Tasks:
    def __init__(self, states: list[ReminderTaskState]) -> None:
        self.states = sorted(states, key=lambda s: s.task.id)
        self.limits: list[int] = []
        self.current: dict[str, TaskSnapshot] = {}  # changed after the listing

    async def reminder_tasks(
        self, after: str | None, limit: int, changed_within: timedelta
    ) -> ReminderTaskPage:
        self.limits.append(limit)
        rest = [s for s in self.states if after is None or s.task.id > after]
        page = rest[:limit]
        return ReminderTaskPage(
            data=page, next_after=page[-1].task.id if len(rest) > limit else None
        )

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        return self.current.get(task_id) or next(
            (s.task for s in self.states if s.task.id == task_id), None
        )


class Jobs:
    def __init__(self, held: dict[str, datetime]) -> None:
        self.held = dict(held)
        self.scheduled: list[tuple[str, datetime, dict[str, Any]]] = []

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        self.held[name] = due_at
        self.scheduled.append((name, due_at, payload))

    async def cancel(self, name: str) -> None:
        self.held.pop(name, None)

    async def due_at(self, name: str) -> datetime | None:
        return self.held.get(name)


async def test_a_pass_restores_lost_jobs_moves_wrong_ones_and_cancels_unwanted() -> None:
    soon, later = NOW + timedelta(minutes=1), NOW + timedelta(minutes=2)
    tasks = Tasks(
        [
            state("a-lost", soon),
            state("b-right", soon),
            state("c-wrong", soon, later),
            state("d-closed", soon, status="completed"),
            state("e-closed-no-job", soon, status="completed"),
        ]
    )
    jobs = Jobs(
        {
            reminder_job_name("b-right"): soon,
            reminder_job_name("c-wrong"): later,
            reminder_job_name("d-closed"): soon,
        }
    )
    report = await ReminderReconciler(
        tasks, jobs, useful_for=HOUR, page_size=2, clock=lambda: NOW
    ).reconcile()
    assert (report.checked, report.restored, report.moved, report.cleared) == (5, 1, 1, 2)
    assert jobs.held == {
        reminder_job_name("a-lost"): soon,
        reminder_job_name("b-right"): soon,
        reminder_job_name("c-wrong"): soon,
    }
    assert tasks.limits == [2, 2, 2], "three pages of two"
    name, _, payload = jobs.scheduled[0]
    assert name == reminder_job_name("a-lost")
    assert payload == {"task_id": "a-lost", "owner_id": "u1", "fire_at": "2026-12-01T12:01:00Z"}
    again = await ReminderReconciler(tasks, jobs, useful_for=HOUR, clock=lambda: NOW).reconcile()
    assert again.repaired == 0, "a second pass finds nothing to do"


async def test_a_task_changed_since_its_page_was_read_is_left_to_its_event() -> None:
    listed = state("a-changed", NOW + timedelta(minutes=1))
    tasks = Tasks([listed])
    tasks.current["a-changed"] = listed.task.model_copy(update={"version": 2})
    jobs = Jobs({})
    report = await ReminderReconciler(tasks, jobs, useful_for=HOUR, clock=lambda: NOW).reconcile()
    assert report.repaired == 0, "the page was stale: no repair from it"
    assert jobs.held == {}
