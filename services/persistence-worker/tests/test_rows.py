"""decode_row's one-call path agrees with the contract's decoder on every value: the same row
when both accept it, the same reason when the value is poison."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from chat_common.envelope import Author, Envelope, EnvelopeError, decode_envelope, encode_envelope
from chat_worker.rows import MessageRow, decode_row, to_row

MESSAGE_ID = "0b6f8f5e-6d1c-4c43-9a53-0c3f8f0c5a11"


def _value(**changes: object) -> bytes:
    fields: dict[str, object] = {
        "v": 1,
        "id": MESSAGE_ID,
        "room": "lobby",
        "seq": 7,
        "user": {"id": "u1", "name": "alice"},
        "body": "hello",
        "ts": "2026-11-25T21:00:00.123Z",
        "client_msg_id": "c-1",
    }
    fields.update(changes)
    return msgspec.json.encode({key: value for key, value in fields.items() if value is not None})


def _by_the_contract(value: bytes) -> MessageRow | str:
    try:
        return to_row(decode_envelope(value))
    except EnvelopeError as exc:
        return str(exc)


def _by_decode_row(value: bytes) -> MessageRow | str:
    try:
        return decode_row(value)
    except EnvelopeError as exc:
        return str(exc)


VALUES = [
    _value(),
    _value(id=MESSAGE_ID.upper()),
    _value(id=MESSAGE_ID.replace("-", "")),
    _value(id="{" + MESSAGE_ID + "}"),  # uuid.UUID accepts braces, msgspec does not
    _value(id="urn:uuid:" + MESSAGE_ID),
    _value(id="m-1"),
    _value(seq=2**63 - 1),
    _value(seq=2**63),
    _value(seq=0),
    _value(seq=7.5),
    _value(ts="2024-02-29T10:00:00.000Z"),
    _value(ts="2026-02-29T10:00:00.000Z"),
    _value(ts="2026-11-25T24:00:00.000Z"),
    _value(ts="2026-11-25T23:59:60.000Z"),
    _value(ts="2026-11-25T21:00:00Z"),
    _value(ts="2026-11-25T21:00:00.123+00:00"),
    _value(ts="2026-11-25T21:00:00.123Z\n"),
    _value(ts="٢٠٢٦-11-25T21:00:00.123Z"),  # digits that are not ASCII
    _value(v=2),
    _value(v=None),
    _value(room="Lobby"),
    _value(body=""),
    _value(body="x" * 4001),
    _value(user={"id": "u1"}),
    _value(client_msg_id=None),
    _value(extra="ignored, as the contract's decoder ignores it"),
    _value(mentions=["u2", "u3"]),
    _value(mentions=[]),
    _value(mentions=["u" * 65]),
    _value(mentions=["u2"] * 101),
    _value(mentions="u2"),
    _value(mentions=[7]),
    b'{"v":1,"id":"0b6f8f5e-6d1c-4c43-9a53-0c3f8f0c5a11","room":"lobby","seq":7,'
    b'"user":{"id":"u1","name":"alice"},"body":"hello","ts":"2026-11-25T21:00:00.123Z",'
    b'"client_msg_id":"c-1","mentions":null}',
    b"[1, 2]",
    b"\xff\x00 not JSON",
    b"",
]


@pytest.mark.parametrize("value", VALUES)
def test_decode_row_agrees_with_the_contract(value: bytes) -> None:
    assert _by_decode_row(value) == _by_the_contract(value)


def test_a_valid_envelope_becomes_its_row_with_the_column_types() -> None:
    envelope = Envelope(
        id=str(uuid.uuid4()),
        room="dm:alice:bob",
        seq=3,
        user=Author(id="u1", name="alice"),
        body="héllo\nwörld ✓",
        ts="2026-11-25T21:00:00.123Z",
        client_msg_id="c-3",
    )
    row = decode_row(encode_envelope(envelope))
    assert row == to_row(envelope)
    assert isinstance(row.id, uuid.UUID)
    assert row.created_at.utcoffset() is not None


def test_mentions_become_the_rows_array_and_none_or_an_empty_list_a_null() -> None:
    assert decode_row(_value(mentions=["u2", "u3"])).mentions == ["u2", "u3"]
    assert decode_row(_value()).mentions is None
    assert decode_row(_value(mentions=[])).mentions is None
