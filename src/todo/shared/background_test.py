"""The background loop: woken early, backs off on failure, and stops even when its step
swallows the cancellation (as a database driver cleaning up a connection may)."""

from __future__ import annotations

import asyncio
import contextlib

from todo.shared.background import BackgroundLoop, StepFailed


async def test_wake_runs_the_step_before_its_wait_is_over() -> None:
    runs: list[float] = []

    async def step() -> float:
        runs.append(asyncio.get_running_loop().time())
        return 60.0

    loop = BackgroundLoop("test", step)
    await loop.start()
    await asyncio.sleep(0.05)
    loop.wake()
    await asyncio.sleep(0.05)
    await loop.stop()
    assert len(runs) == 2


async def test_a_failing_step_backs_off_and_recovers() -> None:
    outcomes = iter([StepFailed(), RuntimeError("boom"), None, None])
    calls = 0

    async def step() -> float:
        nonlocal calls
        calls += 1
        outcome = next(outcomes, None)
        if outcome is not None:
            raise outcome
        return 60.0

    loop = BackgroundLoop("test", step, first_backoff_seconds=0.01)
    await loop.start()
    await asyncio.sleep(0.3)
    assert loop.running
    await loop.stop()
    assert calls == 3


async def test_stop_ends_a_step_that_swallows_its_cancellation() -> None:
    entered = asyncio.Event()

    async def swallowing_step() -> float:
        entered.set()
        # What a misbehaving library does: swallow the cancellation.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(30)
        return 0.01

    loop = BackgroundLoop("test", swallowing_step)
    await loop.start()
    await entered.wait()
    await asyncio.wait_for(loop.stop(), timeout=5)
    assert not loop.running
