"""Server-Sent Events: one stream per browser tab, fed by `task-updates`.

A stream lasts no longer than the token that opened it: it ends (after an `expired`
event) when the token expires, at once when its user signs out, changes password or is
deleted on this replica, and within `TODO_LIVE_RECHECK_SECONDS` when that happens on
another (the stream re-reads its user's token version that often). The client then
refreshes its token and opens a new stream.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from fastapi import APIRouter
from sqlmodel import col, select
from sse_starlette.sse import EventSourceResponse

from todo.backend.api.deps import Caller, CallerDep, ReadSessionDep, RuntimeDep
from todo.backend.api.errors import ApiError, responses
from todo.backend.live import TooManyStreams
from todo.backend.models import User
from todo.backend.runtime import Runtime

router = APIRouter(tags=["live"])


@router.get(
    "/events/stream",
    response_class=EventSourceResponse,
    responses={
        200: {"content": {"text/event-stream": {}}, "description": "refresh events"},
        **responses(401, 429, 503),
    },
)
async def stream(
    caller: CallerDep, runtime: RuntimeDep, session: ReadSessionDep
) -> EventSourceResponse:
    """`refresh` events tell the client what to reload (`data` is a JSON RefreshData);
    `expired` says the token ended and the stream with it."""
    # The request's session would hold its pooled connection for as long as the stream
    # lasts: give it back now.
    await session.close()
    user_id = caller.user.id
    try:
        queue = runtime.live.open(user_id)
    except TooManyStreams as exc:
        if exc.scope == "this account":
            raise ApiError(
                429,
                f"{exc}: close one (another tab) first",
                "rate_limited",
                headers={"Retry-After": "30"},
            ) from None
        raise ApiError(
            503, f"{exc}: try again later", "service_unavailable", headers={"Retry-After": "30"}
        ) from None

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "ready", "data": "{}"}
            while True:
                now = datetime.now(UTC)
                if now >= caller.expires_at:
                    break
                wait = min(
                    (caller.expires_at - now).total_seconds(),
                    runtime.settings.live_recheck_seconds,
                )
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=wait)
                except TimeoutError:
                    if await _revoked(runtime, caller):
                        break
                    continue
                if event is None:
                    break
                yield {"event": "refresh", "id": event.id, "data": event.model_dump_json()}
            yield {"event": "expired", "data": "{}"}
        finally:
            runtime.live.close(user_id, queue)

    return EventSourceResponse(events(), ping=15)


async def _revoked(runtime: Runtime, caller: Caller) -> bool:
    if caller.token_version is None:
        return False
    async with runtime.reads() as session:
        version = await session.scalar(
            select(User.token_version).where(col(User.id) == caller.user.id)
        )
    return version != caller.token_version
