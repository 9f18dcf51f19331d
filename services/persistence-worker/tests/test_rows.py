"""decode_row's one-call path agrees with the contract's decoder on every value: the same row
when both accept it, the same reason when the value is poison. Edits, deletes and reactions
become event rows, and every shape the contract refuses is poison with its reason."""

from __future__ import annotations

import uuid

import msgspec
import pytest

from chat_common.envelope import (
    Author,
    Envelope,
    EnvelopeError,
    decode_envelope,
    encode_envelope,
    parse_ts,
)
from chat_worker.rows import EventRow, MessageRow, Row, decode_row, to_row

MESSAGE_ID = "0b6f8f5e-6d1c-4c43-9a53-0c3f8f0c5a11"
TARGET_ID = "5d0c6c4e-6a8e-4f1e-8c52-2b8f8f0c5a22"
REPLY_TO = {"id": TARGET_ID, "user": {"id": "u2", "name": "bob"}, "excerpt": "the question"}
UPLOAD_ID = "3f1c2b9a-7d4e-4a5b-9c6d-1e2f3a4b5c66"
PHOTO = {"id": UPLOAD_ID, "name": "cat.png", "type": "image/png", "size": 2048, "image": True}
PROCESSED = {**PHOTO, "width": 640, "height": 480, "thumbnail": True}


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


def _event(kind: str, **changes: object) -> bytes:
    """An event's value: ``kind`` with its own fields, then ``changes`` (None removes one)."""
    own: dict[str, dict[str, object]] = {
        "edit": {"body": "hello, fixed", "edited_at": "2026-11-25T21:05:00.456Z"},
        "delete": {"body": None},
        "reaction": {"body": None, "emoji": "👍", "on": True},
        "attachment": {"body": None, "attachments": [PROCESSED]},
    }
    return _value(**{"v": 2, "kind": kind, "target": TARGET_ID, **own[kind], **changes})


def _by_the_contract(value: bytes) -> Row | str:
    try:
        return to_row(decode_envelope(value))
    except EnvelopeError as exc:
        return str(exc)


def _by_decode_row(value: bytes) -> Row | str:
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
    _value(reply_to=REPLY_TO),
    _value(reply_to={**REPLY_TO, "excerpt": ""}),
    _value(reply_to={**REPLY_TO, "excerpt": "x" * 201}),
    _value(reply_to={"id": TARGET_ID, "excerpt": "no user"}),
    _value(reply_to=TARGET_ID),
    # A message carrying an event's field, or claiming to be one, is refused.
    _value(kind="message"),
    _value(target=TARGET_ID),
    _value(emoji="👍"),
    _value(on=False),
    _value(edited_at="2026-11-25T21:05:00.456Z"),
    _value(v=2, kind=None),  # an entry of version 2 without a kind: a message must be 1
    # A message with attachments is version 2, with or without a body.
    _value(v=2, attachments=[PHOTO]),
    _value(v=2, attachments=[PHOTO, PROCESSED], body=None),
    _value(v=1, attachments=[PHOTO]),
    _value(v=2, attachments=[PHOTO], mentions=["u2"], reply_to=REPLY_TO),
    _value(v=2, attachments=[]),
    _value(v=2, attachments=None),
    _value(v=2, body=None),
    _value(v=2, attachments=[{**PHOTO, "id": "upload-1"}]),
    _value(v=2, attachments=[{**PHOTO, "name": "a/b.png"}]),
    _value(v=2, attachments=[{**PHOTO, "type": "image/png; q=1"}]),
    _value(v=2, attachments=[{**PHOTO, "size": 0}]),
    _value(v=2, attachments=[PHOTO] * 21),
]
EVENTS = [
    _event("edit"),
    _event("delete"),
    _event("reaction"),
    _event("reaction", on=False, emoji=":tada:"),
    _event("edit", v=1),
    _event("edit", v=3),
    _event("edit", body=None),
    _event("edit", edited_at=None),
    _event("edit", edited_at="2026-02-30T10:00:00.000Z"),
    _event("edit", emoji="👍"),
    _event("edit", body="x" * 4001),
    _event("delete", body="text"),
    _event("delete", on=True),
    _event("reaction", on=None),
    _event("reaction", emoji=None),
    _event("reaction", emoji="x" * 33),
    _event("reaction", on="yes"),
    _event("reaction", body="text"),
    _event("delete", target=None),
    _event("delete", target="m-1"),
    _event("delete", target="x" * 65),
    _event("delete", mentions=["u2"]),
    _event("edit", reply_to=REPLY_TO),
    _value(v=2, kind="pin", target=TARGET_ID, body=None),
    _event("delete", id="m-1"),
    _event("attachment"),
    _event("attachment", attachments=None),
    _event("attachment", body="text"),
    _event("attachment", attachments=[{**PROCESSED, "id": "upload-1"}]),
    _event("attachment", attachments=[{**PROCESSED, "width": 0}]),
    _event("edit", attachments=[PHOTO]),
    _event("reaction", attachments=[PHOTO]),
]


@pytest.mark.parametrize("value", VALUES + EVENTS)
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


def _message_row(value: bytes) -> MessageRow:
    row = decode_row(value)
    assert isinstance(row, MessageRow)
    return row


