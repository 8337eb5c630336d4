"""A TCP proxy on 127.0.0.1 in front of one server, for fault tests: it can delay every
chunk it forwards (a slow network or database) and cut every connection (an outage or a
partition) until restored.

It listens only once the server it fronts accepts connections, and not while cut: a
client that waits for a port to open (daprd waits for its app's) sees what it would see
without the proxy, not a port that accepts and hangs up.

It runs on an event loop of its own in a daemon thread, so that it outlives the event
loops of the tests that steer it (`with TcpProxy(port) as proxy: proxy.delay(0.2)`).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

from todo.devstack.ports import free_port

HOST = "127.0.0.1"
CHUNK = 64 * 1024


@dataclass
class TcpProxy:
    target_port: int
    target_host: str = HOST
    port: int = field(default_factory=free_port)
    _delay_seconds: float = field(default=0.0, init=False)
    _cut: bool = field(default=False, init=False)
    _writers: set[asyncio.StreamWriter] = field(default_factory=set, init=False)
    _loop: asyncio.AbstractEventLoop | None = field(default=None, init=False)
    _thread: threading.Thread | None = field(default=None, init=False)
    _server: asyncio.Server | None = field(default=None, init=False)
    _listener: asyncio.Task[None] = field(init=False)
    connections: int = field(default=0, init=False)

    def start(self) -> None:
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._listener = loop.create_task(self._listen_when_upstream_accepts())
            started.set()
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, name=f"tcp-proxy:{self.port}", daemon=True)
        self._thread.start()
        started.wait(10)

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return

        async def shutdown() -> None:
            self._listener.cancel()
            self._close_server()
            self._abort_all()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def delay(self, seconds: float) -> None:
        """Hold every forwarded chunk this long, in both directions (0: none)."""
        self._delay_seconds = seconds

    def cut(self) -> None:
        """Drop every connection and refuse new ones until `restore()`."""
        self._cut = True
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._close_server)
            self._loop.call_soon_threadsafe(self._abort_all)

    def restore(self, wait_seconds: float = 10.0) -> None:
        """Accept connections again (once the server it fronts does: up to `wait_seconds`
        are waited for that here, the rest in the background)."""
        self._cut = False
        if self._loop is None:
            return

        async def listen() -> None:
            self._listener = asyncio.ensure_future(self._listen_when_upstream_accepts())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._listener), wait_seconds)

        asyncio.run_coroutine_threadsafe(listen(), self._loop).result(wait_seconds + 5)

    async def _listen_when_upstream_accepts(self) -> None:
        while True:
            try:
                _, writer = await asyncio.open_connection(self.target_host, self.target_port)
            except OSError:
                await asyncio.sleep(0.1)
                continue
            writer.transport.abort()
            break
        if not self._cut and self._server is None:
            self._server = await asyncio.start_server(
                self._accept, HOST, self.port, reuse_address=True
            )

    def _close_server(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def _abort_all(self) -> None:
        for writer in list(self._writers):
            writer.transport.abort()
        self._writers.clear()

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        if self._cut:
            client_w.transport.abort()
            return
        try:
            server_r, server_w = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            client_w.transport.abort()
            return
        self.connections += 1
        self._writers.update((client_w, server_w))
        pipes = [
            asyncio.ensure_future(self._pipe(client_r, server_w)),
            asyncio.ensure_future(self._pipe(server_r, client_w)),
        ]
        try:
            # One side gone (closed or reset) ends the connection for the other side too:
            # a client waiting for an answer must not wait forever.
            await asyncio.wait(pipes, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pipe in pipes:
                pipe.cancel()
            for writer in (client_w, server_w):
                self._writers.discard(writer)
                writer.transport.abort()

    async def _pipe(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(CHUNK):
                if self._delay_seconds:
                    await asyncio.sleep(self._delay_seconds)
                if self._cut:
                    return
                sink.write(data)
                await sink.drain()
            sink.close()
