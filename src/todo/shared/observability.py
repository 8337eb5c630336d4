"""Logging, health and metrics endpoints shared by the backend and the worker."""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from todo.shared.readiness import Dependency, DependencyDown

ReadinessCheck = Callable[[], Awaitable[None]]

HTTP_LATENCY = Histogram(
    "todo_http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route", "status"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)

_STANDARD_LOG_KEYS = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line, with any `extra=` fields carried along."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD_LOG_KEYS and not key.startswith("_"):
                payload[key] = value
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", json_logs: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    if json_logs:
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    """`/healthz` answers while the process serves; `/readyz` only when every check passes,
    and otherwise names each failing dependency, since when it fails and why."""
    router = APIRouter(tags=["health"])
    dependencies = {name: Dependency(name) for name in checks}

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        failures: dict[str, dict[str, str]] = {}
        for name, check in checks.items():
            dependency = dependencies[name]
            try:
                await dependency.probe(check)
            except DependencyDown as exc:
                failures[name] = {"error": exc.error, "since": exc.since.isoformat()}
        if failures:
            return JSONResponse({"status": "unavailable", "failures": failures}, status_code=503)
        return JSONResponse({"status": "ready", "checks": sorted(checks)})

    @router.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    return router


MAX_ROUTE_TEMPLATES = 500
_SEEN_TEMPLATES: set[str] = set()


def route_template(scope: Scope) -> str:
    """The matched route's path template with the prefixes of the routers it was included
    through: "/api/v1/tasks/{task_id}", never the URL (whose ids would explode labels).

    The router stores the matched route in the scope, but a route included through
    `include_router(prefix=...)` knows only its own part of the path. Prefixes here have no
    parameters, so the leading segments of the real path that the route's template does
    not cover are that prefix."""
    route_path = getattr(scope.get("route"), "path", None)
    if not isinstance(route_path, str):
        return "unmatched"
    path = str(scope.get("path", ""))
    uncovered = path.count("/") - route_path.count("/")
    if uncovered <= 0 or ":path}" in route_path:
        return route_path
    template = "/".join(path.split("/")[: uncovered + 1]) + route_path
    # Should a prefix ever carry a parameter, its values would become labels: bound them.
    if template not in _SEEN_TEMPLATES:
        if len(_SEEN_TEMPLATES) >= MAX_ROUTE_TEMPLATES:
            return "other"
        _SEEN_TEMPLATES.add(template)
    return template


class RequestTimer:
    """Records each request's latency per route template (not per URL, which would explode
    the labels), until its response starts: a stream's lifetime is not its latency.

    A plain ASGI middleware: Starlette's `BaseHTTPMiddleware` runs every request in an extra
    task with memory streams, which cost more CPU than the endpoint itself on fast routes."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        observed = False

        def observe(status: int) -> None:
            nonlocal observed
            observed = True
            template = route_template(scope)
            HTTP_LATENCY.labels(scope["method"], template, str(status)).observe(
                time.perf_counter() - start
            )

        async def timed_send(message: Message) -> None:
            if message["type"] == "http.response.start" and not observed:
                observe(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, timed_send)
        finally:
            if not observed:
                observe(500)


def instrument(app: FastAPI) -> None:
    app.add_middleware(RequestTimer)
