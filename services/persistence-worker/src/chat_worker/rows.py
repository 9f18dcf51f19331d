"""From a record's value to a row of the ``messages`` table.

The envelope codec (chat_common.envelope) checks the wire contract. This adds what the table
needs beyond it, so that a record Postgres would refuse is caught here with a clear reason.
Postgres itself stays the judge of text content (encodings, NUL): the store sorts out rows it
refuses one by one.

Every record takes the fast path: one msgspec call decodes the value with the contract's
constraints and the table's (``_StoredEnvelope``), then the id and the timestamp are parsed in
C. Only a value that path refuses takes the contract's decoder and ``to_row``, which accept
exactly what they accepted before and say why a record is poison; a value both accept becomes
the same row.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, NamedTuple

import msgspec
from asyncpg.pgproto.pgproto import UUID as FastUUID

from chat_common.envelope import (
    SCHEMA_VERSION,
    Author,
    Body,
    ClientMsgId,
    Envelope,
    EnvelopeError,
    Mentions,
    RoomId,
    Timestamp,
    decode_envelope,
    parse_ts,
)

# seq is a bigint column.
MAX_SEQ = 2**63 - 1


class MessageRow(NamedTuple):
    """Column order of the COPY into the staging table (store.COLUMNS)."""

    id: uuid.UUID
    room: str
    seq: int
    user_id: str
    user_name: str
    body: str
    client_msg_id: str
    created_at: datetime
    mentions: list[str] | None = None  # NULL when the message mentions nobody


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


_decoder = msgspec.json.Decoder(_StoredEnvelope)


def decode_row(value: bytes) -> MessageRow:
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
        )
    )


def to_row(envelope: Envelope) -> MessageRow:
    try:
        message_id = uuid.UUID(envelope.id)
    except ValueError:
        raise EnvelopeError(f"id is not a UUID: {envelope.id[:64]!r}") from None
    if envelope.seq > MAX_SEQ:
        raise EnvelopeError(f"seq {envelope.seq} is above the bigint range")
    try:
        created_at = parse_ts(envelope.ts)
    except ValueError:
        raise EnvelopeError(f"ts is not a real moment: {envelope.ts!r}") from None
    return MessageRow(
        id=message_id,
        room=envelope.room,
        seq=envelope.seq,
        user_id=envelope.user.id,
        user_name=envelope.user.name,
        body=envelope.body,
        client_msg_id=envelope.client_msg_id,
        created_at=created_at,
        mentions=list(envelope.mentions) if envelope.mentions else None,
    )
