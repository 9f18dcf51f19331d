"""The consumer loop: poll, handle each partition's records in order (partitions at once), then
commit the offsets of what is done.

A record's offset is committed only once its work is finished: its images announced (the
gateway answered with the durable event, or said the message is gone) and its deleted files
gone. A crash before that means the record is read again, and every step is idempotent.
Almost every record is a message without images: it is passed over without being decoded.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from chat_common.envelope import Envelope, EnvelopeError, decode_envelope
from chat_media.metrics import MediaMetrics
from chat_media.retries import Stopping

log = logging.getLogger(__name__)

# aiokafka retries a commit by itself while the coordinator moves; past this, Kafka is down and
# the offsets wait for the next commit (commits are cumulative) or are read again.
COMMIT_TIMEOUT_S = 10.0
# Only records holding one of these can be work: a message with attachments, or a delete.
# A body that happens to contain them is decoded and passed over.
_MAYBE_WORK = (b'"attachments"', b'"kind":"delete"')

Handler = Callable[[Envelope, asyncio.Event], Awaitable[None]]


def needs_work(value: bytes | None) -> bool:
    return value is not None and any(marker in value for marker in _MAYBE_WORK)


class DoneOffsets:
    """The next offset to commit per partition; only partitions still assigned are committed
    (a partition's new owner starts from its committed offset)."""

    def __init__(self, consumer: AIOKafkaConsumer, metrics: MediaMetrics) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._pending: dict[TopicPartition, int] = {}

    def mark(self, partition: TopicPartition, next_offset: int) -> None:
        self._pending[partition] = max(next_offset, self._pending.get(partition, 0))

    async def commit(self) -> None:
        assigned = self._consumer.assignment()
        # A partition no longer assigned cannot be committed by this member, and would make
        # the whole commit fail; its new owner starts from its committed offset.
        self._pending = {tp: offset for tp, offset in self._pending.items() if tp in assigned}
        offsets = dict(self._pending)
        if not offsets:
            return
        try:
            await asyncio.wait_for(self._consumer.commit(offsets), COMMIT_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:
            self._metrics.offset_commit_failures.inc()
            log.warning("offset commit failed", extra={"error": repr(exc)})
            return
        for partition, offset in offsets.items():
            if self._pending.get(partition) == offset:
                del self._pending[partition]


# aiokafka checks the listener's class, so it must subclass this untyped base.
class CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, offsets: DoneOffsets, metrics: MediaMetrics) -> None:
        self._offsets = offsets
        self._metrics = metrics

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._offsets.commit()
        self._metrics.consumer_lag.clear()

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        log.info("partitions assigned", extra={"partitions": len(assigned)})


class MediaConsumer:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        offsets: DoneOffsets,
        handlers: Mapping[str, Handler],
        metrics: MediaMetrics,
        *,
        poll_max_records: int,
        poll_max_wait_ms: int,
    ) -> None:
        self._consumer = consumer
        self._offsets = offsets
        # By what a record is: "message" (with attachments) or "delete".
        self._handlers = handlers
        self._metrics = metrics
        self._poll_max_records = poll_max_records
        self._poll_max_wait_ms = poll_max_wait_ms

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                fetched = await self._consumer.getmany(
                    timeout_ms=self._poll_max_wait_ms, max_records=self._poll_max_records
                )
                if not fetched:
                    continue
                done = await asyncio.gather(
                    *(self._partition(tp, records, stop) for tp, records in fetched.items())
                )
                for partition, next_offset in zip(fetched, done, strict=True):
                    if next_offset is not None:
                        self._offsets.mark(partition, next_offset)
                        self._observe_lag(partition, next_offset)
                await self._offsets.commit()
        finally:
            await self._offsets.commit()

    async def _partition(
        self, partition: TopicPartition, records: list[Any], stop: asyncio.Event
    ) -> int | None:
        """Handles the records in order; the offset after the last one done, or None."""
        next_offset: int | None = None
        for record in records:
            try:
                await self._handle(record.value, stop)
            except Stopping:
                break
            next_offset = record.offset + 1
        return next_offset

    async def _handle(self, value: bytes | None, stop: asyncio.Event) -> None:
        if not needs_work(value):
            return
        assert value is not None
        try:
            envelope = decode_envelope(value)
        except EnvelopeError:
            return  # the persistence worker sets it aside in the dead-letter topic
        kind = "message" if envelope.is_message else envelope.kind
        handler = self._handlers.get(str(kind))
        if handler is not None:
            await handler(envelope, stop)

    def _observe_lag(self, partition: TopicPartition, next_offset: int) -> None:
        highwater = self._consumer.highwater(partition)
        if highwater is not None:
            self._metrics.consumer_lag.labels(partition.topic, str(partition.partition)).set(
                max(0, highwater - next_offset)
            )
