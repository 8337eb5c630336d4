"""Dead letters go back onto their topic on a real broker: the replay command and the
automatic retry tier share `todo.shared.dlq` (depth, replay, skipped unreadable ones)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer
from integration.kafka_bus_test import event, fresh_topic, read_all

from todo.devstack.kafka import KafkaBroker
from todo.shared.dlq import DeadLetterWatch, depth, replay
from todo.worker.dlq import main as dlq_command


async def dead_letter(bootstrap: str, topic: str, values: list[bytes]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for value in values:
            await producer.send_and_wait(topic + ".dlq", value=value)
    finally:
        await producer.stop()


async def test_replay_sends_dead_letters_back_keyed_once_and_skips_unreadable(
    kafka: KafkaBroker,
) -> None:
    topic = await fresh_topic(kafka.bootstrap)
    first, second = event(1), event(2)
    await dead_letter(
        kafka.bootstrap,
        topic,
        [first.model_dump_json().encode(), b"{not an event", second.model_dump_json().encode()],
    )
    assert await depth(kafka.bootstrap, [topic]) == {topic: 3}

    young = await replay(kafka.bootstrap, topic, min_age=timedelta(hours=1))
    assert (young.replayed, young.waiting) == (0, 3), "younger than min_age: left waiting"

    report = await replay(kafka.bootstrap, topic)
    assert (report.replayed, report.unreadable) == (2, 1)
    assert report.event_ids == [first.id, second.id]
    assert await depth(kafka.bootstrap, [topic]) == {topic: 0}
    records = await read_all(kafka.bootstrap, topic, 2)
    assert [r.value for r in records] == [
        first.model_dump_json().encode(),
        second.model_dump_json().encode(),
    ]
    assert all(r.key == b"u1" for r in records), "keyed by the event's partition key"
    again = await replay(kafka.bootstrap, topic)
    assert again.replayed == 0, "a replayed dead letter is never sent twice"


def test_the_command_prints_depth_then_replays(
    kafka: KafkaBroker, capsys: pytest.CaptureFixture[str]
) -> None:
    topic = asyncio.run(fresh_topic(kafka.bootstrap))
    asyncio.run(dead_letter(kafka.bootstrap, topic, [event(3).model_dump_json().encode()]))
    argv = ["--bootstrap", kafka.bootstrap, "--topic", topic]
    assert dlq_command(["depth", *argv]) == 0
    assert capsys.readouterr().out == f"{topic}.dlq\t1\n"
    assert dlq_command(["replay", *argv]) == 0
    assert capsys.readouterr().out.startswith(f"{topic}.dlq -> {topic}: 1 replayed")
    assert dlq_command(["depth", *argv]) == 0
    assert capsys.readouterr().out == f"{topic}.dlq\t0\n"


async def test_the_automatic_tier_replays_what_is_old_enough(kafka: KafkaBroker) -> None:
    topic = await fresh_topic(kafka.bootstrap)
    late = event(4)
    await dead_letter(kafka.bootstrap, topic, [late.model_dump_json().encode()])
    watch = DeadLetterWatch(kafka.bootstrap, [topic], period_seconds=0.5, retry_after_seconds=1)
    await watch.start()
    try:
        (record,) = await read_all(kafka.bootstrap, topic, 1)
    finally:
        await watch.stop()
    assert record.value == late.model_dump_json().encode()
    assert await depth(kafka.bootstrap, [topic]) == {topic: 0}
