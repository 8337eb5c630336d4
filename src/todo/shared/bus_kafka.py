"""Event bus on Apache Kafka (aiokafka), for the distributed shape without Dapr.

Publishing: an idempotent producer (acks=all), keyed by the event's partition key (the
owner id), so one user's events keep their order within a partition.

Consuming: one consumer group per `subscribe` group. Offsets are committed only after the
events before them were handled (or dead-lettered), so a worker that dies mid-batch has
its uncommitted events redelivered; handlers are idempotent by key, so nothing is done
twice. A failing event is retried with backoff, then sent to `<topic>.dlq` with the error
in its headers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from pydantic import ValidationError

from todo.domain.events import CloudEvent, parse_event
from todo.domain.metrics import EVENTS_CONSUMED, EVENTS_DEAD_LETTERED, EVENTS_PUBLISHED
from todo.domain.ports import EventHandler
from todo.shared import delivery
from todo.shared.delivery import RetryPolicy

log = logging.getLogger(__name__)

CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"
DLQ_SUFFIX = ".dlq"


def encode(event: CloudEvent) -> tuple[bytes, bytes]:
    return event.partitionkey.encode(), event.model_dump_json().encode()


@dataclass
class KafkaEventBus:
    bootstrap: str
    client_id: str = "todo"
    retry: RetryPolicy = field(default_factory=lambda: RetryPolicy(base_backoff_seconds=0.2))
    max_batch: int = 200
    request_timeout_ms: int = 10_000
    _producer: AIOKafkaProducer | None = None
    _groups: dict[str, dict[str, EventHandler]] = field(default_factory=dict)
    _newest_only: set[str] = field(default_factory=set)
    _consumers: list[AIOKafkaConsumer] = field(default_factory=list)
    # Called with each readable record and its event before the handler runs (metrics).
    observe: Callable[[ConsumerRecord, CloudEvent], None] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _connector: asyncio.Task[None] | None = None
    _connected: asyncio.Event = field(default_factory=asyncio.Event)

    def subscribe(
        self, topic: str, group: str, handler: EventHandler, *, newest_only: bool = False
    ) -> None:
        self._groups.setdefault(group, {})[topic] = handler
        if newest_only:
            self._newest_only.add(group)

    async def start(self) -> None:
        """Connect in the background: a service starts (and answers /healthz) while Kafka
        is unreachable, and reports ready once connected."""
        self._connector = asyncio.create_task(self._connect(), name="kafka-connect")

    @property
    def ready(self) -> bool:
        return self._connected.is_set()

    async def wait_ready(self, timeout: float) -> None:
        await asyncio.wait_for(self._connected.wait(), timeout)

    async def _connect(self) -> None:
        delay = 0.5
        while True:
            try:
                await self._open()
                self._connected.set()
                log.info("connected to Kafka", extra={"bootstrap": self.bootstrap})
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning(
                    "Kafka not reachable; retrying",
                    extra={"bootstrap": self.bootstrap, "error": str(exc), "retry_in": delay},
                )
                await self._close()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 15.0)

    async def _open(self) -> None:
        producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=self.client_id,
            enable_idempotence=True,
            acks="all",
            linger_ms=1,
            request_timeout_ms=self.request_timeout_ms,
        )
        self._producer = producer
        await producer.start()
        for group, handlers in self._groups.items():
            consumer = AIOKafkaConsumer(
                *handlers,
                bootstrap_servers=self.bootstrap,
                client_id=self.client_id,
                group_id=group,
                enable_auto_commit=False,
                # A group without committed offsets starts at the oldest event, or at the
                # newest for a newest-only one.
                auto_offset_reset="latest" if group in self._newest_only else "earliest",
                max_poll_records=self.max_batch,
                request_timeout_ms=max(self.request_timeout_ms, 40_000),
            )
            self._consumers.append(consumer)
            await consumer.start()
        for group, consumer in zip(self._groups, self._consumers, strict=True):
            self._tasks.append(
                asyncio.create_task(
                    self._consume(group, consumer, self._groups[group]), name=f"kafka:{group}"
                )
            )

    async def stop(self) -> None:
        if self._connector is not None:
            self._connector.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._connector
            self._connector = None
        await self._close()
        self._connected.clear()

    async def _close(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        for consumer in self._consumers:
            await consumer.stop()
        self._consumers.clear()
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    def _require_producer(self) -> AIOKafkaProducer:
        if self._producer is None or not self._connected.is_set():
            raise ConnectionError(f"not connected to Kafka at {self.bootstrap} (yet)")
        return self._producer

    async def publish(self, topic: str, event: CloudEvent) -> None:
        await self.publish_batch([(topic, event)])

    async def publish_batch(self, items: Sequence[tuple[str, CloudEvent]]) -> None:
        """Send all, then wait for all: one round trip for a batch, order kept per key
        (the idempotent producer keeps order across its in-flight requests)."""
        producer = self._require_producer()
        futures = []
        for topic, event in items:
            key, value = encode(event)
            futures.append(
                await producer.send(
                    topic, value=value, key=key, headers=[("content-type", CONTENT_TYPE)]
                )
            )
        await asyncio.gather(*futures)
        for topic, _ in items:
            EVENTS_PUBLISHED.labels(topic=topic, adapter="kafka").inc()

    async def _consume(
        self, group: str, consumer: AIOKafkaConsumer, handlers: dict[str, EventHandler]
    ) -> None:
        while True:
            try:
                batches = await consumer.getmany(timeout_ms=500, max_records=self.max_batch)
                for tp, records in batches.items():
                    for record in records:
                        await self._handle(group, handlers[tp.topic], record)
                    # Everything up to here was handled or dead-lettered.
                    await consumer.commit({tp: records[-1].offset + 1})
            except asyncio.CancelledError:
                raise
            except Exception:
                # A rebalance or broker outage: what was not committed comes back.
                log.exception("consumer loop failed; resuming", extra={"group": group})
                await asyncio.sleep(1.0)

    async def _handle(self, group: str, handler: EventHandler, record: ConsumerRecord) -> None:
        topic = record.topic
        try:
            event = parse_event(record.value)
        except (ValidationError, ValueError) as exc:
            await self._dead_letter(group, record, f"unreadable event: {exc}")
            return
        if self.observe is not None:
            self.observe(record, event)
        reason = await delivery.handle(handler, event, self.retry, topic=topic, group=group)
        if reason is not None:
            await self._dead_letter(group, record, reason)

    async def _dead_letter(self, group: str, record: ConsumerRecord, error: str) -> None:
        producer = self._require_producer()
        headers = [
            ("content-type", CONTENT_TYPE),
            ("dlq-error", error[:4000].encode()),
            ("dlq-group", group.encode()),
            ("dlq-source", f"{record.topic}/{record.partition}/{record.offset}".encode()),
        ]
        delay = self.retry.base_backoff_seconds
        while True:
            # The event's offset is committed only once it sits in the dead-letter topic.
            try:
                await producer.send_and_wait(
                    record.topic + DLQ_SUFFIX, value=record.value, key=record.key, headers=headers
                )
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dead-letter publish failed; retrying")
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
        log.error(
            "event dead-lettered",
            extra={"group": group, "topic": record.topic, "offset": record.offset, "error": error},
        )
        EVENTS_CONSUMED.labels(topic=record.topic, group=group, outcome="dead_letter").inc()
        EVENTS_DEAD_LETTERED.labels(topic=record.topic, group=group).inc()
