"""Counting what a client sends PostgreSQL, on the wire: a TCP proxy that reads the
frontend messages between the client and the server and counts them by type.

A round trip ends with the message that makes the server answer: `Sync` (S) after an
extended-protocol exchange (Parse/Bind/Execute, what asyncpg sends for a statement with
parameters) or a simple `Query` (Q, what BEGIN and COMMIT are). Other tests import
`wire_counter` to count the round trips of an operation on the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import asyncpg
import pytest
from sqlalchemy.engine import make_url


@dataclass
class WireCounter:
    """Frontend messages seen so far, by their type byte (decoded as a letter)."""

    messages: Counter[str] = field(default_factory=Counter)

    @property
    def round_trips(self) -> int:
        return self.messages["S"] + self.messages["Q"]

    def snapshot(self) -> Counter[str]:
        return Counter(self.messages)


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
    finally:
        writer.close()


async def _frontend(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: WireCounter
) -> None:
    """Forward the client's bytes, message by message, counting each typed one."""
    try:
        with contextlib.suppress(ConnectionError, asyncio.IncompleteReadError):
            # The startup message has no type byte: a length, then the rest.
            (length,) = struct.unpack("!I", await reader.readexactly(4))
            writer.write(struct.pack("!I", length) + await reader.readexactly(length - 4))
            while True:
                header = await reader.readexactly(5)
                kind, length = header[:1].decode(), struct.unpack("!I", header[1:])[0]
                body = await reader.readexactly(length - 4)
                counter.messages[kind] += 1
                writer.write(header + body)
                await writer.drain()
    finally:
        writer.close()


@contextlib.asynccontextmanager
async def wire_counter(url: str) -> AsyncIterator[tuple[str, WireCounter]]:
    """A URL of the same database through a counting proxy (TLS off, so the proxy can read
    the messages), and its counter."""
    target = make_url(url)
    counter = WireCounter()
    tasks: set[asyncio.Task[None]] = set()

    async def serve(client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        server_r, server_w = await asyncio.open_connection(target.host, target.port or 5432)
        for coro in (_frontend(client_r, server_w, counter), _pump(server_r, client_w)):
            task = asyncio.create_task(coro)
            tasks.add(task)
            task.add_done_callback(tasks.discard)

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    proxied = (
        target.set(host="127.0.0.1", port=port)
        .difference_update_query(["ssl", "sslmode"])
        .update_query_dict({"sslmode": "disable"})
    )
    try:
        yield proxied.render_as_string(hide_password=False), counter
    finally:
        server.close()
        for task in list(tasks):
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()


@pytest.mark.postgres()
async def test_the_counter_sees_each_round_trip(postgres_url: str) -> None:
    async with wire_counter(postgres_url) as (url, counter):
        dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        connection = await asyncpg.connect(dsn)
        try:
            before = counter.round_trips
            await connection.execute("SELECT 1")  # simple protocol: one Query
            await connection.fetchval("SELECT $1::int", 5)  # extended: prepare, then bind
            after_first = counter.round_trips
            await connection.fetchval("SELECT $1::int", 6)  # prepared already: one trip
            assert counter.round_trips - after_first == 1
            async with connection.transaction():  # BEGIN and COMMIT
                await connection.fetchval("SELECT $1::int", 7)
            assert counter.round_trips - after_first == 4
            assert after_first - before >= 2
        finally:
            await connection.close()
