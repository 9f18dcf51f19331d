"""The consumer loop: poll a batch, store its partitions in parallel transactions, then commit
its offsets.

A poll's partitions are split into groups (``group_partitions``), each decoded into a batch and
stored in a transaction of its own on its own connection, all at once. Nothing of a poll is
committed until every group's rows are in Postgres and its poison records are in the dead-letter
topic. While Postgres is down a group is retried with backoff, so the stream stalls rather than
skips; the poll is given up only on SIGTERM or when a rebalance takes the partitions away, and in
both cases its records are read again from the committed offsets.

The next poll is fetched and decoded while Postgres stores the current one, but it is stored
only after the current one is stored and committed, so a partition's batches are stored and
committed in order.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from chat_worker.backoff import backoff_delays
from chat_worker.batch import Batch, PoisonRecord, group_partitions, sort_batch
from chat_worker.dead_letters import DeadLetters
from chat_worker.metrics import WorkerMetrics
from chat_worker.offsets import WrittenOffsets
from chat_worker.settings import WorkerSettings
from chat_worker.store import DATABASE_UNAVAILABLE, MessageStore, WriteOutcome

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class _Polled:
    batches: list[Batch]  # one per partition group, each stored in its own transaction
    generation: int  # of the assignment the records were fetched under


class PersistenceWorker:
    def __init__(
        self,
        consumer: AIOKafkaConsumer,
        store: MessageStore,
        dead_letters: DeadLetters,
        offsets: WrittenOffsets,
        metrics: WorkerMetrics,
        settings: WorkerSettings,
    ) -> None:
        self._consumer = consumer
        self._store = store
        self._dead_letters = dead_letters
        self._offsets = offsets
        self._metrics = metrics
        self._settings = settings

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set, then commit whatever is stored."""
        storing: asyncio.Task[None] | None = None
        try:
            while not stop.is_set():
                polled = await self._poll()
                if storing is not None:
                    await storing
                    storing = None
                if polled is not None and not stop.is_set():
                    storing = asyncio.create_task(self._store_poll(polled, stop))
                await self._observe_lag()
            if storing is not None:
                await storing
        finally:
            if storing is not None and not storing.done():
                # Only on an error: its offsets are not marked, so its records are read again.
                storing.cancel()
                await asyncio.gather(storing, return_exceptions=True)
            await self._offsets.commit()

    async def _poll(self) -> _Polled | None:
        fetched = await self._consumer.getmany(
            timeout_ms=self._settings.batch_max_wait_ms,
            max_records=self._settings.batch_max_records,
        )
        if not fetched:
            return None
        # Taken as the records arrive: a rebalance from now on puts them back in Kafka.
        generation = self._offsets.generation
        groups = group_partitions(
            fetched, self._settings.write_connections, self._settings.write_group_min_records
        )
        return _Polled([sort_batch(group) for group in groups], generation)

    async def _store_poll(self, polled: _Polled, stop: asyncio.Event) -> None:
        started = time.perf_counter()
        async with asyncio.TaskGroup() as storing:
            tasks = [
                storing.create_task(self._store_with_retry(batch, polled.generation, stop))
                for batch in polled.batches
            ]
        # Given up (SIGTERM, or a rebalance that took the partitions away): none of the poll is
        # committed, not even its groups that are stored; their records are read again from the
        # committed offsets and found stored.
        if self._offsets.generation != polled.generation or not all(
            task.result() for task in tasks
        ):
            return
        for batch in polled.batches:
            self._offsets.mark_written(batch.next_offsets)
        self._metrics.batch_size.observe(sum(batch.size for batch in polled.batches))
        self._metrics.batch_seconds.observe(time.perf_counter() - started)
        await self._offsets.commit()

    async def _store_with_retry(self, batch: Batch, generation: int, stop: asyncio.Event) -> bool:
        delays = backoff_delays(
            self._settings.retry_initial_ms / 1000, self._settings.retry_max_ms / 1000
        )
        while True:
            try:
                await self._store_once(batch)
            except KafkaError as exc:
                self._metrics.dlq_retries.inc()
                failure, dependency = exc, "kafka"
            except DATABASE_UNAVAILABLE as exc:
                self._metrics.db_retries.inc()
                failure, dependency = exc, "postgres"
            else:
                return True
            if stop.is_set() or self._offsets.generation != generation:
                log.info(
                    "batch given up unstored; its records will be read again",
                    extra={
                        "records": batch.size,
                        "reason": "stopping" if stop.is_set() else "rebalance",
                    },
                )
                return False
            delay = next(delays)
            log.warning(
                "storing a batch failed; retrying",
                extra={
                    "dependency": dependency,
                    "error": repr(failure)[:300],
                    "retry_in_s": round(delay, 3),
                },
            )
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def _store_once(self, batch: Batch) -> None:
        outcome = await self._store.write(batch.rows)
        refused = [PoisonRecord(batch.sources[index], reason) for index, reason in outcome.refused]
        await self._dead_letters.send(batch.poison + refused)
        self._account(batch, outcome, refused)

    def _account(self, batch: Batch, outcome: WriteOutcome, refused: list[PoisonRecord]) -> None:
        poison = batch.poison + refused
        self._metrics.records_written.inc(outcome.inserted)
        self._metrics.records_duplicate.inc(outcome.duplicates)
        self._metrics.dead_letters.inc(len(poison))
        stored = batch.sources
        if outcome.refused:
            refused_at = {index for index, _ in outcome.refused}
            stored = [source for index, source in enumerate(stored) if index not in refused_at]
        now_ms = time.time() * 1000
        self._metrics.record_age.observe_many(
            [max(0.0, (now_ms - source.timestamp) / 1000) for source in stored]
        )
        self._metrics.uploads_unclaimed.inc(len(outcome.unclaimed))
        for upload in outcome.unclaimed:
            log.warning(
                "an attachment's upload was left as it is",
                extra={
                    "message_id": str(upload.message_id),
                    "upload_id": str(upload.upload_id),
                    "reason": upload.reason,
                },
            )
        for item in poison:
            log.warning(
                "record sent to the dead-letter topic",
                extra={
                    "topic": item.record.topic,
                    "partition": item.record.partition,
                    "offset": item.record.offset,
                    "reason": item.reason,
                },
            )

    async def _observe_lag(self) -> None:
        lags: dict[TopicPartition, int] = {}
        for partition in self._consumer.assignment():
            highwater = self._consumer.highwater(partition)
            if highwater is None:  # nothing fetched yet since the assignment
                continue
            try:
                position = await self._consumer.position(partition)
            except IllegalStateError:  # revoked meanwhile
                continue
            lags[partition] = max(0, highwater - position)
        for partition, lag in lags.items():
            self._metrics.consumer_lag.labels(partition.topic, str(partition.partition)).set(lag)
