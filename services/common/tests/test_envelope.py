from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import msgspec
import pytest

from chat_common.envelope import (
    EVENT_SCHEMA_VERSION,
    Attachment,
    Author,
    Envelope,
    EnvelopeError,
    ReplyTo,
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
        (encode_envelope(_envelope()).replace(b'"v":1', b'"v":3'), "version 3"),
        # A version-1 reader's worst mistake would be to store an edit as a new message.
        (encode_envelope(_envelope()).replace(b'"v":1', b'"v":2'), "a message is version 1"),
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
    record = encode_envelope(_envelope())[:-1] + b',"pinned_at":"2026-11-25T21:01:00.000Z"}'
    assert decode_envelope(record) == _envelope()


def _event(**fields: object) -> Envelope:
    base: dict[str, object] = {
        "v": EVENT_SCHEMA_VERSION,
        "id": "5d1e0c52-3f43-4d0e-8d0a-7a0b0f1c2d3e",
        "room": "lobby",
        "seq": 9,
        "user": Author(id="u1", name="alice"),
        "ts": "2026-11-25T21:01:00.000Z",
        "client_msg_id": "c-2",
        "target": "0b6f8f5e-6d1c-4c43-9a53-0c3f8f0c5a11",
    }
    return Envelope(**(base | fields))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "event",
    [
        _event(kind="edit", body="hello again", edited_at="2026-11-25T21:01:00.000Z"),
        _event(kind="delete"),
        _event(kind="reaction", emoji="👍", on=True),
        _event(kind="reaction", emoji=":tada:", on=False),
    ],
)
def test_events_survive_a_round_trip_as_version_2(event: Envelope) -> None:
    encoded = encode_envelope(event)
    assert encoded.startswith(b'{"v":2,')
    assert decode_envelope(encoded) == event
    assert not event.is_message


def test_a_message_without_kind_is_encoded_as_version_1_did() -> None:
    reply = ReplyTo(id="0b6f8f5e", user=Author(id="u2", name="bob"), excerpt="hi")
    message = _envelope(reply_to=reply)
    encoded = encode_envelope(message)
    assert b'"kind"' not in encoded
    assert b'"v":1' in encoded
    assert decode_envelope(encoded) == message
    assert message.is_message


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"kind": "edit", "edited_at": "2026-11-25T21:01:00.000Z"}, "an edit needs a body"),
        ({"kind": "edit", "body": "x"}, "an edit needs a body and edited_at"),
        ({"kind": "delete", "body": "x"}, "a delete has no body"),
        ({"kind": "reaction", "emoji": "👍"}, "a reaction needs an emoji and on"),
        ({"kind": "reaction", "on": True}, "a reaction needs an emoji and on"),
        ({"kind": "reaction", "emoji": "👍", "on": True, "body": "x"}, "a reaction has no body"),
        ({"kind": "delete", "target": msgspec.UNSET}, "needs a target"),
        ({"kind": "delete", "v": 1}, "version 2"),
        ({"kind": "delete", "mentions": ("u2",)}, "no mentions"),
    ],
)
def test_an_event_of_the_wrong_shape_is_refused_with_its_reason(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        _event(**fields)


def test_a_record_of_the_wrong_shape_goes_to_the_dead_letters_with_its_reason() -> None:
    record = encode_envelope(_event(kind="reaction", emoji="👍", on=True))
    with pytest.raises(EnvelopeError, match="a reaction needs an emoji and on"):
        decode_envelope(record.replace(b',"on":true', b""))
    with pytest.raises(EnvelopeError, match="a message needs a body"):
        decode_envelope(encode_envelope(_envelope()).replace(b'"body":"hello\\nworld",', b""))


def _photo(**changes: object) -> Attachment:
    photo = Attachment(
        id="7a4f3c7e-2b1d-4e0a-9c55-3d2e1f0a9b8c",
        name="beach.jpg",
        type="image/jpeg",
        size=123_456,
        image=True,
    )
    return msgspec.structs.replace(photo, **changes)


def test_a_message_with_attachments_is_version_2_and_may_have_no_body() -> None:
    message = _envelope(v=EVENT_SCHEMA_VERSION, body=msgspec.UNSET, attachments=(_photo(),))
    encoded = encode_envelope(message)
    assert encoded.startswith(b'{"v":2,')
    assert decode_envelope(encoded) == message
    assert message.is_message


def test_an_attachment_event_carries_the_processed_attachments() -> None:
    processed = _photo(width=4032, height=3024, thumbnail=True)
    event = _event(kind="attachment", attachments=(processed,))
    assert decode_envelope(encode_envelope(event)) == event


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: _envelope(attachments=(_photo(),)), "a message with attachments is version 2"),
        (lambda: _envelope(body=msgspec.UNSET), "a message needs a body or attachments"),
        (lambda: _event(kind="attachment"), "an attachment event needs attachments"),
        (
            lambda: _event(kind="attachment", attachments=(_photo(),), body="x"),
            "an attachment event has no body",
        ),
        (
            lambda: _event(kind="delete", attachments=(_photo(),)),
            "a delete event has no attachments",
        ),
    ],
)
def test_attachments_of_the_wrong_shape_are_refused(
    make: Callable[[], object], reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        make()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "../etc/passwd"}, "name"),
        ({"name": "a\\b.txt"}, "name"),
        ({"name": "line\nbreak.txt"}, "name"),
        ({"name": ""}, "name"),
        ({"name": "x" * 256}, "name"),
        ({"type": "image/jpeg; charset=x"}, "type"),
        ({"type": "Image/JPEG"}, "type"),
        ({"type": "jpeg"}, "type"),
        ({"size": 0}, "size"),
        ({"width": 0}, "width"),
    ],
)
def test_an_attachment_record_with_a_bad_field_goes_to_the_dead_letters(
    changes: dict[str, object], field: str
) -> None:
    # The struct does not check its own fields; a record carrying them is refused on decoding.
    message = _envelope(
        v=EVENT_SCHEMA_VERSION, attachments=(msgspec.structs.replace(_photo(), **changes),)
    )
    with pytest.raises(EnvelopeError, match=f"attachments\\[0\\].{field}"):
        decode_envelope(encode_envelope(message))
