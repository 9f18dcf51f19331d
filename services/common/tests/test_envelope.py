from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from chat_common.envelope import (
    Author,
    Envelope,
    EnvelopeError,
    decode_envelope,
    encode_envelope,
    format_ts,
    parse_ts,
)


def _envelope(**changes: object) -> Envelope:
    envelope = Envelope(
        id="0b6f8f5e-6d1c-4c43-9a53-0c3f8f0c5a11",
        room="lobby",
        seq=7,
        user=Author(id="u1", name="alice"),
        body="hello\nworld",
        ts="2026-11-25T21:00:00.123Z",
        client_msg_id="c-1",
    )
    return msgspec.structs.replace(envelope, **changes)


def test_an_envelope_survives_a_round_trip() -> None:
    envelope = _envelope()
    assert decode_envelope(encode_envelope(envelope)) == envelope


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"\xff\xfe", "not JSON"),
        (b'{"v":1}', "invalid envelope"),
        (encode_envelope(_envelope(v=2)), "version 2"),
        (encode_envelope(_envelope(seq=0)), "seq"),
        (encode_envelope(_envelope(room="Lobby!")), "room"),
        (encode_envelope(_envelope(body="")), "body"),
        (encode_envelope(_envelope(ts="yesterday")), "ts"),
    ],
)
def test_a_bad_record_is_refused_with_its_reason(data: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError, match=reason):
        decode_envelope(data)


def test_direct_message_rooms_are_valid_room_ids() -> None:
    envelope = _envelope(room="dm:u1:u2")
    assert decode_envelope(encode_envelope(envelope)).room == "dm:u1:u2"


def test_timestamps_are_rfc3339_utc_with_milliseconds() -> None:
    moment = datetime(2026, 11, 25, 21, 0, 0, 123456, tzinfo=UTC)
    assert format_ts(moment) == "2026-11-25T21:00:00.123Z"
    assert parse_ts("2026-11-25T21:00:00.123Z") == moment.replace(microsecond=123000)


def test_an_additive_field_from_a_newer_writer_is_ignored_not_refused() -> None:
    # New optional fields keep the schema version; a reader that does not know them still
    # decodes the record (the persistence worker must not dead-letter it).
    record = encode_envelope(_envelope())[:-1] + b',"edited_at":"2026-11-25T21:01:00.000Z"}'
    assert decode_envelope(record) == _envelope()
