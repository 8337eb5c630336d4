"""The caller's notifications: list and mark read."""

from __future__ import annotations

from sqlalchemy import func, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from todo.backend.models import Notification, NotificationPublic, NotificationsPublic, utcnow


class NotificationNotFound(Exception):
    pass


def _public(n: Notification) -> NotificationPublic:
    return NotificationPublic.model_validate(n, from_attributes=True)


async def list_notifications(
    session: AsyncSession, owner_id: str, *, unread_only: bool, limit: int
) -> NotificationsPublic:
    stmt = select(Notification).where(col(Notification.owner_id) == owner_id)
    if unread_only:
        stmt = stmt.where(col(Notification.read_at).is_(None))
    rows = (
        await session.scalars(stmt.order_by(col(Notification.created_at).desc()).limit(limit))
    ).all()
    unread = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(col(Notification.owner_id) == owner_id, col(Notification.read_at).is_(None))
    )
    return NotificationsPublic(data=[_public(n) for n in rows], unread=int(unread or 0))


async def mark_read(
    session: AsyncSession, owner_id: str, notification_id: str
) -> NotificationPublic:
    n = await session.get(Notification, notification_id)
    if n is None or n.owner_id != owner_id:
        raise NotificationNotFound(notification_id)
    if n.read_at is None:
        n.read_at = utcnow()
        await session.commit()
    return _public(n)


async def mark_all_read(session: AsyncSession, owner_id: str) -> int:
    result = await session.execute(
        update(Notification)
        .where(col(Notification.owner_id) == owner_id, col(Notification.read_at).is_(None))
        .values(read_at=utcnow())
    )
    await session.commit()
    return int(getattr(result, "rowcount", 0) or 0)
