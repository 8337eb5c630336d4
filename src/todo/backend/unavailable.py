"""A database outage answers 503 with `Retry-After` and a JSON reason, on every route.

Without this, an unreachable or restarting PostgreSQL surfaced as Starlette's plain-text
`500 Internal Server Error`: a client could not tell "try again shortly" from a bug.
"""

from __future__ import annotations

import logging

import asyncpg
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa

log = logging.getLogger(__name__)

# Raised by asyncpg while PostgreSQL starts, stops or drops connections.
_ASYNCPG_OUTAGES = (
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    asyncpg.CrashShutdownError,
    asyncpg.ConnectionDoesNotExistError,
    asyncpg.InterfaceError,
)


def database_outage(error: BaseException) -> str | None:
    """Why `error` means the database cannot be reached right now, or None if it does not
    (a constraint violation or a bad query stays the bug it is)."""
    if isinstance(error, sa.TimeoutError):
        return "no database connection free in time"
    if isinstance(error, sa.DBAPIError):
        if error.connection_invalidated or isinstance(
            error, sa.OperationalError | sa.InterfaceError
        ):
            return f"database connection failed ({type(error.orig).__name__})"
        orig = error.orig
        cause = getattr(orig, "__cause__", None)
        if isinstance(cause, _ASYNCPG_OUTAGES):
            return f"database unavailable ({type(cause).__name__})"
        return None
    if isinstance(error, _ASYNCPG_OUTAGES):
        return f"database unavailable ({type(error).__name__})"
    if isinstance(error, ConnectionError | TimeoutError):
        # Connecting: refused, reset or timed out before any query ran.
        return f"database unreachable ({type(error).__name__})"
    return None


def install_database_outage_handlers(app: FastAPI, retry_after_seconds: int) -> None:
    async def unavailable(request: Request, error: Exception) -> JSONResponse:
        reason = database_outage(error)
        if reason is None:
            raise error
        # The reason and the driver's first line in the message too: a plain-text log (a
        # test's, a terminal's) shows them, and an outage need not log a traceback a request.
        error_line = str(error).partition("\n")[0][:200]
        log.warning(
            "database unavailable (503 on %s): %s: %s",
            request.url.path,
            reason,
            error_line,
            extra={"path": request.url.path, "reason": reason},
        )
        return JSONResponse(
            {"detail": f"{reason}; try again shortly", "code": "service_unavailable"},
            status_code=503,
            headers={"Retry-After": str(retry_after_seconds)},
        )

    for kind in (sa.DBAPIError, sa.TimeoutError, *_ASYNCPG_OUTAGES, ConnectionError, TimeoutError):
        app.add_exception_handler(kind, unavailable)
