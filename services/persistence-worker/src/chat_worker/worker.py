"""The consumer loop: poll a batch, store it in one transaction, then commit its offsets.

Nothing is committed for a batch until its rows are in Postgres and its poison records are in
the dead-letter topic. While Postgres is down the same batch is retried with backoff, so the
stream stalls rather than skips; it is given up only on SIGTERM or when a rebalance takes the
partitions away, and in both cases its records are read again from the committed offsets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import IllegalStateError, KafkaError

from chat_worker.backoff import backoff_delays
from chat_worker.batch import Batch, PoisonRecord, sort_batch
from chat_worker.dead_letters import DeadLetters
from chat_worker.metrics import WorkerMetrics
from chat_worker.offsets import WrittenOffsets
from chat_worker.settings import WorkerSettings
from chat_worker.store import DATABASE_UNAVAILABLE, MessageStore, WriteOutcome

log = logging.getLogger(__name__)


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
        try:
            while not stop.is_set():
                fetched = await self._consumer.getmany(
                    timeout_ms=self._settings.batch_max_wait_ms,
                    max_records=self._settings.batch_max_records,
                )
                if fetched:
                    await self._handle(sort_batch(fetched), stop)
                await self._observe_lag()
        finally:
            await self._offsets.commit()

    async def _handle(self, batch: Batch, stop: asyncio.Event) -> None:
        generation = self._offsets.generation
        stored = await self._store_with_retry(batch, generation, stop)
        # After a rebalance these offsets belong to an assignment that is gone: the records are
        # read again from the committed offsets (and found stored), so they are not committed.
        if stored and self._offsets.generation == generation:
            self._offsets.mark_written(batch.next_offsets)
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
        started = time.perf_counter()
        outcome = await self._store.write(batch.rows)
        refused = [PoisonRecord(batch.sources[index], reason) for index, reason in outcome.refused]
        await self._dead_letters.send(batch.poison + refused)
        self._account(batch, outcome, refused, time.perf_counter() - started)

    def _account(
        self, batch: Batch, outcome: WriteOutcome, refused: list[PoisonRecord], elapsed: float
    ) -> None:
        poison = batch.poison + refused
        self._metrics.batch_seconds.observe(elapsed)
        self._metrics.batch_size.observe(batch.size)
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
