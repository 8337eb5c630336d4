"""The browser UI: static files shipped inside the package (no build step)."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

from fastapi import APIRouter, HTTPException
from fastapi.responses import Response

web_router = APIRouter(include_in_schema=False)

_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
_ASSETS = frozenset(
    {
        "app.js",
        "app.css",
        "favicon.svg",
        # ES modules that app.js imports
        "api.js",
        "auth.js",
        "dom.js",
        "format.js",
        "live.js",
        "notifications.js",
        "recurrence.js",
        "reminders.js",
        "task-form.js",
        "task-row.js",
        "tasks.js",
        "toast.js",
    }
)


@cache
def _read(name: str) -> bytes:
    return (files(__package__) / name).read_bytes()


def _serve(name: str) -> Response:
    suffix = name[name.rfind(".") :]
    return Response(
        _read(name),
        media_type=_TYPES[suffix],
        headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
    )


@web_router.get("/")
async def index() -> Response:
    return _serve("index.html")


@web_router.get("/static/{name}")
async def asset(name: str) -> Response:
    if name not in _ASSETS:
        raise HTTPException(404, "no such asset")
    return _serve(name)
