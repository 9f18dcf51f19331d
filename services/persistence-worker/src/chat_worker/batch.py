"""One poll's worth of records: grouped by partition into transactions, and sorted into
storable rows and poison records."""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka import TopicPartition

from chat_common.envelope import EnvelopeError
from chat_worker.rows import Row, decode_row


class KafkaRecord(Protocol):
    """The parts of aiokafka's ConsumerRecord the worker reads."""

    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...
    @property
    def timestamp(self) -> int: ...
    @property
    def key(self) -> bytes | None: ...
    @property
    def value(self) -> bytes | None: ...
    @property
    def headers(self) -> Sequence[tuple[str, bytes]]: ...


@dataclass(frozen=True, slots=True)
class PoisonRecord:
    """A record that can never be stored, and why; it goes to the dead-letter topic."""

    record: KafkaRecord
    reason: str


@dataclass(frozen=True, slots=True)
class Batch:
    rows: list[Row]  # messages and events, in log order
    sources: list[KafkaRecord]  # the record each row came from, index for index
    poison: list[PoisonRecord]
    # Per partition, the offset to commit once this batch is stored: last offset + 1.
    next_offsets: dict[TopicPartition, int]

    @property
    def size(self) -> int:
        return len(self.rows) + len(self.poison)


Fetched = Mapping[TopicPartition, Sequence[KafkaRecord]]


def group_partitions(fetched: Fetched, groups: int, min_records: int) -> list[Fetched]:
    """Whole partitions into at most ``groups`` groups of about equal record counts, with no
    more groups than ``min_records`` fit in the poll.

    Each group is stored in a transaction of its own. A partition is never split: its
    records (and so each room's, one room being one partition) stay in one transaction, in
    order, and its offset can be committed once that transaction has committed.
    """
    by_size = sorted(
        ((partition, records) for partition, records in fetched.items() if records),
        key=lambda item: len(item[1]),
        reverse=True,
    )
    total = sum(len(records) for _, records in by_size)
    count = max(1, min(groups, len(by_size), total // min_records))
    # Largest first, each to the group with the fewest records so far.
    filled: list[tuple[int, int, dict[TopicPartition, Sequence[KafkaRecord]]]] = [
        (0, index, {}) for index in range(count)
    ]
    for partition, records in by_size:
        size, index, group = heapq.heappop(filled)
        group[partition] = records
        heapq.heappush(filled, (size + len(records), index, group))
    return [group for _, _, group in sorted(filled, key=lambda item: item[1]) if group]


def sort_batch(fetched: Fetched) -> Batch:
    rows: list[Row] = []
    sources: list[KafkaRecord] = []
    poison: list[PoisonRecord] = []
    next_offsets: dict[TopicPartition, int] = {}
    for partition, records in fetched.items():
        if not records:
            continue
        for record in records:
            try:
                row = _decode(record)
            except EnvelopeError as exc:
                poison.append(PoisonRecord(record, str(exc)))
            else:
                rows.append(row)
                sources.append(record)
        next_offsets[partition] = records[-1].offset + 1
    return Batch(rows, sources, poison, next_offsets)


def _decode(record: KafkaRecord) -> Row:
    if record.value is None:
        raise EnvelopeError("record has no value")
    return decode_row(record.value)
