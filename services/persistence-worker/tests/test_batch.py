from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest
from aiokafka import TopicPartition
from aiokafka.structs import ConsumerRecord

from chat_common.envelope import Author, Envelope, encode_envelope
from chat_worker.batch import sort_batch
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
        (encode_envelope(_envelope(v=3)), "version 3"),
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
