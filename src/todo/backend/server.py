"""The HTTP server of the backend: uvicorn, with deadlines for slow and idle clients.

uvicorn closes a keep-alive connection that stays idle after a response
(`timeout_keep_alive`), but sets no deadline for reading a request: a client that opens
a connection and sends nothing, or trickles its headers or body a byte at a time
(slowloris), holds the connection and its memory for as long as it likes. The protocol
here gives every request a read deadline, armed when the connection opens and again when
a response completes, and disarmed once the whole request (headers and body) is in;
when it passes, the server answers 408 if it has not begun a response, and closes the
connection.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from todo.backend.settings import BackendSettings

log = logging.getLogger(__name__)

_TIMEOUT_BODY = b'{"detail": "the request was not read in time", "code": "request_timeout"}'
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\n"
    b"content-type: application/json\r\n"
    b"connection: close\r\n"
    b"content-length: " + str(len(_TIMEOUT_BODY)).encode() + b"\r\n\r\n" + _TIMEOUT_BODY
)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with a read deadline per request."""

    # Set on a subclass for one server (tests); else read from this process's settings
    # (each worker process of a multi-process server reads its own).
    read_timeout: float | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_deadline: asyncio.TimerHandle | None = None
        if self.read_timeout is None:
            from todo.backend.settings import get_settings

            self.read_timeout = get_settings().request_read_timeout_seconds

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()

    def _arm(self) -> None:
        self._disarm()
        assert self.read_timeout is not None
        self._read_deadline = self.loop.call_later(self.read_timeout, self._deadline_passed)

    def _disarm(self) -> None:
        if self._read_deadline is not None:
            self._read_deadline.cancel()
            self._read_deadline = None

    def _deadline_passed(self) -> None:
        self._read_deadline = None
        if self.transport.is_closing():
            return
        responding = self.cycle is not None and not self.cycle.response_complete
        if not responding:
            self.transport.write(_TIMEOUT_RESPONSE)
        log.info("closed a connection whose request was not read in %.0f s", self.read_timeout)
        self.transport.close()


def server_config(app: Any, settings: BackendSettings, **overrides: Any) -> uvicorn.Config:
    """The server of `app` as the backend runs it (also used by tests of real serving).
    With `settings.workers` > 1, `app` is the import string of an app factory: each worker
    process builds its own app and reads the same settings from the environment."""
    protocol: type[DeadlineProtocol] = DeadlineProtocol
    if settings.workers == 1:
        protocol = type(
            "BackendProtocol",
            (DeadlineProtocol,),
            {"read_timeout": settings.request_read_timeout_seconds},
        )
    options: dict[str, Any] = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level.lower(),
        "proxy_headers": True,
        "access_log": False,
        "http": protocol,
        "timeout_keep_alive": settings.keep_alive_seconds,
        "workers": settings.workers,
        "factory": isinstance(app, str),
        **overrides,
    }
    return uvicorn.Config(app, **options)
