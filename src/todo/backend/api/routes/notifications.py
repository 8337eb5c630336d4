from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from todo.backend import notifications
from todo.backend.api.deps import CurrentUser, ReadSessionDep, SessionDep
from todo.backend.models import NotificationPublic, NotificationsPublic
from todo.domain.bounds import SafeText

router = APIRouter(prefix="/notifications", tags=["notifications"])

NotificationId = Annotated[SafeText, Path(max_length=64)]


@router.get("")
async def list_notifications(
    user: CurrentUser,
    session: ReadSessionDep,
    unread: Annotated[bool, Query(description="only unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationsPublic:
    return await notifications.list_notifications(session, user.id, unread_only=unread, limit=limit)


@router.post("/{notification_id}/read", responses={404: {"description": "No such notification"}})
async def mark_read(
    notification_id: NotificationId, user: CurrentUser, session: SessionDep
) -> NotificationPublic:
    return await notifications.mark_read(session, user.id, notification_id)


@router.post("/read-all")
async def mark_all_read(user: CurrentUser, session: SessionDep) -> dict[str, int]:
    return {"marked": await notifications.mark_all_read(session, user.id)}
