"""Every error answer of the API, in one place and one shape.

The body is always JSON `{"detail": ..., "code": ...}`: `detail` is a sentence for
people (or, for 422, FastAPI's list of `{loc, msg, type}`), `code` a stable machine code
clients map to their own words. Domain errors (`todo.domain.errors`) are mapped here, so
use cases raise and routes stay one call.

A 422 never echoes a secret and never more than a short excerpt of any input: the
answer to an 8 MB field is not 8 MB, and a password is never sent back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from todo.domain.errors import (
    AlreadyExists,
    DomainError,
    InvalidChange,
    NotFound,
    Uncomputable,
    VersionConflict,
)

log = logging.getLogger(__name__)

# The codes of plain HTTP errors (raised by FastAPI, Starlette or a route).
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    412: "version_conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    503: "service_unavailable",
}
_SECRET_FIELDS = frozenset({"password", "new_password", "current_password", "token", "secret"})
_EXCERPT = 64


class ApiError(StarletteHTTPException):
    """An HTTP error with its machine code (`detail` for people, `code` for clients)."""

    def __init__(
        self,
        status_code: int,
        detail: Any,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail, dict(headers) if headers else None)
        self.code = code or _STATUS_CODES.get(status_code, "error")


def error_body(detail: Any, code: str) -> dict[str, Any]:
    return {"detail": detail, "code": code}


def error_response(
    status_code: int, code: str, detail: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    """An error answer from where no exception handler runs (ASGI middleware)."""
    return JSONResponse(error_body(detail, code), status_code=status_code, headers=headers)


class ErrorBody(BaseModel):
    """Every error answer except 422 (whose `detail` is a list of field errors)."""

    detail: str
    code: str


_DESCRIPTIONS = {
    400: "Malformed request (`bad_request`)",
    401: "Missing, invalid, expired or revoked credentials (`unauthorized`)",
    403: "Not allowed (e.g. `wrong_password`)",
    404: "No such resource for this user (`not_found`)",
    409: "Conflicts with what is stored (e.g. `email_taken`)",
    412: "If-Match does not match (`version_conflict`)",
    413: "The body is larger than the server accepts (`payload_too_large`)",
    429: "Too many attempts: wait `Retry-After` seconds (`rate_limited`)",
    503: "A dependency or capacity is unavailable (`service_unavailable`)",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for error answers in the `ErrorBody` shape."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def field_error(loc: Sequence[str | int], msg: str, kind: str = "value_error") -> ApiError:
    """A 422 of the same shape as FastAPI's own, for a rule checked in code."""
    return ApiError(422, [{"loc": list(loc), "msg": msg, "type": kind}], "validation_error")


def _excerpt(value: Any) -> Any:
    if isinstance(value, str):
        text = value if len(value) <= _EXCERPT else value[:_EXCERPT] + "…"
        # A lone surrogate cannot be sent as UTF-8: show it escaped instead.
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, int | float | bool) or value is None:
        return value
    return f"<{type(value).__name__}>"


def _safe_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    safe = []
    for error in errors:
        loc = [str(part) if isinstance(part, str) else part for part in error.get("loc", ())]
        item: dict[str, Any] = {
            "loc": [_excerpt(part) for part in loc],
            "msg": _excerpt_message(str(error.get("msg", ""))),
            "type": error.get("type", "value_error"),
        }
        if "input" in error and not _SECRET_FIELDS.intersection(map(str, loc)):
            item["input"] = _excerpt(error["input"])
        safe.append(item)
    return safe


def _excerpt_message(message: str) -> str:
    # Messages of custom validators may quote the value: keep them short too.
    return message if len(message) <= 300 else message[:300] + "…"


def _domain_answer(exc: DomainError) -> tuple[int, Any, dict[str, str]]:
    if isinstance(exc, NotFound):
        return 404, f"there is no {exc.kind} with this id", {}
    if isinstance(exc, VersionConflict):
        status = 412 if exc.via == "if-match" else 409
        detail = (
            f"the task changed since you read it (it is at version {exc.current}, "
            f"not {exc.expected}): reload it and apply your change again"
        )
        return status, detail, {"ETag": f'"{exc.current}"'}
    if isinstance(exc, InvalidChange | Uncomputable):
        where = "body" if isinstance(exc, InvalidChange) else "state"
        return 422, [{"loc": [where, exc.field], "msg": exc.reason, "type": "value_error"}], {}
    if isinstance(exc, AlreadyExists):
        return 409, str(exc), {}
    return 400, str(exc), {}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def domain_error(request: Request, exc: DomainError) -> JSONResponse:
        status, detail, headers = _domain_answer(exc)
        return JSONResponse(error_body(detail, exc.code), status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(error_body(_safe_errors(exc.errors()), "validation_error"), 422)

    @app.exception_handler(Exception)
    async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
        # Starlette logs the traceback; the client gets the shape, never the internals.
        return JSONResponse(error_body("internal error", "internal_error"), 500)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _STATUS_CODES.get(exc.status_code, "error")
        detail = exc.detail
        if isinstance(detail, list):
            detail = _safe_errors(detail)
        return JSONResponse(
            error_body(detail, code), exc.status_code, headers=dict(exc.headers or {})
        )
