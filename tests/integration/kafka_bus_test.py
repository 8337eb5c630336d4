"""The Kafka adapter's consumer contract on a real broker: retries, dead letters, and
offsets committed only after handling."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from todo.devstack.kafka import KafkaBroker
from todo.domain.events import CloudEvent
from todo.domain.ports import PermanentEventError
from todo.shared.bus_kafka import KafkaEventBus
from todo.shared.delivery import RetryPolicy


async def fresh_topic(bootstrap: str) -> str:
    name = f"t-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics(
            [
                NewTopic(name, num_partitions=1, replication_factor=1),
                NewTopic(name + ".dlq", num_partitions=1, replication_factor=1),
            ]
        )
    finally:
        await admin.close()
    return name


def event(n: int) -> CloudEvent:
    return CloudEvent(source="/test", type="todo.test.v1", partitionkey="u1", data={"n": n})


async def read_all(bootstrap: str, topic: str, count: int) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(30):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records.extend(batch)
    finally:
        await consumer.stop()
    return records


async def test_poison_events_go_to_the_dead_letter_topic_and_the_rest_flows(
    kafka: KafkaBroker,
) -> None:
    topic = await fresh_topic(kafka.bootstrap)
    handled: list[int] = []
    attempts: dict[int, int] = {}

    async def handler(e: CloudEvent) -> None:
        n = e.data["n"]
        attempts[n] = attempts.get(n, 0) + 1
        if n == 2:
            raise PermanentEventError("cannot handle 2")
        if n == 3 and attempts[n] < 3:
            raise RuntimeError("transient")
        handled.append(n)

    bus = KafkaEventBus(kafka.bootstrap, retry=RetryPolicy(base_backoff_seconds=0.01))
    bus.subscribe(topic, "g-" + topic, handler)
    await bus.start()
    await bus.wait_ready(30)
    try:
        producer = AIOKafkaProducer(bootstrap_servers=kafka.bootstrap)
        await producer.start()
        await producer.send_and_wait(topic, b"{not json", key=b"u1")
        await producer.stop()
        await bus.publish_batch([(topic, event(n)) for n in (1, 2, 3, 4)])
        async with asyncio.timeout(30):
            while handled != [1, 3, 4]:
                await asyncio.sleep(0.05)
        assert attempts == {1: 1, 2: 1, 3: 3, 4: 1}
        dead = await read_all(kafka.bootstrap, topic + ".dlq", 2)
        errors = [dict(r.headers)["dlq-error"].decode() for r in dead]
        assert errors[0].startswith("unreadable event")
        assert errors[1] == "permanent: cannot handle 2"
        assert dict(dead[1].headers)["dlq-source"].decode() == f"{topic}/0/2"
    finally:
        await bus.stop()


async def test_offsets_are_committed_after_handling_so_a_restart_resumes(
    kafka: KafkaBroker,
) -> None:
    topic = await fresh_topic(kafka.bootstrap)
    group = "g-" + topic
    first: list[int] = []

    async def record_first(e: CloudEvent) -> None:
        first.append(e.data["n"])

    bus = KafkaEventBus(kafka.bootstrap)
    bus.subscribe(topic, group, record_first)
    await bus.start()
    await bus.wait_ready(30)
    await bus.publish_batch([(topic, event(n)) for n in range(10)])
    async with asyncio.timeout(30):
        while len(first) < 10:
            await asyncio.sleep(0.05)
    await bus.stop()

    second: list[int] = []

    async def record_second(e: CloudEvent) -> None:
        second.append(e.data["n"])

    again = KafkaEventBus(kafka.bootstrap)
    again.subscribe(topic, group, record_second)
    await again.start()
    await again.wait_ready(30)
    await again.publish_batch([(topic, event(n)) for n in range(10, 15)])
    async with asyncio.timeout(30):
        while len(second) < 5:
            await asyncio.sleep(0.05)
    await asyncio.sleep(1)
    await again.stop()
    assert first == list(range(10))
    assert second == list(range(10, 15)), "handled events are not delivered again"


async def test_publishing_before_the_broker_answers_fails_loudly() -> None:
    bus = KafkaEventBus("127.0.0.1:1")
    await bus.start()
    try:
        assert not bus.ready
        with pytest.raises(ConnectionError, match="not connected to Kafka"):
            await bus.publish("t", event(1))
    finally:
        await bus.stop()


async def test_a_newest_only_group_skips_the_history_an_ordinary_group_catches_up(
    kafka: KafkaBroker,
) -> None:
    topic = await fresh_topic(kafka.bootstrap)
    history = KafkaEventBus(kafka.bootstrap)
    await history.start()
    await history.wait_ready(30)
    await history.publish_batch([(topic, event(n)) for n in range(5)])
    await history.stop()

    newest: list[int] = []
    catching_up: list[int] = []

    async def record_newest(e: CloudEvent) -> None:
        newest.append(e.data["n"])

    async def record_catching_up(e: CloudEvent) -> None:
        catching_up.append(e.data["n"])

    bus = KafkaEventBus(kafka.bootstrap)
    bus.subscribe(topic, "live-" + topic, record_newest, newest_only=True)
    bus.subscribe(topic, "g-" + topic, record_catching_up)
    await bus.start()
    await bus.wait_ready(30)
    try:
        # The newest-only group reads from where the topic ends once its partition is
        # assigned: publish until one event reaches it, as the live-updates probe does.
        n = 100
        async with asyncio.timeout(60):
            while not newest:
                await bus.publish(topic, event(n))
                n += 1
                await asyncio.sleep(0.5)
        await bus.publish_batch([(topic, event(m)) for m in range(1000, 1003)])
        async with asyncio.timeout(30):
            while newest[-3:] != [1000, 1001, 1002] or len(catching_up) < 5 + n - 100 + 3:
                await asyncio.sleep(0.05)
    finally:
        await bus.stop()
    assert not set(newest) & set(range(5)), "a newest-only group replayed the topic's history"
    assert newest == sorted(newest), "events reached the newest-only group out of order"
    assert catching_up[:5] == list(range(5)), "an ordinary new group starts at the oldest event"
