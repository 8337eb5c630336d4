"""What the reminder reconciler reads: tasks with reminders, with their last notification.

A read of its own, apart from the commands: paged by task id (a stable cursor while
tasks come and go), open tasks plus those changed lately (a task closed or stripped of
its reminders a moment ago may still have a job to cancel).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from todo.backend.models import Notification, Task, TaskStatus
from todo.backend.tasks_service import snapshot, tags_of
from todo.domain.reconciler import ReminderTaskPage, ReminderTaskState


async def reminder_tasks(
    session: AsyncSession, after: str | None, limit: int, changed_within: timedelta
) -> ReminderTaskPage:
    last_notified = (
        select(func.max(Notification.fire_at))
        .where(col(Notification.task_id) == col(Task.id))
        .scalar_subquery()
    )
    since = datetime.now(UTC) - changed_within
    query = (
        select(Task, last_notified)
        .where(
            or_(func.json_array_length(Task.reminders) > 0, col(Task.snoozed_until).is_not(None)),
            or_(col(Task.status) == TaskStatus.OPEN.value, col(Task.updated_at) >= since),
        )
        .order_by(col(Task.id))
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(col(Task.id) > after)
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    tags = await tags_of(session, [task.id for task, _ in page])
    data = [
        ReminderTaskState(
            task=snapshot(task, tags[task.id]),
            last_notified_at=_aware(notified),
            changed_at=task.updated_at,
        )
        for task, notified in page
    ]
    return ReminderTaskPage(data=data, next_after=page[-1][0].id if len(rows) > limit else None)


def _aware(at: datetime | None) -> datetime | None:
    # A scalar subquery bypasses the column's type: SQLite hands back a naive UTC value.
    if at is None or at.tzinfo is not None:
        return at
    return at.replace(tzinfo=UTC)
