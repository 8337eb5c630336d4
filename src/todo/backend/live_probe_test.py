"""A replica is ready for live updates only once its own subscription delivers.

A subscription that starts late (partitions not yet assigned, reading from the newest
event on) drops what is published before it starts: the bus here does just that for its
first `late_for` publishes, as a broker's late assignment would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import httpx
import pytest

from todo.backend.live import LiveUpdates, SubscriptionProbe
from todo.domain.events import CloudEvent, RefreshData, refresh_event
from todo.domain.ports import EventHandler


@dataclass
class LateSubscription:
    """A bus whose one subscriber hears nothing of the first `late_for` publishes."""

    late_for: int
    refuse: bool = False
    published: int = 0
    handler: EventHandler | None = None
    delivered: list[CloudEvent] = field(default_factory=list)

    async def publish(self, topic: str, event: CloudEvent) -> None:
        if self.refuse:
            raise ConnectionError("sidecar not up yet")
        self.published += 1
        if self.published > self.late_for and self.handler is not None:
            self.delivered.append(event)
            await self.handler(event)

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        for topic, event in items:
            await self.publish(topic, event)


async def test_not_ready_until_a_probe_came_back_through_the_subscription() -> None:
    bus = LateSubscription(late_for=2)
    live = LiveUpdates()
    probe = SubscriptionProbe(bus, interval_seconds=0.02)
    bus.handler = probe.handing_on_to(live)
    stream = live.open("live-user")

    with pytest.raises(ConnectionError, match="not yet delivered"):
        await probe.check()
    await probe.start()
    try:
        await probe.check(within=10)
    finally:
        await probe.stop()

    assert bus.published == 3
    # The probe's events are its own: no stream hears them, and users' refreshes pass.
    assert stream.empty()
    await bus.handler(refresh_event(RefreshData(owner_id="live-user", kind="task", reason="x")))
    assert (await stream.get()) is not None


async def test_a_bus_that_refuses_the_probe_is_named_in_the_readiness_answer() -> None:
    bus = LateSubscription(late_for=0, refuse=True)
    probe = SubscriptionProbe(bus, interval_seconds=0.02)
    bus.handler = probe.handing_on_to(LiveUpdates())
    await probe.start()
    try:
        await asyncio.sleep(0.1)
        with pytest.raises(ConnectionError, match="sidecar not up yet"):
            await probe.check()
        bus.refuse = False
        await probe.check(within=10)
    finally:
        await probe.stop()
    assert [event.partitionkey for event in bus.delivered] == [probe.key]


async def test_a_backend_on_the_in_process_bus_is_ready_at_once(
    client: httpx.AsyncClient,
) -> None:
    ready = await client.get("/readyz")

    assert ready.status_code == 200, ready.text
    assert "live updates" in ready.json()["checks"]
