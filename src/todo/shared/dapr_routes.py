"""The app side of Dapr: subscription deliveries and job callbacks, as FastAPI routes."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException, Request
from fastapi.responses import JSONResponse

from todo.domain.metrics import JOBS_FIRED
from todo.domain.ports import JobHandler, PermanentEventError
from todo.shared.dapr import DaprEventBus, job_payload

log = logging.getLogger(__name__)

APP_TOKEN_HEADER = "dapr-api-token"  # noqa: S105 (a header name)


def require_app_token(expected: str) -> Callable[..., Awaitable[None]]:
    """A dependency that lets in only calls carrying the app API token, which daprd sends
    on every call to its app (`APP_API_TOKEN`); without a configured token it refuses all."""

    async def check(
        token: Annotated[str | None, Header(alias=APP_TOKEN_HEADER)] = None,
    ) -> None:
        if not expected:
            raise HTTPException(
                403,
                "disabled: set the app API token (TODO_APP_API_TOKEN, TODO_WORKER_APP_API_TOKEN)",
            )
        if token is None or not secrets.compare_digest(token, expected):
            raise HTTPException(401, f"missing or wrong {APP_TOKEN_HEADER}")

    return check


def dapr_subscription_router(bus: DaprEventBus, app_api_token: str) -> APIRouter:
    router = APIRouter(
        include_in_schema=False, dependencies=[Depends(require_app_token(app_api_token))]
    )

    @router.post("/events/{topic}")
    async def deliver(topic: str, request: Request) -> JSONResponse:
        status = await bus.deliver(topic, await request.body())
        return JSONResponse({"status": status})

    return router


def dapr_job_router(handler: JobHandler, app_api_token: str) -> APIRouter:
    router = APIRouter(
        include_in_schema=False, dependencies=[Depends(require_app_token(app_api_token))]
    )

    @router.post("/job/{name}")
    async def job(name: str, request: Request) -> JSONResponse:
        try:
            payload = job_payload(await request.body())
            await handler(name, payload)
        except (PermanentEventError, ValueError) as exc:
            # Retrying cannot help: answer 200 so the scheduler forgets the job.
            log.error("job dropped", extra={"job": name, "error": str(exc)})
            JOBS_FIRED.labels(outcome="dropped").inc()
            return JSONResponse({"status": "dropped", "reason": str(exc)})
        except Exception as exc:
            # The backend or the sidecar is unavailable: the job's failure policy retries.
            log.warning("job failed; the scheduler retries", extra={"job": name, "error": str(exc)})
            JOBS_FIRED.labels(outcome="retry").inc()
            return JSONResponse(
                {"status": "retry", "reason": f"{type(exc).__name__}: {exc}"}, status_code=503
            )
        return JSONResponse({"status": "ok"})

    return router
