"""A real Kafka broker from todo.devstack.kafka: topics, ordered delivery, pause/resume.

These tests never skip: no Java, no Maven (on an empty jar cache) or a broker that cannot
start is a failure.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import UnknownTopicOrPartitionError

from todo.devstack.kafka import (
    DEFAULT_TOPICS,
    KafkaBroker,
    ensure_kafka_jars,
    ensure_topics,
)
from todo.devstack.ports import free_port

USERS = [f"user-{i}" for i in range(7)]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaBroker]:
    # One broker for the module. The broker object is not tied to an event loop, so a
    # sync fixture drives it with asyncio.run while each test has its own loop.
    node = KafkaBroker.on_free_ports(tmp_path_factory.mktemp("kafka"))
    asyncio.run(node.start(timeout=120))
    try:
        yield node
    finally:
        asyncio.run(node.stop())


@pytest.fixture
async def producer(broker: KafkaBroker) -> AsyncIterator[AIOKafkaProducer]:
    prod = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap,
        enable_idempotence=True,
        acks="all",
        linger_ms=5,
        request_timeout_ms=30000,
    )
    await prod.start()
    try:
        yield prod
    finally:
        await prod.stop()


async def _consume(
    bootstrap: str, topic: str, expected: int, timeout: float = 30
) -> list[tuple[str, int, int, int]]:
    """(key, seq, partition, offset) of `expected` records, read in a fresh consumer group."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"test-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    seen: list[tuple[str, int, int, int]] = []
    deadline = time.monotonic() + timeout
    try:
        while len(seen) < expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for rec in records:
                    assert rec.key is not None
                    assert rec.value is not None
                    seen.append((rec.key.decode(), int(rec.value), rec.partition, rec.offset))
        await consumer.commit()
    finally:
        await consumer.stop()
    return seen


async def test_jar_cache_is_filled_once() -> None:
    libs = await ensure_kafka_jars()  # may download (the first run on a machine)
    started = time.monotonic()
    assert await ensure_kafka_jars() == libs
    assert time.monotonic() - started < 1.0  # the second call only checks the marker
    assert any(libs.glob("kafka_2.13-*.jar"))
    assert any(libs.glob("log4j-slf4j-impl-*.jar"))


def test_free_port_is_bindable_loopback_port() -> None:
    port = free_port()
    assert 0 < port < 65536


async def test_topics_are_created_once(broker: KafkaBroker) -> None:
    await ensure_topics(broker.bootstrap)
    await ensure_topics(broker.bootstrap)  # idempotent
    await ensure_topics(broker.bootstrap, {"task-events": 12})  # existing: left alone
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics(list(DEFAULT_TOPICS))
    finally:
        await admin.close()
    partitions = {t["topic"]: len(t["partitions"]) for t in described}
    assert partitions == dict(DEFAULT_TOPICS)


async def test_auto_create_is_off(broker: KafkaBroker) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        # A metadata request for an unknown topic would create it if auto-create were on.
        [unknown] = await admin.describe_topics(["no-such-topic"])
        assert unknown["error_code"] == UnknownTopicOrPartitionError.errno
        assert "no-such-topic" not in await admin.list_topics()
    finally:
        await admin.close()


async def test_idempotent_producer_keeps_per_user_order(
    broker: KafkaBroker, producer: AIOKafkaProducer
) -> None:
    await ensure_topics(broker.bootstrap)
    sent = []
    for seq in range(100):
        user = USERS[seq % len(USERS)]
        sent.append(await producer.send("task-events", key=user.encode(), value=str(seq).encode()))
    metadata = await asyncio.gather(*sent)
    assert len({m.partition for m in metadata}) > 1  # keys spread over the 6 partitions

    seen = await _consume(broker.bootstrap, "task-events", 100)
    assert len(seen) == 100
    assert sorted(seq for _, seq, _, _ in seen) == list(range(100))  # no loss, no duplicate
    for user in USERS:
        mine = [(seq, part) for key, seq, part, _ in seen if key == user]
        assert [seq for seq, _ in mine] == sorted(seq for seq, _ in mine), user
        assert len({part for _, part in mine}) == 1, user  # one key, one partition


async def test_pause_resume_keeps_data(broker: KafkaBroker, producer: AIOKafkaProducer) -> None:
    topic = "reminders"
    await ensure_topics(broker.bootstrap, {topic: 3})
    before = [
        await producer.send_and_wait(topic, key=b"u1", value=str(i).encode()) for i in range(5)
    ]
    assert [m.offset for m in before] == sorted(m.offset for m in before)

    broker.pause()
    try:
        # Sent during the outage: it cannot be acknowledged while the JVM is stopped...
        during = asyncio.ensure_future(producer.send_and_wait(topic, key=b"u1", value=b"5"))
        await asyncio.sleep(2)
        assert not during.done()
    finally:
        broker.resume()
    # ...and the idempotent producer delivers it once the broker is back.
    await asyncio.wait_for(during, timeout=30)
    await producer.send_and_wait(topic, key=b"u1", value=b"6")

    seen = await _consume(broker.bootstrap, topic, 7)
    assert [seq for key, seq, _, _ in seen if key == "u1"] == list(range(7))


async def test_restart_keeps_data(tmp_path: Path) -> None:
    node = KafkaBroker.on_free_ports(tmp_path / "kafka")
    await node.start()
    try:
        await ensure_topics(node.bootstrap, {"task-updates": 3})
        prod = AIOKafkaProducer(
            bootstrap_servers=node.bootstrap, enable_idempotence=True, acks="all"
        )
        await prod.start()
        try:
            for i in range(10):
                await prod.send_and_wait("task-updates", key=b"k", value=str(i).encode())
        finally:
            await prod.stop()
        await node.restart()
        assert node.running
        seen = await _consume(node.bootstrap, "task-updates", 10)
        assert [seq for _, seq, _, _ in seen] == list(range(10))
    finally:
        await node.stop()
    assert not node.running
    assert node.returncode is not None


async def test_busy_port_is_refused(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        node = KafkaBroker(
            data_dir=tmp_path, port=busy.getsockname()[1], controller_port=free_port()
        )
        with pytest.raises(RuntimeError, match="already in use"):
            await node.start(timeout=30)
    assert not node.running


async def test_start_failure_raises_with_log_tail(tmp_path: Path) -> None:
    node = KafkaBroker.on_free_ports(tmp_path)
    # Storage "formatted" for another node: the broker refuses it and exits.
    (tmp_path / "kraft-logs").mkdir()
    (tmp_path / "kraft-logs" / "meta.properties").write_text(
        "version=1\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=7\n"
    )
    with pytest.raises(RuntimeError, match="tail of") as err:
        await node.start(timeout=60)
    assert "node.id" in str(err.value) or "node id" in str(err.value)
    assert not node.running
