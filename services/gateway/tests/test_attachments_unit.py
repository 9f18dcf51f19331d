"""A message's files in its state: as sent, replaced by the media step's ``attachment``
events, gone with a delete, shown by history, quoted by a reply, and told from events in the
recent window without decoding (targets)."""

from __future__ import annotations

from typing import Any

import msgspec

from chat_common.envelope import EVENT_SCHEMA_VERSION, Attachment, Author, Envelope
from chat_gateway.frames import frame_of
from chat_gateway.targets import MessageState, apply, excerpt_of, is_event, render, state_of

ADA = Author(id="ada", name="Ada")
TS = "2026-11-30T10:00:00.000Z"
PHOTO = Attachment(id="u1", name="photo.jpg", type="image/jpeg", size=2048, image=True)
NOTES = Attachment(id="u2", name="notes.txt", type="text/plain", size=12, image=False)


def _message(body: str | None = "look", *files: Attachment) -> Envelope:
    return Envelope(
        v=EVENT_SCHEMA_VERSION,
        id="m1",
        room="lobby",
        seq=1,
        user=ADA,
        body=body if body is not None else msgspec.UNSET,
        ts=TS,
        client_msg_id="c1",
        attachments=files or (PHOTO, NOTES),
    )


def _event(seq: int, kind: str, **fields: Any) -> Envelope:
    return Envelope(
        v=EVENT_SCHEMA_VERSION,
        id=f"e{seq}",
        room="lobby",
        seq=seq,
        user=ADA,
        ts=TS,
        client_msg_id=f"c{seq}",
        kind=kind,  # type: ignore[arg-type]
        target="m1",
        **fields,
    )


def _processed(seq: int, *files: Attachment) -> Envelope:
    return _event(seq, "attachment", attachments=files)


def _shown(state: MessageState) -> dict[str, Any]:
    shown: dict[str, Any] = msgspec.json.decode(render(state, "ada"))
    return shown


PROCESSED = msgspec.structs.replace(PHOTO, width=800, height=600, thumbnail=True)


def test_an_attachment_event_replaces_the_files_it_names_and_keeps_the_others() -> None:
    state = apply(state_of(_message()), _processed(2, PROCESSED))
    assert state.attachments == (PROCESSED, NOTES)
    assert state.updated_seq == 2
    assert _shown(state)["attachments"][0] == {
        "id": "u1",
        "name": "photo.jpg",
        "type": "image/jpeg",
        "size": 2048,
        "image": True,
        "width": 800,
        "height": 600,
        "thumbnail": True,
    }


def test_an_id_the_message_does_not_carry_adds_nothing_and_a_held_event_applies_once() -> None:
    stranger = Attachment(id="u9", name="x.png", type="image/png", size=1, image=True)
    state = apply(state_of(_message()), _processed(2, stranger))
    assert state.attachments == (PHOTO, NOTES)
    assert apply(state, _processed(2, PROCESSED)).attachments == (PHOTO, NOTES)


def test_a_deleted_message_has_no_files_and_an_attachment_event_after_it_changes_nothing() -> None:
    deleted = apply(state_of(_message()), _event(2, "delete"))
    assert deleted.attachments == ()
    assert apply(deleted, _processed(3, PROCESSED)) == deleted
    assert "attachments" not in _shown(deleted)
    assert _shown(deleted)["v"] == 1


def test_a_message_of_files_alone_has_no_body_and_a_reply_quotes_their_names() -> None:
    state = state_of(_message(None))
    shown = _shown(state)
    assert "body" not in shown
    assert shown["v"] == 2
    assert [file["name"] for file in shown["attachments"]] == ["photo.jpg", "notes.txt"]
    assert excerpt_of(state).excerpt == "photo.jpg, notes.txt"
    assert excerpt_of(state_of(_message("look"))).excerpt == "look"


def test_a_message_with_files_is_told_from_the_events_in_the_window() -> None:
    # Both are version 2; a message with files among the events would leave history's pages.
    assert not is_event(frame_of(_message()))
    assert is_event(frame_of(_processed(2, PROCESSED)))
    assert is_event(frame_of(_event(3, "delete")))
    tricky = msgspec.structs.replace(_message(), body='"kind":"edit"')
    assert not is_event(frame_of(tricky))
