"""A background loop of one process: a step run again and again until stopped.

The outbox relay and the database scheduler are such loops. The step says how long to
wait before it runs again; `wake()` cuts the wait short (new work arrived); a step that
raises is logged and run again after a capped exponential backoff, so a broken
dependency never ends the loop nor spins it.

`linger_seconds` gathers work under a stream of wakes: a wake that comes sooner than that
after the last step began waits for the rest of it, so steps run at most that often and
each takes what gathered meanwhile (a producer's linger). A wake after a quiet spell runs
the step at once; a step that says "again at once" (0) is never held.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[float]]


class Background(Protocol):
    """Something that runs in the background between start and stop (a loop, a bus)."""

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


class StepFailed(Exception):
    """Raised by a step that has already logged or recorded why it failed: the loop backs
    off without logging a traceback again."""


def raise_if_cancelled() -> None:
    """End the current task if it was asked to: a library that caught and dropped its
    CancelledError (a database driver cleaning up a connection, say) must not keep a
    stopped loop running, and its stop() waiting, forever."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


class BackgroundLoop:
    def __init__(
        self,
        name: str,
        step: Step,
        *,
        first_backoff_seconds: float = 0.1,
        max_backoff_seconds: float = 5.0,
        linger_seconds: float = 0.0,
    ) -> None:
        self.name = name
        self._step = step
        self._linger = linger_seconds
        self._first_backoff = first_backoff_seconds
        self._max_backoff = max_backoff_seconds
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """Run the step now rather than after its wait (safe from any code on the loop)."""
        self._wake.set()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        backoff = 0.0
        clock = asyncio.get_running_loop()
        while True:
            self._wake.clear()
            started = clock.time()
            try:
                delay = await self._step()
                raise_if_cancelled()
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                raise_if_cancelled()
                backoff = min(self._max_backoff, max(self._first_backoff, backoff * 2))
                if not isinstance(exc, StepFailed):
                    log.exception("background step failed", extra={"loop": self.name})
                # A failing dependency is retried on the backoff, not on every wake.
                await asyncio.sleep(backoff)
                continue
            if delay > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), timeout=delay)
                if (rest := started + self._linger - clock.time()) > 0:
                    await asyncio.sleep(rest)
