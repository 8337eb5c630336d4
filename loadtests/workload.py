"""What simulated users send: task bodies, list filters and words, shared by the Locust
workload (locustfile.py) and the runner's warm-up (warmup.py). No Locust import here:
gevent's monkey-patching must stay out of the runner's process."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

WORDS = (
    "report budget dentist groceries invoice meeting review plan garden taxes "
    "call email draft slides gym laundry book flight renew insurance"
).split()
TAGS = ("work", "home", "errands", "health", "finance", "reading")
ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Tokyo")
PRIORITIES = ("low", "medium", "medium", "medium", "high", "urgent")

# Shapes the workload, not security; one generator per process is enough (Locust's users
# share it under gevent, the runner's warm-up in its event loop).
_rng = random.Random()  # noqa: S311


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def title() -> str:
    return " ".join(_rng.sample(WORDS, 3)).capitalize()


def new_task_body(now: datetime) -> dict[str, Any]:
    """A task as people make them: mostly with a due date, some with reminders (a few
    due within minutes, so notifications fire during the run), some recurring."""
    body: dict[str, Any] = {
        "title": title(),
        "priority": _rng.choice(PRIORITIES),
        "tags": _rng.sample(TAGS, _rng.randint(0, 2)),
    }
    if _rng.random() < 0.3:
        body["notes"] = " ".join(_rng.choices(WORDS, k=12))
    if _rng.random() < 0.8:
        body["due_at"] = _iso(now + timedelta(minutes=_rng.randint(60, 14 * 24 * 60)))
        body["time_zone"] = _rng.choice(ZONES)
        roll = _rng.random()
        if roll < 0.3:
            body["reminders"] = [{"kind": "before_due", "minutes_before": _rng.choice((15, 60))}]
        elif roll < 0.4:
            soon = now + timedelta(seconds=_rng.randint(30, 120))
            body["reminders"] = [{"kind": "absolute", "at": _iso(soon)}]
        roll = _rng.random()
        if roll < 0.1:
            body["recurrence"] = {"frequency": "daily"}
        elif roll < 0.17:
            body["recurrence"] = {"frequency": "weekly", "weekdays": ["MO", "TH"]}
        elif roll < 0.2:
            body["recurrence"] = {"frequency": "monthly", "month_day": _rng.randint(1, 28)}
    return body


def list_queries(now: datetime) -> tuple[dict[str, Any], ...]:
    """The filters the web UI offers."""
    return (
        {"status": "open", "sort": "due"},
        {"status": "open", "priority": ["high", "urgent"], "sort": "priority"},
        {"tag": _rng.choice(TAGS), "status": "open"},
        {"overdue": "true"},
        {
            "status": "open",
            "due_after": _iso(now),
            "due_before": _iso(now + timedelta(days=7)),
        },
        {"status": "completed", "sort": "-created", "limit": 20},
    )


def list_query(now: datetime) -> dict[str, Any]:
    """One of the filters the web UI offers."""
    return _rng.choice(list_queries(now))


def rng() -> random.Random:
    return _rng
