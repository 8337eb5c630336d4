"""Slow and idle clients against a real server built like the backend's (server_config):
a silent connection, a slowloris trickle of headers, a trickled body."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import uvicorn

from todo.backend.app import create_app
from todo.backend.conftest import make_settings
from todo.backend.server import server_config
from todo.devstack.ports import HOST, free_port

READ_TIMEOUT = 1.0


@pytest.fixture
async def address(tmp_path: Path) -> AsyncIterator[tuple[str, int]]:
    settings = make_settings(f"sqlite+aiosqlite:///{tmp_path / 's.db'}", tmp_path)
    settings = settings.model_copy(
        update={
            "host": HOST,
            "port": free_port(),
            "request_read_timeout_seconds": READ_TIMEOUT,
            "keep_alive_seconds": 0.5,
            "log_level": "WARNING",
        }
    )
    server = uvicorn.Server(server_config(create_app(settings), settings))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        if serving.done():
            serving.result()
        await asyncio.sleep(0.05)
    try:
        yield settings.host, settings.port
    finally:
        server.should_exit = True
        await serving


async def read_all(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sends until it closes; fails if it keeps the connection.
    A server that closes while the client is still sending resets the connection (its
    408 may be lost then): that is closed too."""
    try:
        return await asyncio.wait_for(reader.read(), within)
    except ConnectionResetError:
        return b"(reset)"


async def test_a_silent_connection_is_closed(address: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*address)
    answer = await read_all(reader, READ_TIMEOUT * 4)
    assert answer.startswith(b"HTTP/1.1 408 ")
    assert b'"code": "request_timeout"' in answer
    writer.close()


async def test_headers_trickled_byte_by_byte_are_cut_off(address: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*address)
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Padding: " + b"a" * 200
    sent = 0
    closed = asyncio.create_task(read_all(reader, READ_TIMEOUT * 4))
    for byte in request:
        if closed.done():
            break
        writer.write(bytes([byte]))
        sent += 1
        await asyncio.sleep(0.02)
    answer = await closed
    assert answer.startswith(b"HTTP/1.1 408 ") or answer == b"(reset)", answer
    assert sent < len(request)  # closed while the trickle went on
    writer.close()


async def test_a_trickled_body_is_cut_off(address: tuple[str, int]) -> None:
    reader, writer = await asyncio.open_connection(*address)
    writer.write(
        b"POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
    )
    closed = asyncio.create_task(read_all(reader, READ_TIMEOUT * 4))
    sent = 0
    while not closed.done() and sent < 1000:
        writer.write(b" ")
        sent += 1
        await asyncio.sleep(0.02)
    await closed
    assert sent < 1000
    writer.close()


async def test_prompt_clients_are_served_and_kept_alive_briefly(
    address: tuple[str, int],
) -> None:
    host, port = address
    async with httpx.AsyncClient(base_url=f"http://{host}:{port}") as client:
        for _ in range(3):
            assert (await client.get("/healthz")).status_code == 200
            # Within the read deadline of the connection: the same connection serves.
            await asyncio.sleep(READ_TIMEOUT / 4)
