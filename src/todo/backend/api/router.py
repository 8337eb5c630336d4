from fastapi import APIRouter, Request

from todo.backend.api.errors import responses
from todo.backend.api.routes import auth, internal, live, notifications, tasks

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
# Every route of these needs a valid token; those with a body may be malformed or too large.
api_router.include_router(tasks.router, responses=responses(400, 401, 413))
api_router.include_router(notifications.router, responses=responses(401))
api_router.include_router(live.router)


@api_router.get("/version", tags=["meta"])
async def version(request: Request) -> dict[str, str]:
    """The build this backend runs (TODO_VERSION: the images carry their commit SHA)."""
    return {"version": request.app.version}


internal_router = internal.router
