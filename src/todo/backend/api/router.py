from fastapi import APIRouter, Request

from todo.backend.api.routes import auth, internal, live, notifications, tasks

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(tasks.router)
api_router.include_router(notifications.router)
api_router.include_router(live.router)


@api_router.get("/version", tags=["meta"])
async def version(request: Request) -> dict[str, str]:
    """The build this backend runs (TODO_VERSION: the images carry their commit SHA)."""
    return {"version": request.app.version}


internal_router = internal.router
