from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from chat_common.envelope import Author, Envelope, encode_envelope
from chat_worker.batch import group_partitions, sort_batch
from chat_worker.rows import MessageRow

TOPIC = "chat.messages"
MESSAGE_ID = "0b6f8f5e-6d1c-4c43-9a53-0c3f8f0c5a11"


def _envelope(**changes: object) -> Envelope:
    envelope = Envelope(
        id=MESSAGE_ID,
        room="lobby",
        seq=7,
        user=Author(id="u1", name="alice"),
        body="hello",
        ts="2026-11-25T21:00:00.123Z",
        client_msg_id="c-1",
    )
    return msgspec.structs.replace(envelope, **changes)


def _record(partition: int, offset: int, value: bytes | None) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord(
        topic=TOPIC,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=b"lobby",
        value=value,
        checksum=None,
        serialized_key_size=5,
        serialized_value_size=len(value or b""),
        headers=[],
    )


def test_an_envelope_becomes_its_row() -> None:
    batch = sort_batch({TopicPartition(TOPIC, 0): [_record(0, 4, encode_envelope(_envelope()))]})
    assert batch.rows == [
        MessageRow(
            id=uuid.UUID(MESSAGE_ID),
            room="lobby",
            seq=7,
            user_id="u1",
            user_name="alice",
            body="hello",
            client_msg_id="c-1",
            created_at=datetime(2026, 11, 25, 21, 0, 0, 123000, tzinfo=UTC),
        )
    ]
    assert batch.poison == []


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "no value"),
        (b"{", "not JSON"),
        (msgspec.json.encode({**msgspec.to_builtins(_envelope()), "v": 3}), "version 3"),
        (encode_envelope(_envelope(id="m-1")), "not a UUID"),
        (encode_envelope(_envelope(seq=2**63)), "bigint"),
        (encode_envelope(_envelope(ts="2026-02-30T10:00:00.000Z")), "not a real moment"),
    ],
)
def test_a_record_that_cannot_be_a_row_is_poison_with_its_reason(
    value: bytes | None, reason: str
) -> None:
    record = _record(0, 4, value)
    batch = sort_batch({TopicPartition(TOPIC, 0): [record]})
    assert batch.rows == []
    [poison] = batch.poison
    assert poison.record is record
    assert reason in poison.reason


def test_offsets_to_commit_cover_every_record_poison_included() -> None:
    good = encode_envelope(_envelope())
    batch = sort_batch(
        {
            TopicPartition(TOPIC, 0): [_record(0, 10, good), _record(0, 11, b"junk")],
            TopicPartition(TOPIC, 3): [_record(3, 5, good)],
            TopicPartition(TOPIC, 4): [],
        }
    )
    assert batch.next_offsets == {TopicPartition(TOPIC, 0): 12, TopicPartition(TOPIC, 3): 6}
    assert [source.offset for source in batch.sources] == [10, 5]
    assert batch.size == 3


def _partitions(*sizes: int) -> dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]:
    value = encode_envelope(_envelope())
    return {
        TopicPartition(TOPIC, partition): [
            _record(partition, offset, value) for offset in range(size)
        ]
        for partition, size in enumerate(sizes)
    }


def test_partitions_are_grouped_whole_with_their_records_in_order() -> None:
    fetched = _partitions(7, 3, 5, 1, 4, 2)
    groups = group_partitions(fetched, 3, min_records=1)

    assert len(groups) == 3
    seen = [partition for group in groups for partition in group]
    assert sorted(seen) == sorted(fetched)  # each partition in exactly one group
    for group in groups:
        for partition, records in group.items():
            assert list(records) == fetched[partition]


def test_groups_get_about_equal_record_counts() -> None:
    groups = group_partitions(_partitions(7, 3, 5, 1, 4, 2), 2, min_records=1)
    # 22 records: largest first, each to the lighter group gives 11 and 11.
    assert sorted(sum(len(records) for records in group.values()) for group in groups) == [11, 11]


def test_no_more_groups_than_partitions_with_records() -> None:
    fetched = _partitions(4, 0, 2)
    groups = group_partitions(fetched, 8, min_records=1)
    assert [sorted(tp.partition for tp in group) for group in groups] == [[0], [2]]


def test_one_group_holds_the_whole_poll() -> None:
    fetched = _partitions(3, 1, 2)
    [group] = group_partitions(fetched, 1, min_records=1)
    assert dict(group) == fetched


def test_a_small_poll_is_not_split_below_the_minimum_per_group() -> None:
    fetched = _partitions(5, 4, 3, 2)  # 14 records
    assert len(group_partitions(fetched, 4, min_records=7)) == 2
    assert len(group_partitions(fetched, 4, min_records=5)) == 2
    assert len(group_partitions(fetched, 4, min_records=4)) == 3
    [whole] = group_partitions(fetched, 4, min_records=100)
    assert dict(whole) == fetched


def test_an_empty_poll_has_no_groups() -> None:
    assert group_partitions(_partitions(0, 0), 2, min_records=1) == []
