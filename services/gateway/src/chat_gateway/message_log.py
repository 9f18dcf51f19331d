"""Kafka side of the message path: the durable log every acknowledged message is in (G1)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    InvalidProducerEpoch,
    KafkaError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownProducerId,
)

from chat_common.errors import ChatError, ErrorCode

log = logging.getLogger(__name__)

# Errors that say the broker no longer accepts this producer's idempotent session: after a
# broker restart its sequence numbers no longer match what the broker kept (found by the
# "Kafka stopped" fault, docs/reliability.md). aiokafka retries such a producer forever and
# never recovers, so every send would be refused until the gateway restarted; a new producer
# (a new producer id) is the way out.
SESSION_LOST: tuple[type[KafkaError], ...] = (
    OutOfOrderSequenceNumber,
    UnknownProducerId,
    InvalidProducerEpoch,
    ProducerFenced,
)


class MessageLog:
    def __init__(
        self,
        make_producer: Callable[[], AIOKafkaProducer],
        topic: str,
        *,
        limit_s: float,
        renewed: Callable[[], None] = lambda: None,
    ) -> None:
        self._make_producer = make_producer
        self._producer = make_producer()
        self._topic = topic
        self._limit_s = limit_s
        self._renewing = asyncio.Lock()
        self._retired: set[asyncio.Task[None]] = set()
        self._renewed = renewed

    async def start(self) -> None:
        await self._producer.start()

    async def close(self) -> None:
        await self._producer.stop()
        for task in list(self._retired):
            with contextlib.suppress(Exception):
                await task

    async def append(self, room: str, envelope: bytes) -> None:
        """Returns once every in-sync replica has the record (acks=all); keyed by room so one
        room stays in one partition, in order.

        The producer retries a broker it cannot reach for as long as it runs, so the wait is
        bounded here. A record given up on may still reach Kafka when it recovers; the sender
        was told ``unavailable``, and its retry re-sends the very same envelope, so the message
        is stored once either way (the persistence worker ignores a second copy).
        """
        producer = self._producer
        try:
            async with asyncio.timeout(self._limit_s):
                await producer.send_and_wait(self._topic, envelope, key=room.encode())
        except (KafkaError, TimeoutError) as exc:
            if isinstance(exc, SESSION_LOST):
                await self._renew(producer)
            log.warning("kafka produce failed", extra={"room": room, "error": repr(exc)})
            raise ChatError(
                ErrorCode.UNAVAILABLE,
                "message log unavailable; the message was not acknowledged, retry with the "
                "same client_msg_id",
            ) from exc

    async def _renew(self, broken: AIOKafkaProducer) -> None:
        """Replace ``broken`` by a new producer, once however many sends found it broken; the
        sends refused meanwhile are retried by their clients with the same envelope, and the
        worker stores a record written twice once."""
        async with self._renewing:
            if self._producer is not broken:
                return  # another send renewed it already
            fresh = self._make_producer()
            try:
                async with asyncio.timeout(self._limit_s):
                    await fresh.start()
            except (KafkaError, TimeoutError, OSError) as exc:
                with contextlib.suppress(Exception):
                    await fresh.stop()
                log.warning("kafka producer renewal failed", extra={"error": repr(exc)})
                return  # the next send that finds the session lost tries again
            self._producer = fresh
            self._renewed()
            log.warning("kafka producer renewed: the broker lost its idempotent session")
        retiring = asyncio.create_task(broken.stop())
        self._retired.add(retiring)
        retiring.add_done_callback(self._retired.discard)


class PersistenceWatch:
    """Tells when the persistence worker's group has stored everything now in the topic."""

    def __init__(self, bootstrap_servers: str, topic: str, group_id: str) -> None:
        self._bootstrap_servers = bootstrap_servers
        self._topic = topic
        self._group_id = group_id
        # Clients are made on first use: seeding is rare, most gateways never need them.
        self._consumer: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None

    async def _start(self) -> tuple[AIOKafkaConsumer, AIOKafkaAdminClient]:
        if self._consumer is None or self._admin is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap_servers, client_id="chat-gateway-watch"
            )
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap_servers, client_id="chat-gateway-watch"
            )
            await consumer.start()
            try:
                await admin.start()
            except BaseException:
                await consumer.stop()
                raise
            self._consumer, self._admin = consumer, admin
        return self._consumer, self._admin

    async def close(self) -> None:
        if self._consumer is not None and self._admin is not None:
            await self._consumer.stop()
            await self._admin.close()

    async def wait_until_stored(self, limit_s: float) -> None:
        try:
            async with asyncio.timeout(limit_s):
                ends = await self._end_offsets()
                _, admin = await self._start()
                while not await self._stored_up_to(admin, ends):
                    await asyncio.sleep(0.2)
        except TimeoutError as exc:
            raise ChatError(
                ErrorCode.UNAVAILABLE, "message store is catching up; retry shortly"
            ) from exc

    async def _end_offsets(self) -> dict[TopicPartition, int]:
        while True:
            try:
                consumer, _ = await self._start()
                await consumer.topics()
                partitions = [
                    TopicPartition(self._topic, p)
                    for p in consumer.partitions_for_topic(self._topic) or ()
                ]
                ends: dict[TopicPartition, int] = await consumer.end_offsets(partitions)
                return ends
            except KafkaError as exc:
                log.warning("reading end offsets failed; retrying", extra={"error": repr(exc)})
                await asyncio.sleep(0.2)

    async def _stored_up_to(
        self, admin: AIOKafkaAdminClient, ends: dict[TopicPartition, int]
    ) -> bool:
        waiting = {partition: end for partition, end in ends.items() if end > 0}
        if not waiting:
            return True  # nothing was ever written: nothing to wait for
        try:
            committed = await admin.list_consumer_group_offsets(
                self._group_id, partitions=list(waiting)
            )
        except KafkaError as exc:
            log.warning("reading committed offsets failed; retrying", extra={"error": repr(exc)})
            return False
        for partition, end in waiting.items():
            offset = committed.get(partition)
            if offset is None or offset.offset < end:
                return False
        return True
