"""The dead-letter topic: where records that can never be stored go, so the stream goes on.

A dead letter keeps the original key, value and headers, and adds why it was set aside and
where it came from, so it can be inspected and replayed. Like the main topic it is
at-least-once: after a crash the same poison record may be sent again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from aiokafka import AIOKafkaProducer

from chat_worker.batch import PoisonRecord

REASON = "dlq.reason"
SOURCE_TOPIC = "dlq.source.topic"
SOURCE_PARTITION = "dlq.source.partition"
SOURCE_OFFSET = "dlq.source.offset"

# A reason quotes the decoder or Postgres; bounded so a header never dwarfs the record.
_MAX_REASON_CHARS = 1000


class DeadLetters:
    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def send(self, poison: Sequence[PoisonRecord]) -> None:
        """Return once every dead letter is acknowledged (acks=all); raise if any is not."""
        if not poison:
            return
        deliveries = [
            await self._producer.send(
                self._topic, value=item.record.value, key=item.record.key, headers=headers(item)
            )
            for item in poison
        ]
        await asyncio.gather(*deliveries)


def headers(item: PoisonRecord) -> list[tuple[str, bytes]]:
    source = item.record
    return [
        *source.headers,
        (REASON, item.reason[:_MAX_REASON_CHARS].encode(errors="replace")),
        (SOURCE_TOPIC, source.topic.encode()),
        (SOURCE_PARTITION, str(source.partition).encode()),
        (SOURCE_OFFSET, str(source.offset).encode()),
    ]
