"""`worker` entry point."""

from __future__ import annotations

import uvicorn

from todo.worker.app import create_app
from todo.worker.settings import get_settings


def run() -> None:
    settings = get_settings()
    print(f"Todo Cloud worker: listening on http://{settings.host}:{settings.port}/", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )


if __name__ == "__main__":
    run()
