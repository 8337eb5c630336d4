"""What keeps the worker's effects from being lost: reminder jobs with a failure policy
bounded by a reminder's usefulness, the watch that reconciles them with the tasks (Dapr
shape), and the automatic retry tier of the dead-letter topics (both shapes)."""

from __future__ import annotations

from datetime import timedelta

from todo.domain.events import Topic
from todo.domain.reconciler import ReminderReconciler
from todo.shared.dapr import DaprJobsScheduler, JobFailurePolicy, SidecarGrpc
from todo.shared.dlq import DeadLetterWatch
from todo.worker.gateway_http import HttpTaskGateway
from todo.worker.scheduler_watch import ReconciledScheduling, SchedulerWatch
from todo.worker.settings import WorkerSettings


def reminder_jobs(
    settings: WorkerSettings, sidecar: SidecarGrpc, tasks: HttpTaskGateway
) -> tuple[DaprJobsScheduler, ReconciledScheduling, SchedulerWatch]:
    """The Jobs API adapter (readiness), the scheduler the handlers use (a failed call is
    left to the reconciler), and the watch that reconciles."""
    useful_for = timedelta(seconds=settings.reminder_useful_for_seconds)
    policy = JobFailurePolicy(
        interval_seconds=settings.reminder_retry_seconds,
        max_retries=int(useful_for.total_seconds()) // settings.reminder_retry_seconds,
    )
    jobs = DaprJobsScheduler(
        sidecar, failure_policy=policy, call_timeout_seconds=settings.scheduler_call_timeout_seconds
    )
    watch = SchedulerWatch(
        jobs,
        ReminderReconciler(tasks, jobs, useful_for=useful_for),
        probe_seconds=settings.scheduler_probe_seconds,
        reconcile_seconds=settings.reconcile_seconds,
    )
    return jobs, ReconciledScheduling(jobs, watch), watch


def dead_letter_watches(settings: WorkerSettings) -> list[DeadLetterWatch]:
    """The automatic retry tier of the dead-letter topics, when a Kafka is configured."""
    if not settings.dlq_kafka_bootstrap:
        return []
    return [
        DeadLetterWatch(
            settings.dlq_kafka_bootstrap,
            [Topic.TASK_EVENTS.value, Topic.REMINDERS.value],
            period_seconds=settings.dlq_check_seconds,
            retry_after_seconds=settings.dlq_retry_after_seconds,
        )
    ]
