"""Prometheus metrics every layer reports into (one registry per process): defined at the
ground floor so the domain and the adapters above it name the same collectors."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

EVENTS_PUBLISHED = Counter(
    "todo_events_published_total", "Events accepted by the bus", ["topic", "adapter"]
)
EVENTS_CONSUMED = Counter(
    "todo_events_consumed_total",
    "Events handled by a consumer group",
    ["topic", "group", "outcome"],
)
EVENTS_DEAD_LETTERED = Counter(
    "todo_events_dead_lettered_total", "Events given up on after retries", ["topic", "group"]
)
OUTBOX_PUBLISH_LAG = Histogram(
    "todo_outbox_publish_lag_seconds",
    "From the commit of a change to its event being accepted by the bus",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
OUTBOX_BATCH_EVENTS = Histogram(
    "todo_outbox_batch_events",
    "Events in each batch the outbox relay published (fuller under load: see its linger)",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
REMINDER_LATENESS = Histogram(
    "todo_reminder_lateness_seconds",
    "From a reminder's due time to its notification being recorded",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
JOBS_FIRED = Counter("todo_jobs_fired_total", "Scheduled jobs fired", ["outcome"])
REMINDER_DELIVERY_LATENESS = Histogram(
    "todo_reminder_delivery_lateness_seconds",
    "From a reminder's due time to its event being consumed from `reminders`",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60),
)
REMINDER_JOBS_REPAIRED = Counter(
    "todo_reminder_jobs_repaired_total",
    "Reminder jobs the reconciler restored (lost) or moved (wrong time) to match the tasks",
    ["action"],
)
RECONCILE_RUNS = Counter(
    "todo_reminder_reconcile_runs_total", "Reconciliation passes by outcome", ["outcome"]
)
DEAD_LETTER_DEPTH = Gauge(
    "todo_dead_letter_depth",
    "Events in a dead-letter topic not yet replayed (end offset minus the replayer's position)",
    ["topic"],
)
DEAD_LETTERS_REPLAYED = Counter(
    "todo_dead_letters_replayed_total", "Dead-lettered events sent back to their topic", ["topic"]
)
SCHEDULING_DEFERRED = Counter(
    "todo_reminder_scheduling_deferred_total",
    "Scheduler calls that failed and were left to the reconciler",
    ["action"],
)
