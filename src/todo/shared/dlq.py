"""Dead letters are not the end: events in `<topic>.dlq` go back onto `<topic>`.

Both adapters dead-letter an event their retries could not handle (Dapr after its
resiliency policy, `bus_kafka` after its attempts). Consumers are idempotent by event id,
so sending an event again is always safe: what it did the first time is not repeated.

`replay` moves every dead letter that the replayer has not sent back yet (its position is
the committed offset of the consumer group `todo-dlq-replay`) and that is at least
`min_age` old onto its topic, keyed by the event's partition key (per-user order as the
original), committing after each. An unreadable record (no CloudEvent) can never be
handled: it is skipped, logged and counted. `depth` tells how many dead letters wait.

The worker runs `replay` every few minutes (the automatic retry tier, a longer backoff
than the subscription's); `python -m todo.worker.dlq` is the same for an operator.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import ValidationError

from todo.domain.events import parse_event
from todo.domain.metrics import DEAD_LETTER_DEPTH, DEAD_LETTERS_REPLAYED
from todo.shared.bus_kafka import DLQ_SUFFIX

log = logging.getLogger(__name__)

REPLAY_GROUP = "todo-dlq-replay"
CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"


@dataclass
class ReplayReport:
    topic: str
    replayed: int = 0
    unreadable: int = 0
    waiting: int = 0  # younger than min_age: left for a later round
    event_ids: list[str] = field(default_factory=list)


def _consumer(bootstrap: str, group: str) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        group_id=group,
        client_id="todo-dlq",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )


async def _partitions(bootstrap: str, topic: str) -> list[int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="todo-dlq")
    await admin.start()
    try:
        (described,) = await admin.describe_topics([topic])
    finally:
        await admin.close()
    numbers = sorted(p["partition"] for p in described.get("partitions", []))
    if not numbers:
        raise LookupError(f"no topic {topic} (error code {described.get('error_code')})")
    return numbers


async def _positions(
    bootstrap: str, consumer: AIOKafkaConsumer, dlq: str
) -> tuple[list[TopicPartition], dict[TopicPartition, int], dict[TopicPartition, int]]:
    """The dead-letter topic's partitions, the replayer's position and the end of each."""
    numbers = await _partitions(bootstrap, dlq)
    tps = [TopicPartition(dlq, n) for n in numbers]
    ends = await consumer.end_offsets(tps)
    starts = await consumer.beginning_offsets(tps)
    positions = {}
    for tp in tps:
        committed = await consumer.committed(tp)
        positions[tp] = committed if committed is not None else starts[tp]
    return tps, positions, ends


async def depth(bootstrap: str, topics: Sequence[str], group: str = REPLAY_GROUP) -> dict[str, int]:
    """Dead letters not yet replayed, per source topic (also set as the depth gauge)."""
    consumer = _consumer(bootstrap, group)
    await consumer.start()
    try:
        out: dict[str, int] = {}
        for topic in topics:
            _, positions, ends = await _positions(bootstrap, consumer, topic + DLQ_SUFFIX)
            out[topic] = sum(max(0, ends[tp] - positions[tp]) for tp in positions)
            DEAD_LETTER_DEPTH.labels(topic=topic + DLQ_SUFFIX).set(out[topic])
        return out
    finally:
        await consumer.stop()


async def replay(
    bootstrap: str,
    topic: str,
    *,
    min_age: timedelta = timedelta(0),
    group: str = REPLAY_GROUP,
    timeout_seconds: float = 60.0,
) -> ReplayReport:
    """Send the dead letters of `topic` back onto it (those present when called)."""
    dlq = topic + DLQ_SUFFIX
    report = ReplayReport(topic)
    consumer = _consumer(bootstrap, group)
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, client_id="todo-dlq", enable_idempotence=True, acks="all"
    )
    await consumer.start()
    try:
        await producer.start()
        tps, positions, ends = await _positions(bootstrap, consumer, dlq)
        pending = {tp for tp in tps if positions[tp] < ends[tp]}
        if not pending:
            return report
        consumer.assign(sorted(pending, key=lambda tp: tp.partition))
        for tp in pending:
            consumer.seek(tp, positions[tp])
        deadline = time.monotonic() + timeout_seconds
        youngest_allowed_ms = int((time.time() - min_age.total_seconds()) * 1000)
        while pending:
            if time.monotonic() > deadline:
                raise TimeoutError(f"replaying {dlq}: {len(pending)} partitions not done")
            batches = await consumer.getmany(*pending, timeout_ms=500)
            for tp, records in batches.items():
                for record in records:
                    if tp not in pending:
                        break
                    if record.offset >= ends[tp]:
                        pending.discard(tp)
                        break
                    if record.timestamp > youngest_allowed_ms:
                        # Dead letters are in time order: the rest of it waits too.
                        report.waiting += ends[tp] - record.offset
                        pending.discard(tp)
                        break
                    await _send_back(producer, topic, record, report)
                    await consumer.commit({tp: record.offset + 1})
                    if record.offset + 1 >= ends[tp]:
                        pending.discard(tp)
    finally:
        await producer.stop()
        await consumer.stop()
    if report.replayed or report.unreadable:
        log.warning(
            "dead letters replayed",
            extra={"topic": topic, "replayed": report.replayed, "unreadable": report.unreadable},
        )
    return report


async def _send_back(
    producer: AIOKafkaProducer, topic: str, record: ConsumerRecord, report: ReplayReport
) -> None:
    value: bytes = record.value or b""
    source = f"{record.topic}/{record.partition}/{record.offset}"
    try:
        event = parse_event(value)
    except (ValidationError, ValueError) as exc:
        log.error("unreadable dead letter skipped", extra={"source": source, "error": str(exc)})
        report.unreadable += 1
        return
    await producer.send_and_wait(
        topic,
        value=value,
        key=event.partitionkey.encode(),
        headers=[("content-type", CONTENT_TYPE), ("dlq-replayed-from", source.encode())],
    )
    DEAD_LETTERS_REPLAYED.labels(topic=topic).inc()
    report.replayed += 1
    report.event_ids.append(event.id)


@dataclass
class DeadLetterWatch:
    """The worker's automatic retry tier: every `period_seconds`, report each dead-letter
    topic's depth and replay its dead letters older than `retry_after_seconds`."""

    bootstrap: str
    topics: Sequence[str]
    period_seconds: float = 60.0
    retry_after_seconds: float = 300.0
    _task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="dead-letter-watch")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                for topic in self.topics:
                    await replay(
                        self.bootstrap,
                        topic,
                        min_age=timedelta(seconds=self.retry_after_seconds),
                    )
                await depth(self.bootstrap, self.topics)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dead-letter watch failed; trying again")
            await asyncio.sleep(self.period_seconds)
