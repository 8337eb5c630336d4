"""`backend` entry point: serve the API and web UI with uvicorn."""

from __future__ import annotations

import uvicorn
from uvicorn.supervisors import Multiprocess

from todo.backend.app import create_app
from todo.backend.server import server_config
from todo.backend.settings import get_settings


def run() -> None:
    settings = get_settings()
    app = create_app(settings) if settings.workers == 1 else None
    database = "PostgreSQL" if settings.resolved_database_url().startswith("postgres") else "SQLite"
    if settings.embedded_worker:
        shape = f"embedded ({database}, in-process {settings.bus.value} bus and scheduler)"
    else:
        shape = f"backend service ({database}, {settings.bus.value} bus)"
    print(f"Todo Cloud {shape}: open http://{settings.host}:{settings.port}/", flush=True)
    if settings.workers == 1:
        uvicorn.Server(server_config(app, settings)).run()
        return
    # Several processes on one socket, to use every core: each builds its own app.
    config = server_config("todo.backend.app:create_app", settings)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


if __name__ == "__main__":
    run()
