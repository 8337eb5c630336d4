from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, status

from todo.backend import notifications_service as svc
from todo.backend.api.deps import CurrentUser, RuntimeDep, SessionDep
from todo.backend.models import NotificationPublic, NotificationsPublic

router = APIRouter(prefix="/notifications", tags=["notifications"])


@router.get("")
async def list_notifications(
    user: CurrentUser,
    session: SessionDep,
    unread: Annotated[bool, Query(description="only unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> NotificationsPublic:
    return await svc.list_notifications(session, user.id, unread_only=unread, limit=limit)


@router.post("/{notification_id}/read", responses={404: {"description": "No such notification"}})
async def mark_read(
    notification_id: str, user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> NotificationPublic:
    try:
        read = await svc.mark_read(session, user.id, notification_id)
    except svc.NotificationNotFound:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "notification not found") from None
    runtime.relay.poke()
    return read


@router.post("/read-all")
async def mark_all_read(
    user: CurrentUser, session: SessionDep, runtime: RuntimeDep
) -> dict[str, int]:
    marked = await svc.mark_all_read(session, user.id)
    runtime.relay.poke()
    return {"marked": marked}
