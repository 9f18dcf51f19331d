"""Offsets of stored records, committed to Kafka only after the database commit.

A partition's committed offset is where its next owner starts, so it must never pass a record
that is not stored. The reverse is safe: a record stored but not committed is read again and
found already stored. Hence every failure path here drops an offset rather than guess.

On a rebalance (aiokafka's protocol is eager: every partition is revoked, then the new
assignment starts from the committed offsets) the revoke callback commits what is stored and
forgets the rest; bumping ``generation`` tells a batch still being retried that its records
will be read again, by this worker or another, so it can give up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Mapping

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from chat_worker.metrics import WorkerMetrics

log = logging.getLogger(__name__)

# aiokafka retries a commit by itself while the coordinator moves; past this, Kafka is down and
# the offsets wait for the next commit (commits are cumulative) or are re-read.
COMMIT_TIMEOUT_S = 10.0


class WrittenOffsets:
    def __init__(self, consumer: AIOKafkaConsumer, metrics: WorkerMetrics) -> None:
        self._consumer = consumer
        self._metrics = metrics
        self._pending: dict[TopicPartition, int] = {}
        self.generation = 0

    def mark_written(self, next_offsets: Mapping[TopicPartition, int]) -> None:
        for partition, offset in next_offsets.items():
            self._pending[partition] = max(offset, self._pending.get(partition, 0))

    async def commit(self, partitions: Collection[TopicPartition] | None = None) -> None:
        # A partition no longer assigned cannot be committed by this member, and would make
        # every later commit fail with it; its next owner starts from the committed offset.
        assigned = self._consumer.assignment()
        for gone in [partition for partition in self._pending if partition not in assigned]:
            del self._pending[gone]
        offsets = {
            partition: offset
            for partition, offset in self._pending.items()
            if partitions is None or partition in partitions
        }
        if not offsets:
            return
        try:
            await asyncio.wait_for(self._consumer.commit(offsets), COMMIT_TIMEOUT_S)
        except (KafkaError, TimeoutError) as exc:
            # Kept pending: the next commit carries them. After a rebalance they are dropped.
            self._metrics.commit_failures.inc()
            log.warning("offset commit failed", extra={"error": repr(exc)})
            return
        for partition, offset in offsets.items():
            if self._pending.get(partition) == offset:
                del self._pending[partition]

    async def revoke(self, partitions: Collection[TopicPartition]) -> None:
        self.generation += 1
        await self.commit(partitions)
        for partition in partitions:
            self._pending.pop(partition, None)


# aiokafka checks the listener's class, so it must subclass this untyped base.
class CommitOnRevoke(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, offsets: WrittenOffsets, metrics: WorkerMetrics) -> None:
        self._offsets = offsets
        self._metrics = metrics

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        await self._offsets.revoke(revoked)
        self._metrics.assigned_partitions.set(0)
        self._metrics.consumer_lag.clear()
        if revoked:
            log.info("partitions revoked", extra={"partitions": _names(revoked)})

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        self._metrics.assigned_partitions.set(len(assigned))
        log.info("partitions assigned", extra={"partitions": _names(assigned)})


def _names(partitions: Collection[TopicPartition]) -> str:
    return ",".join(f"{tp.topic}:{tp.partition}" for tp in sorted(partitions))
