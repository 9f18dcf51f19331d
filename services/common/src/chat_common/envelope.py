"""The message envelope: what the gateway produces to Kafka and the persistence worker stores.

Its fields are the protocol's ``message`` object (docs/protocol.md) plus ``v``, the schema
version, so the envelope can be sent to clients as it is. Readers refuse a version they do not
know rather than guess; new optional fields keep the version, a changed meaning bumps it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

SCHEMA_VERSION = 1
# The most user ids a message may mention. The gateway resolves fewer (a setting); this bounds
# what any producer may put in a record, so a stored row's array stays small.
MAX_MENTIONS = 100

RoomId = Annotated[
    str, msgspec.Meta(pattern=r"^([a-z0-9_-]{1,64}|dm:[a-z0-9_-]{1,64}:[a-z0-9_-]{1,64})$")
]
Seq = Annotated[int, msgspec.Meta(ge=1)]
Body = Annotated[str, msgspec.Meta(min_length=1, max_length=4000)]
ClientMsgId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
UserId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# RFC 3339 UTC with milliseconds, e.g. 2026-11-25T21:00:00.123Z
Timestamp = Annotated[str, msgspec.Meta(pattern=r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")]


Mentions = Annotated[tuple[UserId, ...], msgspec.Meta(max_length=MAX_MENTIONS)]


class Author(msgspec.Struct, frozen=True):
    id: UserId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    v: int = SCHEMA_VERSION
    id: str
    room: RoomId
    seq: Seq
    user: Author
    body: Body
    ts: Timestamp
    client_msg_id: ClientMsgId
    # The room members the body names as ``@username``, resolved when it was sent; absent
    # (UNSET) when it mentions nobody, so such a message is encoded as before and costs nothing.
    mentions: Mentions | msgspec.UnsetType = msgspec.UNSET


class EnvelopeError(ValueError):
    """A record that is not a valid envelope; the message says why (it goes to the DLQ)."""


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Envelope)


def encode_envelope(envelope: Envelope) -> bytes:
    return _encoder.encode(envelope)


def decode_envelope(data: bytes) -> Envelope:
    try:
        envelope = _decoder.decode(data)
    except msgspec.ValidationError as exc:
        raise EnvelopeError(f"invalid envelope: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    if envelope.v != SCHEMA_VERSION:
        raise EnvelopeError(f"unknown envelope version {envelope.v}")
    return envelope


def format_ts(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
