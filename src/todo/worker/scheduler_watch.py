"""Watches the Dapr scheduler for the worker: whether it schedules (readiness), whether it
lost its jobs, and when to make its reminder jobs converge on the tasks again.

The reconciler runs when the worker starts, every `reconcile_seconds`, and at once when
the scheduler comes back from an outage (events whose scheduling failed meanwhile) or is
found without its canary job (its storage was wiped: every job is gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from todo.domain.metrics import RECONCILE_RUNS, SCHEDULING_DEFERRED
from todo.domain.reconciler import ReminderReconciler
from todo.shared.dapr import DaprJobsScheduler

log = logging.getLogger(__name__)

CANARY_JOB = "scheduler-canary"


@dataclass
class ReconciledScheduling:
    """The scheduler as the event handlers see it: a schedule or cancel that fails is left
    to the reconciler instead of failing the event. The database is what a job is made
    from, so the job is put right once the scheduler schedules again, while the event's
    other effects (a next occurrence) and every event behind it go on meanwhile; a failed
    event would be retried for minutes, holding up its partition."""

    scheduler: DaprJobsScheduler
    watch: SchedulerWatch

    async def schedule(self, name: str, due_at: datetime, payload: dict[str, Any]) -> None:
        try:
            await self.scheduler.schedule(name, due_at, payload)
        except Exception as exc:
            self._defer("schedule", name, exc)

    async def cancel(self, name: str) -> None:
        try:
            await self.scheduler.cancel(name)
        except Exception as exc:
            self._defer("cancel", name, exc)

    def _defer(self, action: str, name: str, exc: Exception) -> None:
        log.warning(
            "scheduler call failed; the reconciler repairs the job",
            extra={"action": action, "job": name, "error": f"{type(exc).__name__}: {exc}"},
        )
        SCHEDULING_DEFERRED.labels(action=action).inc()
        self.watch.request_reconcile()


@dataclass
class SchedulerWatch:
    scheduler: DaprJobsScheduler
    reconciler: ReminderReconciler
    probe_seconds: float = 5.0
    reconcile_seconds: float = 60.0
    probe_timeout_seconds: float = 3.0
    _task: asyncio.Task[None] | None = field(default=None, init=False)
    _requested: bool = field(default=False, init=False)
    reconciled: asyncio.Event = field(default_factory=asyncio.Event, init=False)

    def request_reconcile(self) -> None:
        """Reconcile at the next probe at which the scheduler schedules."""
        self._requested = True

    @property
    def reconcile_requested(self) -> bool:
        return self._requested

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="scheduler-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        reconcile_due = True  # on start
        next_reconcile = 0.0
        scheduler_up = True
        first_probe = True
        while True:
            try:
                held = await self.scheduler.probe(CANARY_JOB, timeout=self.probe_timeout_seconds)
                if not scheduler_up:
                    log.warning("the scheduler schedules again: reconciling reminder jobs")
                    reconcile_due = True
                if not held and not first_probe:
                    log.error("the scheduler lost its jobs (canary missing): reconciling")
                    reconcile_due = True
                scheduler_up = True
                first_probe = False
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if scheduler_up:
                    log.warning("the scheduler does not schedule", extra={"error": str(exc)})
                scheduler_up = False
            if self._requested:
                reconcile_due, self._requested = True, False
            if scheduler_up and (reconcile_due or time.monotonic() >= next_reconcile):
                reconcile_due = not await self._reconcile()
                next_reconcile = time.monotonic() + self.reconcile_seconds
            await asyncio.sleep(self.probe_seconds)

    async def _reconcile(self) -> bool:
        try:
            report = await self.reconciler.reconcile()
        except asyncio.CancelledError:
            raise
        except Exception:
            # The backend or the scheduler failed midway: every step is idempotent, so the
            # next probe starts over.
            log.exception("reconciling reminder jobs failed; trying again")
            RECONCILE_RUNS.labels(outcome="failed").inc()
            return False
        RECONCILE_RUNS.labels(outcome="ok").inc()
        log.info(
            "reminder jobs reconciled",
            extra={"checked": report.checked, "repaired": report.repaired},
        )
        self.reconciled.set()
        return True
