"""Error answers of the API: JSON `{"detail", "code"}`, with a machine code per kind.

`ApiError` is what routes and dependencies raise for their own refusals; ASGI middleware
that answers before any route runs (body limit, read deadline) uses `error_response`.
Validation errors (422) keep FastAPI's list of `{loc, msg, type}` but never echo a secret
and never more than a short excerpt of what was sent: an 8 MB field is not sent back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

# Field names whose values are never echoed, wherever they appear in a body.
SECRET_FIELDS = frozenset(
    {"password", "current_password", "new_password", "refresh_token", "access_token", "token"}
)
EXCERPT_CHARS = 64
EXCERPT_ITEMS = 8
_EXCERPT_DEPTH = 3
REDACTED = "[redacted]"


class ErrorBody(BaseModel):
    """Every error answer except 422 (whose `detail` is a list of field errors)."""

    detail: str
    code: str


class ApiError(HTTPException):
    """An HTTP error with a machine code, answered as `{"detail", "code"}`."""

    def __init__(
        self,
        status_code: int,
        code: str,
        detail: str,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail, dict(headers) if headers else None)
        self.code = code


def error_response(
    status_code: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse({"detail": detail, "code": code}, status_code=status_code, headers=headers)


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for error answers in the `ErrorBody` shape."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


_DESCRIPTIONS = {
    400: "Malformed request",
    401: "Missing, invalid, expired or revoked credentials (`unauthorized`)",
    403: "Not allowed",
    404: "No such resource for this user (`not_found`)",
    408: "The request was not read in time (`request_timeout`)",
    409: "Conflicts with what is stored (e.g. `email_taken`)",
    412: "If-Match does not match (`version_conflict`)",
    413: "The body is larger than the server accepts (`payload_too_large`)",
    429: "Too many attempts: wait `Retry-After` seconds (`rate_limited`)",
    503: "A dependency is unavailable (`service_unavailable`)",
}


def excerpt(value: Any, depth: int = 0) -> Any:
    """A short, secret-free copy of a value sent by a client, for an error answer."""
    if isinstance(value, str):
        return value if len(value) <= EXCERPT_CHARS else value[:EXCERPT_CHARS] + "…"
    if isinstance(value, bytes):
        return excerpt(value.decode("utf-8", "replace"), depth)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if value.bit_length() <= 64 else excerpt(f"{value:.3e}", depth)
    if depth >= _EXCERPT_DEPTH:
        return "…"
    if isinstance(value, Mapping):
        items = list(value.items())
        kept = {
            str(key): REDACTED if str(key) in SECRET_FIELDS else excerpt(item, depth + 1)
            for key, item in items[:EXCERPT_ITEMS]
        }
        if len(items) > EXCERPT_ITEMS:
            kept["…"] = f"{len(items) - EXCERPT_ITEMS} more"
        return kept
    if isinstance(value, list | tuple):
        kept_items = [excerpt(item, depth + 1) for item in value[:EXCERPT_ITEMS]]
        if len(value) > EXCERPT_ITEMS:
            kept_items.append(f"… {len(value) - EXCERPT_ITEMS} more")
        return kept_items
    return excerpt(repr(value), depth)


def trimmed(error: Mapping[str, Any]) -> dict[str, Any]:
    """One validation error without its secret, and with at most an excerpt of its input."""
    kept: dict[str, Any] = {key: error[key] for key in ("loc", "msg", "type") if key in error}
    if "ctx" in error:
        kept["ctx"] = {
            str(key): excerpt(value if isinstance(value, str | int | float) else str(value))
            for key, value in dict(error["ctx"]).items()
        }
    if "input" in error:
        loc = [str(part) for part in error.get("loc", ())]
        kept["input"] = REDACTED if SECRET_FIELDS.intersection(loc) else excerpt(error["input"])
    return kept


async def _api_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status_code, exc.code, str(exc.detail), exc.headers)


# Codes of the HTTP errors that FastAPI and Starlette raise themselves (a body that is
# not JSON, an unknown path, a method the path does not have).
_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "version_conflict",
    412: "version_conflict",
    422: "invalid_change",
    503: "service_unavailable",
}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, f"http_{exc.status_code}")
    # `detail` stays as raised: a text, or (422) a list of field errors.
    return JSONResponse(
        {"detail": exc.detail, "code": code}, status_code=exc.status_code, headers=exc.headers
    )


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    return JSONResponse(
        {"detail": [trimmed(error) for error in exc.errors()], "code": "validation_error"},
        status_code=422,
    )


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
