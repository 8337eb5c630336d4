"""Notifications: recorded when a reminder fires (once per task and fire time, with the
`reminder due` and refresh events in the same transaction); listed and marked read by
their owner. Marking read tells the owner's other browser tabs to reload (a refresh event
in the same transaction), so their counts agree."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from todo.backend.models import (
    Notification,
    NotificationPublic,
    NotificationsPublic,
    Task,
    new_id,
    utcnow,
)
from todo.backend.outbox import add_event
from todo.backend.tasks.queries import find
from todo.domain.errors import NotFound
from todo.domain.events import RefreshData, ReminderDueData, refresh_event, reminder_due_event
from todo.domain.tasks import TaskStatus

NOTIFICATIONS = Notification.__table__  # type: ignore[attr-defined]


async def _recorded(session: AsyncSession, task_id: str, fire_at: datetime) -> str | None:
    found: str | None = await session.scalar(
        select(NOTIFICATIONS.c.id).where(
            NOTIFICATIONS.c.task_id == task_id, NOTIFICATIONS.c.fire_at == fire_at
        )
    )
    return found


async def record_reminder(
    session: AsyncSession, task_id: str, fire_at: datetime, title: str
) -> tuple[str, bool]:
    """One notification per (task, fire time): (its id, whether this call made it)."""
    found = await _recorded(session, task_id, fire_at)
    if found is not None:
        return found, False
    task = await find(session, task_id)
    if task is None:
        raise NotFound("task", task_id)
    notification_id = new_id()
    await session.execute(
        insert(NOTIFICATIONS).values(
            id=notification_id,
            owner_id=task.owner_id,
            task_id=task_id,
            kind="reminder",
            title=title,
            fire_at=fire_at,
            created_at=utcnow(),
            read_at=None,
        )
    )
    add_event(
        session,
        reminder_due_event(
            ReminderDueData(
                task_id=task_id,
                owner_id=task.owner_id,
                title=title,
                fire_at=fire_at,
                due_at=task.due_at,
                notification_id=notification_id,
            )
        ),
    )
    add_event(
        session,
        refresh_event(
            RefreshData(
                owner_id=task.owner_id, kind="notification", task_id=task_id, reason="reminder"
            )
        ),
    )
    try:
        await session.commit()
    except IntegrityError:
        # A concurrent firing of the same reminder recorded it first.
        await session.rollback()
        again = await _recorded(session, task_id, fire_at)
        if again is None:
            raise
        return again, False
    return notification_id, True


def _public(n: Notification, task_status: TaskStatus | None) -> NotificationPublic:
    return NotificationPublic(
        id=n.id,
        task_id=n.task_id,
        kind=n.kind,
        title=n.title,
        fire_at=n.fire_at,
        created_at=n.created_at,
        read_at=n.read_at,
        task_status=task_status,
    )


def _refresh_other_tabs(session: AsyncSession, owner_id: str, task_id: str | None) -> None:
    add_event(
        session,
        refresh_event(
            RefreshData(owner_id=owner_id, kind="notification", task_id=task_id, reason="read")
        ),
    )


async def list_notifications(
    session: AsyncSession, owner_id: str, *, unread_only: bool, limit: int
) -> NotificationsPublic:
    # The task's status beside each notification (null once it was deleted): clients
    # offer Snooze only for an open task.
    stmt = (
        select(Notification, col(Task.status))
        .outerjoin(Task, col(Task.id) == col(Notification.task_id))
        .where(col(Notification.owner_id) == owner_id)
    )
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    rows = (
        await session.execute(stmt.order_by(col(Notification.created_at).desc()).limit(limit))
    ).all()
    unread = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.owner_id) == owner_id, col(Notification.read_at).is_(None))
    )
    return NotificationsPublic(
        data=[_public(n, status) for n, status in rows], unread=int(unread or 0)
    )


async def mark_read(
    session: AsyncSession, owner_id: str, notification_id: str
) -> NotificationPublic:
    n = await session.get(Notification, notification_id)
    if n is None or n.owner_id != owner_id:
        raise NotFound("notification", notification_id)
    if n.read_at is None:
        n.read_at = utcnow()
        _refresh_other_tabs(session, owner_id, n.task_id)
        await session.commit()
    task_status = await session.scalar(select(col(Task.status)).where(col(Task.id) == n.task_id))
    return _public(n, task_status)


async def mark_all_read(session: AsyncSession, owner_id: str) -> int:
    result = await session.execute(
        update(Notification)
        .where(col(Notification.owner_id) == owner_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    marked = int(getattr(result, "rowcount", 0) or 0)
    if marked:
        _refresh_other_tabs(session, owner_id, None)
    await session.commit()
    return marked
