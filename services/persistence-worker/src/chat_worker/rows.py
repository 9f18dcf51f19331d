"""From a record's value to a row of the ``messages`` table.

The envelope codec (chat_common.envelope) checks the wire contract. This adds what the table
needs beyond it, so that a record Postgres would refuse is caught here with a clear reason.
Postgres itself stays the judge of text content (encodings, NUL): the store sorts out rows it
refuses one by one.

Every message takes the fast path: one msgspec call decodes the value with the contract's
constraints and the table's (``_StoredEnvelope``), then the id and the timestamp are parsed in
C. A value that path refuses, every edit, delete, reaction and attachment update, and every
message with attachments (a few in a hundred entries of a log), take the contract's decoder and
``to_row``, which say why a record is poison; a value both accept becomes the same row.

A message becomes a ``MessageRow``; an event an ``EventRow``, a row of the same table with the
columns that say what it changes (the store applies it to its target, room_events.py).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, NamedTuple, TypeVar

import msgspec
from asyncpg.pgproto.pgproto import UUID as FastUUID

from chat_common.envelope import (
    SCHEMA_VERSION,
    Attachments,
    Author,
    Body,
    ClientMsgId,
    Envelope,
    EnvelopeError,
    Mentions,
    ReplyTo,
    RoomId,
    Timestamp,
    decode_envelope,
    parse_ts,
)

T = TypeVar("T")

# seq is a bigint column.
MAX_SEQ = 2**63 - 1


class MessageRow(NamedTuple):
    """Column order of the COPY into the staging table (store.COLUMNS)."""

    id: uuid.UUID
    room: str
    seq: int
    user_id: str
    user_name: str
    body: str | None  # None only in a message of attachments alone
    client_msg_id: str
    created_at: datetime
    mentions: list[str] | None = None  # NULL when the message mentions nobody
    reply_to: str | None = None  # the envelope's reply_to as JSON text (jsonb); NULL: none
    # The envelope's attachment objects as a JSON array (jsonb); NULL: none.
    attachments: str | None = None


class EventRow(NamedTuple):
    """An edit, delete, reaction or attachment update: column order of its COPY
    (store.EVENT_COLUMNS)."""

    id: uuid.UUID
    room: str
    seq: int
    user_id: str  # who acted
    user_name: str
    body: str | None  # an edit's new text; NULL in deletes and reactions
    client_msg_id: str
    created_at: datetime
    kind: str  # edit, delete, reaction or attachment
    target: uuid.UUID  # the message it changes
    emoji: str | None  # a reaction's
    reaction_on: bool | None  # a reaction's: added (true) or taken back (false)
    edited_at: datetime | None  # an edit's
    attachments: str | None  # an attachment update's: the changed attachments, a JSON array


Row = MessageRow | EventRow


class _StoredEnvelope(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The envelope's fields with Envelope's constraints, and seq a bigint. ``ts`` keeps the
    contract's exact pattern (msgspec's own datetime would accept more forms than the contract
    does); ``id`` is parsed after decoding (msgspec's uuid.UUID costs more than the rest of
    the envelope)."""

    v: int = SCHEMA_VERSION
    id: str
    room: RoomId
    seq: Annotated[int, msgspec.Meta(ge=1, le=MAX_SEQ)]
    user: Author
    body: Body
    ts: Timestamp
    client_msg_id: ClientMsgId
    mentions: Mentions | msgspec.UnsetType = msgspec.UNSET
    reply_to: ReplyTo | msgspec.UnsetType = msgspec.UNSET
    # Absent in every message of version 1: an event, or a message carrying one of them (which
    # the contract refuses), or a message with attachments (version 2, and refused by the
    # contract at version 1), fails this decoder and goes the contract's way, at no cost to
    # plain messages.
    kind: msgspec.UnsetType = msgspec.UNSET
    target: msgspec.UnsetType = msgspec.UNSET
    edited_at: msgspec.UnsetType = msgspec.UNSET
    emoji: msgspec.UnsetType = msgspec.UNSET
    on: msgspec.UnsetType = msgspec.UNSET
    attachments: msgspec.UnsetType = msgspec.UNSET


