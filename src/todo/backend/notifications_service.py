"""The caller's notifications: list and mark read. Marking read tells the user's other
browser tabs to reload (a refresh event through the outbox), so counts agree everywhere."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from todo.backend.models import (
    Notification,
    NotificationPublic,
    NotificationsPublic,
    Task,
    TaskStatus,
    utcnow,
)
from todo.backend.outbox import add_event
from todo.domain.events import RefreshData, refresh_event


class NotificationNotFound(Exception):
    pass


def _public(n: Notification, task_status: str | None) -> NotificationPublic:
    return NotificationPublic(
        id=n.id,
        task_id=n.task_id,
        kind=n.kind,
        title=n.title,
        fire_at=n.fire_at,
        created_at=n.created_at,
        read_at=n.read_at,
        task_status=TaskStatus(task_status) if task_status is not None else None,
    )


def _refresh_others(session: AsyncSession, owner_id: str, task_id: str | None) -> None:
    add_event(
        session,
        refresh_event(
            RefreshData(owner_id=owner_id, kind="notification", task_id=task_id, reason="read")
        ),
    )


async def list_notifications(
    session: AsyncSession, owner_id: str, *, unread_only: bool, limit: int
) -> NotificationsPublic:
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
        data=[_public(n, task_status) for n, task_status in rows], unread=int(unread or 0)
    )


async def mark_read(
    session: AsyncSession, owner_id: str, notification_id: str
) -> NotificationPublic:
    n = await session.get(Notification, notification_id)
    if n is None or n.owner_id != owner_id:
        raise NotificationNotFound(notification_id)
    if n.read_at is None:
        n.read_at = utcnow()
        _refresh_others(session, owner_id, n.task_id)
        await session.commit()
    task_status = await session.scalar(select(Task.status).where(col(Task.id) == n.task_id))
    return _public(n, task_status)


async def mark_all_read(session: AsyncSession, owner_id: str) -> int:
    result = await session.execute(
        update(Notification)
        .where(col(Notification.owner_id) == owner_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    marked = int(getattr(result, "rowcount", 0) or 0)
    if marked:
        _refresh_others(session, owner_id, None)
    await session.commit()
    return marked
