"""The message envelope: what the gateway produces to Kafka and the persistence worker stores.

Its fields are the protocol's ``message`` object (docs/protocol.md) plus ``v``, the schema
version, so the envelope can be sent to clients as it is. Readers refuse a version they do not
know rather than guess; new optional fields keep the version, a changed meaning bumps it.

Everything that changes a room travels as an envelope with its own seq: a message (``kind``
absent, version 1, encoded exactly as before) or an edit, a delete, a reaction or an attachment
update (``kind`` set, version 2). The events are version 2 because their ``body`` means something
else, or is absent: a reader that knows only version 1 refuses them (the worker's dead-letter
topic keeps them) instead of storing an edit as a new message. A message that carries
attachments is version 2 as well, for the same reason: a version-1 reader would store it without
them, or refuse it for having no body, where it should keep it aside until it is upgraded. How a
receiver applies them is "Applying room events" in docs/protocol.md.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

SCHEMA_VERSION = 1
# The version of the envelopes of edits, deletes and reactions (``kind`` set).
EVENT_SCHEMA_VERSION = 2
KNOWN_VERSIONS = (SCHEMA_VERSION, EVENT_SCHEMA_VERSION)
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
MessageId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# One grapheme (checked by the gateway, which knows graphemes) or a ``:short_name:``; the bytes
# bound what any producer may store.
Emoji = Annotated[str, msgspec.Meta(min_length=1, max_length=32)]
# What a reply shows of the message it answers: its start, cut at this many characters.
MAX_EXCERPT_CHARS = 200
Excerpt = Annotated[str, msgspec.Meta(max_length=MAX_EXCERPT_CHARS)]
# ``message`` is written as an absent kind: a message is encoded exactly as version 1 did.
EventKind = Literal["edit", "delete", "reaction", "attachment"]
# The most attachments any producer may put on one message; the gateway allows fewer (a
# setting). It bounds what a stored row's array holds.
MAX_ATTACHMENTS = 20
# A file's name as the person gave it: no path separator and no control characters, so it is
# safe in a Content-Disposition header and in a listing.
AttachmentName = Annotated[str, msgspec.Meta(pattern=r"^[^/\\\x00-\x1f\x7f]{1,255}$")]
# A media type as RFC 6838 spells it (``type/subtype``), lower-cased, without parameters.
MediaType = Annotated[
    str,
    msgspec.Meta(
        max_length=255, pattern=r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$"
    ),
]
Pixels = Annotated[int, msgspec.Meta(ge=1, le=1_000_000)]


class Author(msgspec.Struct, frozen=True):
    id: UserId
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class ReplyTo(msgspec.Struct, frozen=True):
    """The message a message answers, as it was when the answer was sent."""

    id: MessageId
    user: Author
    excerpt: Excerpt


class Attachment(msgspec.Struct, frozen=True, kw_only=True):
    """A file on a message, kept in the object store under its upload's id.

    ``type`` is what the gateway sniffed from the file's first bytes, never the sender's claim.
    ``image`` says the app previews it (a raster image: PNG, JPEG, GIF, WebP); an SVG is a file.
    ``width``, ``height`` and ``thumbnail`` arrive later, in an ``attachment`` event, once the
    media worker has stripped the image's metadata and made its thumbnail; an image it could
    not decode comes back with ``image`` false."""

    id: MessageId  # the upload's id
    name: AttachmentName
    type: MediaType
    size: Annotated[int, msgspec.Meta(ge=1)]
    image: bool
    width: Pixels | msgspec.UnsetType = msgspec.UNSET
    height: Pixels | msgspec.UnsetType = msgspec.UNSET
    thumbnail: bool | msgspec.UnsetType = msgspec.UNSET


Attachments = Annotated[
    tuple[Attachment, ...], msgspec.Meta(min_length=1, max_length=MAX_ATTACHMENTS)
]


class Envelope(msgspec.Struct, frozen=True, kw_only=True):
    """One entry of a room's log. The fields after ``seq`` may hold user text: ``seq`` must stay
    before them (the gateway numbers an encoded draft by splitting it at ``"seq":-1``)."""

    v: int = SCHEMA_VERSION
    id: str
    room: RoomId
    seq: Seq
    # A message's author; of an event, who acted (an edit's author, a moderator who deleted).
    user: Author
    # A message's text, or an edit's new text; absent in deletes and reactions.
    body: Body | msgspec.UnsetType = msgspec.UNSET
    ts: Timestamp
    client_msg_id: ClientMsgId
    # The room members the body names as ``@username``, resolved when it was sent; absent
    # (UNSET) when it mentions nobody, so such a message is encoded as before and costs nothing.
    mentions: Mentions | msgspec.UnsetType = msgspec.UNSET
    reply_to: ReplyTo | msgspec.UnsetType = msgspec.UNSET
    # Absent for a message; an event names the message it changes in ``target``.
    kind: EventKind | msgspec.UnsetType = msgspec.UNSET
    target: MessageId | msgspec.UnsetType = msgspec.UNSET
    edited_at: Timestamp | msgspec.UnsetType = msgspec.UNSET  # an edit's, equal to its ts
    emoji: Emoji | msgspec.UnsetType = msgspec.UNSET  # a reaction's
    on: bool | msgspec.UnsetType = msgspec.UNSET  # a reaction's: added (true) or taken back
    # A message's files; of an ``attachment`` event, those of its target that changed, each
    # complete (a receiver replaces the target's attachments with the same ids).
    attachments: Attachments | msgspec.UnsetType = msgspec.UNSET

    def __post_init__(self) -> None:
        problem = _shape_problem(self)
        if problem is not None:
            raise ValueError(problem)  # msgspec reports it as a ValidationError when decoding

    @property
    def is_message(self) -> bool:
        return self.kind is msgspec.UNSET


def _shape_problem(envelope: Envelope) -> str | None:
    """Which fields each kind must and must not have; None when the envelope is well formed."""
    kind = envelope.kind
    has_body = envelope.body is not msgspec.UNSET
    has_attachments = envelope.attachments is not msgspec.UNSET
    if kind is msgspec.UNSET:
        if not has_body and not has_attachments:
            return "a message needs a body or attachments"
        version = EVENT_SCHEMA_VERSION if has_attachments else SCHEMA_VERSION
        if envelope.v != version:
            return (
                f"a message with attachments is version {EVENT_SCHEMA_VERSION}"
                if has_attachments
                else f"a message is version {SCHEMA_VERSION}"
            )
        if not _all_unset(envelope.target, envelope.edited_at, envelope.emoji, envelope.on):
            return "a message has no target, edited_at, emoji or on"
        return None
    if envelope.v != EVENT_SCHEMA_VERSION:
        return f"{_a(kind)} event is version {EVENT_SCHEMA_VERSION}"
    if envelope.target is msgspec.UNSET:
        return f"{_a(kind)} event needs a target"
    if not _all_unset(envelope.mentions, envelope.reply_to):
        return "an event has no mentions or reply_to"
    if kind == "attachment":
        if not has_attachments:
            return "an attachment event needs attachments"
        if not _all_unset(envelope.body, envelope.edited_at, envelope.emoji, envelope.on):
            return "an attachment event has no body, edited_at, emoji or on"
        return None
    if has_attachments:
        return f"{_a(kind)} event has no attachments"
    if kind == "edit":
        if not has_body or envelope.edited_at is msgspec.UNSET:
            return "an edit needs a body and edited_at"
        if not _all_unset(envelope.emoji, envelope.on):
            return "an edit has no emoji or on"
    elif kind == "delete":
        if not _all_unset(envelope.body, envelope.edited_at, envelope.emoji, envelope.on):
            return "a delete has no body, edited_at, emoji or on"
    elif envelope.emoji is msgspec.UNSET or envelope.on is msgspec.UNSET:
        return "a reaction needs an emoji and on"
    elif not _all_unset(envelope.body, envelope.edited_at):
        return "a reaction has no body or edited_at"
    return None


def _a(kind: str) -> str:
    return f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"


def _all_unset(*values: object) -> bool:
    return all(value is msgspec.UNSET for value in values)


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
        if "version" in str(exc) and _version_of(data) not in KNOWN_VERSIONS:
            raise EnvelopeError(f"unknown envelope version {_version_of(data)}") from exc
        raise EnvelopeError(f"invalid envelope: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise EnvelopeError(f"not JSON: {exc}") from exc
    return envelope


class _Versioned(msgspec.Struct):
    v: object = None


def _version_of(data: bytes) -> object:
    try:
        return msgspec.json.decode(data, type=_Versioned).v
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None


def format_ts(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def parse_ts(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
