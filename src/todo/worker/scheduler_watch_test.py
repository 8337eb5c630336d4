"""A failed scheduler call holds up no event: it is left to the reconciler (the real
scheduler outage is in the fault suite, tests/faults)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from todo.domain.events import TaskSnapshot
from todo.domain.reconciler import ReminderReconciler, ReminderTaskPage
from todo.shared.dapr import DaprJobsScheduler, SidecarGrpc
from todo.worker.scheduler_watch import ReconciledScheduling, SchedulerWatch


class NoTasks:
    async def reminder_tasks(
        self, after: str | None, limit: int, changed_within: timedelta
    ) -> ReminderTaskPage:
        return ReminderTaskPage(data=[])

    async def get_task(self, task_id: str) -> TaskSnapshot | None:
        return None


async def test_a_failed_schedule_is_deferred_to_the_reconciler_not_raised() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"errorCode": "DAPR_SCHEDULER_SCHEDULE_JOB"})

    client = httpx.AsyncClient(base_url="http://sidecar", transport=httpx.MockTransport(refuse))
    jobs = DaprJobsScheduler(SidecarGrpc(client, 1), scheduling_grace_seconds=0)
    watch = SchedulerWatch(jobs, ReminderReconciler(NoTasks(), jobs))
    scheduling = ReconciledScheduling(jobs, watch)
    await scheduling.schedule("reminder-t", datetime.now(UTC), {"task_id": "t"})
    await scheduling.cancel("reminder-t")
    assert watch.reconcile_requested, "the watch reconciles at its next probe"
    assert jobs.scheduling.down, "readiness still sees the failing scheduler"
