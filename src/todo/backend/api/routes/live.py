"""Server-Sent Events: one stream per browser tab, fed by `task-updates`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter
from sse_starlette.sse import EventSourceResponse

from todo.backend.api.deps import CurrentUser, RuntimeDep

router = APIRouter(tags=["live"])


@router.get(
    "/events/stream",
    response_class=EventSourceResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "refresh events"}},
)
async def stream(user: CurrentUser, runtime: RuntimeDep) -> EventSourceResponse:
    """`refresh` events tell the client what to reload (`data` is a JSON RefreshData)."""
    queue = runtime.live.open(user.id)

    async def events() -> AsyncIterator[dict[str, str]]:
        try:
            yield {"event": "ready", "data": "{}"}
            while True:
                event = await queue.get()
                yield {"event": "refresh", "id": event.id, "data": event.model_dump_json()}
        except asyncio.CancelledError:
            raise
        finally:
            runtime.live.close(user.id, queue)

    return EventSourceResponse(events(), ping=15)
