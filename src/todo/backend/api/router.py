from fastapi import APIRouter

from todo.backend.api.routes import auth, internal, live, notifications, tasks

api_router = APIRouter(prefix="/api/v1")
api_router.include_router(auth.router)
api_router.include_router(tasks.router)
api_router.include_router(notifications.router)
api_router.include_router(live.router)

internal_router = internal.router
