"""What the reminder reconciler reads: tasks with reminders, with their last notification.

A read of its own, beside the task queries: paged by task id (a stable cursor while tasks
come and go), open tasks plus those changed lately (a task closed or stripped of its
reminders a moment ago may still have a job to cancel).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from todo.backend.models import TASKS, Notification
from todo.backend.tasks.queries import snapshot, tags_of
from todo.domain.reconciler import ReminderTaskPage, ReminderTaskState
from todo.domain.tasks import TaskStatus

NOTIFICATIONS = Notification.__table__  # type: ignore[attr-defined]


async def reminder_tasks(
    session: AsyncSession, after: str | None, limit: int, changed_within: timedelta
) -> ReminderTaskPage:
    last_notified = (
        select(func.max(NOTIFICATIONS.c.fire_at))
        .where(NOTIFICATIONS.c.task_id == TASKS.c.id)
        .scalar_subquery()
    )
    since = datetime.now(UTC) - changed_within
    query = (
        select(TASKS, last_notified.label("last_notified_at"))
        .where(
            or_(func.json_array_length(TASKS.c.reminders) > 0, TASKS.c.snoozed_until.is_not(None)),
            or_(TASKS.c.status == TaskStatus.OPEN, TASKS.c.updated_at >= since),
        )
        .order_by(TASKS.c.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(TASKS.c.id > after)
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    tags = await tags_of(session, [row.id for row in page])
    data = [
        ReminderTaskState(
            task=snapshot(row, tags[row.id]),
            last_notified_at=_aware(row.last_notified_at),
            changed_at=row.updated_at,
        )
        for row in page
    ]
    return ReminderTaskPage(data=data, next_after=page[-1].id if len(rows) > limit else None)


def _aware(at: datetime | None) -> datetime | None:
    # A scalar subquery bypasses the column's type: SQLite hands back a naive UTC value
    # (or text).
    if isinstance(at, str):
        at = datetime.fromisoformat(at)
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)