_decoder = msgspec.json.Decoder(_StoredEnvelope)


_json = msgspec.json.Encoder()


def decode_row(value: bytes) -> Row:
    """The row of a record's value; EnvelopeError saying why when it can never be one."""
    try:
        stored = _decoder.decode(value)
        # asyncpg's own UUID, a uuid.UUID parsed in C that COPY writes without converting. It
        # takes hex digits and hyphens only; braces and urn: forms go the contract's way below.
        message_id = FastUUID(stored.id)
        # The pattern fixes the form, so this reads it exactly as parse_ts does, in C.
        created_at = datetime.fromisoformat(stored.ts)
    except ValueError:  # msgspec's errors are ValueErrors too
        return to_row(decode_envelope(value))
    if stored.v != SCHEMA_VERSION:
        return to_row(decode_envelope(value))
    user = stored.user
    reply_to = stored.reply_to
    # _make: the NamedTuple's own constructor spends more time on keywords than this on all.
    return MessageRow._make(
        (
            message_id,
            stored.room,
            stored.seq,
            user.id,
            user.name,
            stored.body,
            stored.client_msg_id,
            created_at,
            list(stored.mentions) if stored.mentions else None,
            None if reply_to is msgspec.UNSET else _json.encode(reply_to).decode(),
            None,  # attachments: a message with some is version 2, never on this path
        )
    )


def to_row(envelope: Envelope) -> Row:
    message_id = _uuid("id", envelope.id)
    if envelope.seq > MAX_SEQ:
        raise EnvelopeError(f"seq {envelope.seq} is above the bigint range")
    created_at = _moment("ts", envelope.ts)
    if not envelope.is_message:
        return _event_row(envelope, message_id, created_at)
    return MessageRow(
        id=message_id,
        room=envelope.room,
        seq=envelope.seq,
        user_id=envelope.user.id,
        user_name=envelope.user.name,
        body=_or_none(envelope.body),
        client_msg_id=envelope.client_msg_id,
        created_at=created_at,
        mentions=list(envelope.mentions) if envelope.mentions else None,
        reply_to=(
            None if envelope.reply_to is msgspec.UNSET else _json.encode(envelope.reply_to).decode()
        ),
        attachments=_attachments(envelope.attachments),
    )


def _event_row(envelope: Envelope, event_id: uuid.UUID, created_at: datetime) -> EventRow:
    # The envelope's shape rules hold already: each kind has exactly its own fields.
    edited_at = _or_none(envelope.edited_at)
    return EventRow(
        id=event_id,
        room=envelope.room,
        seq=envelope.seq,
        user_id=envelope.user.id,
        user_name=envelope.user.name,
        body=_or_none(envelope.body),
        client_msg_id=envelope.client_msg_id,
        created_at=created_at,
        kind=str(envelope.kind),
        target=_uuid("target", str(envelope.target)),
        emoji=_or_none(envelope.emoji),
        reaction_on=_or_none(envelope.on),
        edited_at=None if edited_at is None else _moment("edited_at", edited_at),
        attachments=_attachments(envelope.attachments),
    )


def _attachments(attachments: Attachments | msgspec.UnsetType) -> str | None:
    """The attachment objects as the protocol spells them, as JSON; None when there are none.

    An attachment's id names its upload (``uploads.id``, a uuid): one that is not a UUID could
    never be fetched nor tied to its upload, so the record is poison, like a target that is not
    one."""
    if attachments is msgspec.UNSET:
        return None
    for attachment in attachments:
        _uuid("attachment id", attachment.id)
    return _json.encode(attachments).decode()


def _or_none(value: T | msgspec.UnsetType) -> T | None:
    return None if isinstance(value, msgspec.UnsetType) else value


def _uuid(field: str, value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise EnvelopeError(f"{field} is not a UUID: {value[:64]!r}") from None


def _moment(field: str, value: str) -> datetime:
    try:
        return parse_ts(value)
    except ValueError:
        raise EnvelopeError(f"{field} is not a real moment: {value!r}") from None
