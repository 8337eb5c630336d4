"""Serve an ASGI app on a free loopback port inside the running event loop (tests,
benchmarks): real HTTP, real streaming, no child process."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import uvicorn

from todo.devstack.ports import HOST, free_port


@asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Yields the app's base URL once it accepts connections; stops it afterwards."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host=HOST, port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()  # it failed to start: raise why
        await asyncio.sleep(0.05)
    try:
        yield f"http://{HOST}:{port}"
    finally:
        server.should_exit = True
        await serving
