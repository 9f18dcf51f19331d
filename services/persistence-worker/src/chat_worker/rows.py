"""From an envelope to a row of the ``messages`` table.

The envelope codec (chat_common.envelope) checks the wire contract. This adds what the table
needs beyond it, so that a record Postgres would refuse is caught here with a clear reason.
Postgres itself stays the judge of text content (encodings, NUL): the store sorts out rows it
refuses one by one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import NamedTuple

from chat_common.envelope import Envelope, EnvelopeError, parse_ts

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
    )