def test_mentions_become_the_rows_array_and_none_or_an_empty_list_a_null() -> None:
    assert _message_row(_value(mentions=["u2", "u3"])).mentions == ["u2", "u3"]
    assert _message_row(_value()).mentions is None
    assert _message_row(_value(mentions=[])).mentions is None


def test_attachments_become_the_json_array_of_the_protocol_s_objects_and_none_a_null() -> None:
    row = _message_row(_value(v=2, attachments=[PHOTO, {**PROCESSED, "id": TARGET_ID}]))
    assert row.attachments is not None
    assert msgspec.json.decode(row.attachments) == [PHOTO, {**PROCESSED, "id": TARGET_ID}]
    assert row.body == "hello"
    alone = _message_row(_value(v=2, attachments=[PHOTO], body=None))
    assert (alone.body, alone.attachments is not None) == (None, True)
    # What no attachment object holds is not stored.
    extra = _message_row(_value(v=2, attachments=[{**PHOTO, "url": "https://elsewhere"}]))
    assert extra.attachments is not None
    assert msgspec.json.decode(extra.attachments) == [PHOTO]
    assert _message_row(_value()).attachments is None


def test_reply_to_becomes_the_json_object_as_sent_and_none_a_null() -> None:
    row = _message_row(_value(reply_to=REPLY_TO))
    assert row.reply_to is not None
    assert msgspec.json.decode(row.reply_to) == REPLY_TO
    assert _message_row(_value()).reply_to is None


NOON = "2026-11-25T21:00:00.123Z"


@pytest.mark.parametrize(
    ("value", "kind", "body", "emoji", "on", "edited_at"),
    [
        (_event("edit"), "edit", "hello, fixed", None, None, "2026-11-25T21:05:00.456Z"),
        (_event("delete"), "delete", None, None, None, None),
        (_event("reaction"), "reaction", None, "👍", True, None),
        (_event("reaction", on=False), "reaction", None, "👍", False, None),
    ],
)
def test_each_kind_of_event_becomes_an_event_row(
    value: bytes,
    kind: str,
    body: str | None,
    emoji: str | None,
    on: bool | None,
    edited_at: str | None,
) -> None:
    row = decode_row(value)
    assert isinstance(row, EventRow)
    assert (row.id, row.room, row.seq, row.user_id, row.client_msg_id) == (
        uuid.UUID(MESSAGE_ID),
        "lobby",
        7,
        "u1",
        "c-1",
    )
    assert (row.kind, row.target, row.body, row.emoji, row.reaction_on) == (
        kind,
        uuid.UUID(TARGET_ID),
        body,
        emoji,
        on,
    )
    assert row.edited_at == (None if edited_at is None else parse_ts(edited_at))
    assert row.created_at == parse_ts(NOON)
    assert row.attachments is None


def test_an_attachment_update_becomes_an_event_row_with_its_list() -> None:
    row = decode_row(_event("attachment"))
    assert isinstance(row, EventRow)
    assert (row.kind, row.target, row.body, row.emoji, row.reaction_on, row.edited_at) == (
        "attachment",
        uuid.UUID(TARGET_ID),
        None,
        None,
        None,
        None,
    )
    assert row.attachments is not None
    assert msgspec.json.decode(row.attachments) == [PROCESSED]


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (_event("edit", v=1), "invalid envelope: an edit event is version 2"),
        (_event("edit", body=None), "invalid envelope: an edit needs a body and edited_at"),
        (_event("edit", emoji="👍"), "invalid envelope: an edit has no emoji or on"),
        (_event("delete", body="t"), "invalid envelope: a delete has no body, edited_at"),
        (_event("reaction", on=None), "invalid envelope: a reaction needs an emoji and on"),
        (_event("reaction", body="t"), "invalid envelope: a reaction has no body or edited_at"),
        (_event("delete", target=None), "invalid envelope: a delete event needs a target"),
        (_event("delete", mentions=["u2"]), "invalid envelope: an event has no mentions"),
        (_event("delete", target="m-1"), "target is not a UUID: 'm-1'"),
        (_event("edit", edited_at="2026-02-30T10:00:00.000Z"), "edited_at is not a real moment"),
        (_value(target=TARGET_ID), "invalid envelope: a message has no target"),
        (_value(v=2), "invalid envelope: a message is version 1"),
        (
            _value(attachments=[PHOTO]),
            "invalid envelope: a message with attachments is version 2",
        ),
        (_value(v=2, body=None), "invalid envelope: a message needs a body or attachments"),
        (
            _value(v=2, attachments=[{**PHOTO, "id": "upload-1"}]),
            "attachment id is not a UUID: 'upload-1'",
        ),
        (
            _event("attachment", attachments=[{**PROCESSED, "id": "upload-1"}]),
            "attachment id is not a UUID: 'upload-1'",
        ),
        (_event("attachment", attachments=None), "invalid envelope: an attachment event needs"),
        (_event("edit", attachments=[PHOTO]), "invalid envelope: an edit event has no attachm"),
    ],
)
def test_a_bad_shape_is_poison_saying_why(value: bytes, reason: str) -> None:
    with pytest.raises(EnvelopeError) as refused:
        decode_row(value)
    assert str(refused.value).startswith(reason)
