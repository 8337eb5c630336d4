"""The app side of Dapr: subscription deliveries and job callbacks, as FastAPI routes."""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from todo.shared.dapr import DaprEventBus, job_payload
from todo.shared.metrics import JOBS_FIRED
from todo.shared.ports import JobHandler, PermanentEventError

log = logging.getLogger(__name__)


def dapr_subscription_router(bus: DaprEventBus) -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.post("/events/{topic}")
    async def deliver(topic: str, request: Request) -> JSONResponse:
        status = await bus.deliver(topic, await request.body())
        return JSONResponse({"status": status})

    return router


def dapr_job_router(handler: JobHandler) -> APIRouter:
    router = APIRouter(include_in_schema=False)

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
        return JSONResponse({"status": "ok"})

    return router
