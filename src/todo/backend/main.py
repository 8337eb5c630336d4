"""`backend` entry point: serve the API and web UI with uvicorn.

With ``TODO_INTERNAL_PORT`` and/or ``TODO_METRICS_PORT`` set (the Kubernetes shape), the one
app answers on separate listeners: the public one (``TODO_HOST:TODO_PORT``) no longer serves
the internal API, the Dapr deliveries or the metrics; the internal one listens on 127.0.0.1
only (the pod's own sidecar calls it: ``dapr.io/app-port``); the metrics one serves only
``/metrics`` (the scraper's). Without them one listener serves everything, as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import uvicorn
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.supervisors import Multiprocess

from todo.backend.app import create_app
from todo.backend.server import server_config
from todo.backend.settings import BackendSettings, get_settings

# What only the sidecar may call: the internal API, event deliveries, job callbacks.
SIDECAR_ONLY = ("/internal/", "/events/", "/job/", "/dapr/")
METRICS = "/metrics"


def only_paths(app: ASGIApp, allowed: Callable[[str], bool]) -> ASGIApp:
    """``app`` on one listener: requests for other paths get 404 as if no route matched."""

    async def filtered(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not allowed(scope["path"]):
            response = JSONResponse({"detail": "Not Found", "code": "not_found"}, status_code=404)
            await response(scope, receive, send)
            return
        await app(scope, receive, send)

    return filtered


def public_path(path: str) -> bool:
    return not (path.startswith(SIDECAR_ONLY) or path == METRICS)


def _server(
    app: ASGIApp, settings: BackendSettings, host: str, port: int, lifespan: str
) -> uvicorn.Server:
    return uvicorn.Server(server_config(app, settings, host=host, port=port, lifespan=lifespan))


async def serve_split(app: ASGIApp, settings: BackendSettings) -> None:
    """The public listener first (it runs the app's start-up and shut-down), then the
    others; a signal stops the others first (uvicorn passes it on), the public one last."""
    public = _server(only_paths(app, public_path), settings, settings.host, settings.port, "on")
    others: list[uvicorn.Server] = []
    if settings.internal_port is not None:
        others.append(_server(app, settings, "127.0.0.1", settings.internal_port, "off"))
    if settings.metrics_port is not None:
        metrics = only_paths(app, lambda path: path == METRICS)
        others.append(_server(metrics, settings, settings.host, settings.metrics_port, "off"))
    main = asyncio.create_task(public.serve())
    while not public.started and not main.done():
        await asyncio.sleep(0.05)
    tasks = [main, *(asyncio.create_task(server.serve()) for server in others)]
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for server in (*others, public):
        server.should_exit = True
    await asyncio.gather(*tasks)


def run() -> None:
    settings = get_settings()
    app = create_app(settings) if settings.workers == 1 else None
    database = "PostgreSQL" if settings.resolved_database_url().startswith("postgres") else "SQLite"
    if settings.embedded_worker:
        shape = f"embedded ({database}, in-process {settings.bus.value} bus and scheduler)"
    else:
        shape = f"backend service ({database}, {settings.bus.value} bus)"
    print(f"Todo Cloud {shape}: open http://{settings.host}:{settings.port}/", flush=True)
    if app is None:
        # Several processes on one socket, to use every core: each builds its own app.
        config = server_config("todo.backend.app:create_app", settings)
        Multiprocess(config, sockets=[config.bind_socket()]).run()
        return
    if settings.internal_port is None and settings.metrics_port is None:
        uvicorn.Server(server_config(app, settings)).run()
        return
    asyncio.run(serve_split(app, settings))


if __name__ == "__main__":
    run()
