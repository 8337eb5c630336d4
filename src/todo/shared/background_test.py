"""The background loop: woken early, backs off on failure, and stops even when its step
swallows the cancellation (as a database driver cleaning up a connection may)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

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


def recording_step() -> tuple[list[float], Callable[[], Awaitable[float]]]:
    """A step that notes when it ran (on the event loop's clock) and asks to wait long."""
    runs: list[float] = []

    async def step() -> float:
        runs.append(asyncio.get_running_loop().time())
        return 60.0

    return runs, step


async def test_a_stream_of_wakes_is_gathered_into_one_step_per_linger() -> None:
    runs, step = recording_step()
    loop = BackgroundLoop("test", step, linger_seconds=0.3)
    await loop.start()
    await asyncio.sleep(0)  # the first step, at start
    for _ in range(10):  # ten wakes within 0.1 s of it
        loop.wake()
        await asyncio.sleep(0.01)
    assert len(runs) == 1, "a wake within the linger ran the step at once"
    await asyncio.sleep(0.4)
    assert len(runs) == 2, "the gathered wakes ran one step, when the linger was over"
    assert runs[1] - runs[0] >= 0.3
    await loop.stop()


async def test_a_wake_after_a_quiet_spell_runs_at_once() -> None:
    clock = asyncio.get_running_loop()
    runs, step = recording_step()
    loop = BackgroundLoop("test", step, linger_seconds=0.2)
    await loop.start()
    await asyncio.sleep(0.3)  # longer than the linger since the first step
    woken = clock.time()
    loop.wake()
    await asyncio.sleep(0.1)  # less than the linger
    await loop.stop()
    assert len(runs) == 2
    assert runs[1] - woken < 0.1


async def test_a_step_that_asks_to_run_again_at_once_is_not_held() -> None:
    results = iter([0.0, 0.0, 60.0])
    runs = 0

    async def step() -> float:
        nonlocal runs
        runs += 1
        return next(results, 60.0)

    loop = BackgroundLoop("test", step, linger_seconds=10.0)
    await loop.start()
    await asyncio.sleep(0.1)
    await loop.stop()
    assert runs == 3
