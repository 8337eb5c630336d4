from __future__ import annotations

import asyncio
import contextlib

import pytest

from todo.domain.events import CloudEvent
from todo.domain.ports import EventHandler, PermanentEventError
from todo.shared.bus_memory import MemoryEventBus
from todo.shared.delivery import RetryPolicy


def event(n: int, owner: str = "u1") -> CloudEvent:
    return CloudEvent(source="/test", type="todo.test.v1", partitionkey=owner, data={"n": n})


async def test_each_group_gets_every_event_in_order() -> None:
    bus = MemoryEventBus()
    seen: dict[str, list[int]] = {"a": [], "b": []}

    def collector(group: str) -> EventHandler:
        async def handle(e: CloudEvent) -> None:
            seen[group].append(e.data["n"])

        return handle

    bus.subscribe("t", "a", collector("a"))
    bus.subscribe("t", "b", collector("b"))
    bus.subscribe("other", "a", collector("a"))
    await bus.start()
    for n in range(50):
        await bus.publish("t", event(n))
    await bus.drain()
    await bus.stop()
    assert seen == {"a": list(range(50)), "b": list(range(50))}


async def test_each_key_keeps_its_order_across_partitions() -> None:
    bus = MemoryEventBus(partitions=4)
    seen: dict[str, list[int]] = {}

    async def handle(e: CloudEvent) -> None:
        await asyncio.sleep(0)  # let the partitions interleave
        seen.setdefault(e.partitionkey, []).append(e.data["n"])

    bus.subscribe("t", "g", handle)
    await bus.start()
    owners = [f"user-{k}" for k in range(10)]
    for n in range(200):
        await bus.publish("t", event(n, owners[n % len(owners)]))
    await bus.drain()
    await bus.stop()
    assert set(seen) == set(owners)
    for k, owner in enumerate(owners):
        assert seen[owner] == list(range(k, 200, len(owners)))
    # More than one partition was used, and a key always maps to the same one.
    assert len({bus.partition_of(event(0, owner)) for owner in owners}) > 1
    assert bus.partition_of(event(1, "user-3")) == bus.partition_of(event(2, "user-3"))


async def test_a_slow_user_does_not_hold_up_the_others() -> None:
    bus = MemoryEventBus(partitions=8)
    slow_owner = "user-slow"
    other = next(
        f"user-{k}"
        for k in range(100)
        if bus.partition_of(event(0, f"user-{k}")) != bus.partition_of(event(0, slow_owner))
    )
    release = asyncio.Event()
    handled: list[str] = []

    async def handle(e: CloudEvent) -> None:
        if e.partitionkey == slow_owner:
            await release.wait()
        handled.append(e.partitionkey)

    bus.subscribe("t", "g", handle)
    await bus.start()
    await bus.publish("t", event(1, slow_owner))
    await bus.publish("t", event(2, other))
    async with asyncio.timeout(5):
        while other not in handled:
            await asyncio.sleep(0.01)
    assert handled == [other]  # the slow user's event is still in its handler
    release.set()
    await bus.drain()
    await bus.stop()
    assert handled == [other, slow_owner]


async def test_failures_are_retried_then_dead_lettered() -> None:
    bus = MemoryEventBus(retry=RetryPolicy(max_attempts=3, base_backoff_seconds=0.001))
    attempts: list[int] = []

    async def flaky(e: CloudEvent) -> None:
        attempts.append(e.data["n"])
        if e.data["n"] == 1 and attempts.count(1) < 2:
            raise RuntimeError("transient")
        if e.data["n"] == 2:
            raise RuntimeError("always broken")

    bus.subscribe("t", "g", flaky)
    await bus.start()
    for n in (1, 2, 3):
        await bus.publish("t", event(n))
    await bus.drain()
    await bus.stop()
    assert attempts == [1, 1, 2, 2, 2, 3]
    assert [(e.data["n"], err) for e, err in bus.dead_letters] == [
        (2, "RuntimeError: always broken")
    ]


async def test_permanent_errors_are_not_retried() -> None:
    bus = MemoryEventBus(retry=RetryPolicy(base_backoff_seconds=0.001))
    calls = 0

    async def poison(e: CloudEvent) -> None:
        nonlocal calls
        calls += 1
        raise PermanentEventError("cannot parse")

    bus.subscribe("t", "g", poison)
    await bus.start()
    await bus.publish("t", event(1))
    await bus.drain()
    await bus.stop()
    assert calls == 1
    assert bus.dead_letters[0][1] == "permanent: cannot parse"


async def test_stop_cancels_delivery() -> None:
    bus = MemoryEventBus()
    started = asyncio.Event()

    async def slow(e: CloudEvent) -> None:
        started.set()
        await asyncio.sleep(60)

    bus.subscribe("t", "g", slow)
    await bus.start()
    await bus.publish("t", event(1))
    await asyncio.wait_for(started.wait(), 1)
    await asyncio.wait_for(bus.stop(), 1)


async def test_stop_ends_a_handler_that_swallows_its_cancellation() -> None:
    bus = MemoryEventBus()
    started = asyncio.Event()

    async def swallowing(e: CloudEvent) -> None:
        started.set()
        # What a misbehaving library does: swallow the cancellation.
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(60)

    bus.subscribe("t", "g", swallowing)
    await bus.start()
    await bus.publish("t", event(1))
    await asyncio.wait_for(started.wait(), 1)
    await asyncio.wait_for(bus.stop(), 5)


@pytest.mark.parametrize("topic", ["t", "unsubscribed"])
async def test_publish_without_start_does_not_block(topic: str) -> None:
    bus = MemoryEventBus()
    await asyncio.wait_for(bus.publish(topic, event(1)), 1)
