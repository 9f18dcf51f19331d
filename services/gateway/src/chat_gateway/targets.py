"""A message's current state: the message as sent with the room's edits, deletes and reactions
applied in seq order ("Applying room events" in docs/protocol.md), and how a reply shows it.

The persistence worker keeps each stored message's state in its Postgres row; the newest events
are in the room's recent window (Redis) a moment before they are stored. Both the checks of an
edit, delete, reaction or reply (``CurrentTargets``) and history take the stored state and fold
the window's events onto it with ``apply``: an event applies only above the state's
``updated_seq``, so one that is in both places applies once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol

import msgspec

from chat_common.envelope import (
    EVENT_SCHEMA_VERSION,
    MAX_EXCERPT_CHARS,
    SCHEMA_VERSION,
    Attachment,
    Author,
    Envelope,
    ReplyTo,
)
from chat_gateway.broker import Broker
from chat_gateway.frames import RoomFrame

if TYPE_CHECKING:
    from chat_gateway.sequencer import PersistenceProgress

# The encoded envelope of an event starts so (``v`` is its first field) and names its kind:
# the window's events are told from its messages without decoding them. A message with
# attachments is version 2 too, but has no kind; the key cannot occur inside a string value,
# where JSON escapes every quote.
_EVENT_HEAD = b'{"v":%d,' % EVENT_SCHEMA_VERSION
_KIND_KEY = b'"kind":"'
_envelope_decoder = msgspec.json.Decoder(Envelope)


@dataclass(frozen=True, slots=True)
class MessageState:
    """One message as it stands. ``reactions`` maps each emoji to the people who reacted with
    it and the seq of the event that added each; an emoji nobody holds is not in it."""

    id: str
    room: str
    seq: int
    user: Author
    body: str | None  # None once deleted, or for a message of files alone
    ts: str
    client_msg_id: str
    mentions: tuple[str, ...] = ()
    reply_to: ReplyTo | None = None
    edited_at: str | None = None
    deleted: bool = False
    reactions: dict[str, dict[str, int]] = field(default_factory=dict)
    updated_seq: int | None = None
    # The files, as the newest ``attachment`` event of each left them; none once deleted.
    attachments: tuple[Attachment, ...] = ()
    # The message it replies to was deleted, as far as the store knew when it was read.
    answered_deleted: bool = False

    def reacted(self, emoji: str, user_id: str) -> bool:
        return user_id in self.reactions.get(emoji, {})

    def emoji_of(self, user_id: str) -> int:
        """How many different emoji ``user_id`` holds on this message."""
        return sum(1 for people in self.reactions.values() if user_id in people)


def state_of(message: Envelope) -> MessageState:
    """A message as sent, before any event."""
    return MessageState(
        id=message.id,
        room=message.room,
        seq=message.seq,
        user=message.user,
        body=message.body or None,
        ts=message.ts,
        client_msg_id=message.client_msg_id,
        mentions=message.mentions or (),
        reply_to=message.reply_to or None,
        attachments=message.attachments or (),
    )


def apply(state: MessageState, event: Envelope) -> MessageState:
    """``state`` with ``event`` applied, when it applies: an event of another message, one the
    state already holds (seq not above ``updated_seq``) and anything after a delete change
    nothing."""
    if event.target != state.id or event.is_message or state.deleted:
        return state
    if state.updated_seq is not None and event.seq <= state.updated_seq:
        return state
    if event.kind == "edit":
        assert isinstance(event.body, str)
        return replace(state, body=event.body, edited_at=event.ts, updated_seq=event.seq)
    if event.kind == "delete":
        return replace(
            state,
            body=None,
            mentions=(),
            edited_at=None,
            deleted=True,
            reactions={},
            attachments=(),
            updated_seq=event.seq,
        )
    if event.kind == "attachment":
        return replace(
            state,
            attachments=replaced(state.attachments, event.attachments or ()),
            updated_seq=event.seq,
        )
    assert isinstance(event.emoji, str)
    reactions = {emoji: dict(people) for emoji, people in state.reactions.items()}
    people = reactions.setdefault(event.emoji, {})
    if event.on:
        people[event.user.id] = event.seq  # as the worker's guarded upsert keeps it
    else:
        people.pop(event.user.id, None)
        if not people:
            del reactions[event.emoji]
    return replace(state, reactions=reactions, updated_seq=event.seq)


def replaced(
    attachments: tuple[Attachment, ...], changed: tuple[Attachment, ...]
) -> tuple[Attachment, ...]:
    """``attachments`` with each one ``changed`` names (by id) replaced by it, in their order;
    an id the message does not carry adds nothing."""
    by_id = {attachment.id: attachment for attachment in changed}
    return tuple(by_id.get(attachment.id, attachment) for attachment in attachments)


def fold(state: MessageState, events: Iterable[Envelope]) -> MessageState:
    """``state`` with ``events`` (ascending by seq) applied in order."""
    for event in events:
        state = apply(state, event)
    return state


def excerpt_of(state: MessageState) -> ReplyTo:
    """What a reply to ``state`` carries of it: its author and its current text, cut; for a
    message of files alone, their names, as a person would describe what they answer."""
    text = state.body or ", ".join(attachment.name for attachment in state.attachments)
    return ReplyTo(id=state.id, user=state.user, excerpt=text[:MAX_EXCERPT_CHARS])


# -- how history shows a message --------------------------------------------------------------


class WireReplyTo(msgspec.Struct, frozen=True, omit_defaults=True):
    id: str
    user: Author
    excerpt: str | None = None
    deleted: bool = False


class WireReaction(msgspec.Struct, frozen=True):
    emoji: str
    count: int
    me: bool


class WireMessage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A ``message`` object as history and catch-up send it: the envelope's fields (in its
    order, ``v`` always present) and those only a reader of stored state adds."""

    v: int
    id: str
    room: str
    seq: int
    user: Author
    body: str | None = None
    ts: str
    client_msg_id: str
    mentions: tuple[str, ...] = ()
    reply_to: WireReplyTo | None = None
    kind: str | None = None
    target: str | None = None
    edited_at: str | None = None
    emoji: str | None = None
    on: bool | None = None
    attachments: tuple[Attachment, ...] = ()
    deleted: bool = False
    reactions: tuple[WireReaction, ...] = ()
    updated_seq: int | None = None


_wire_encoder = msgspec.json.Encoder()


def render(state: MessageState, viewer: str, *, answered_deleted: bool = False) -> bytes:
    """``state`` as history shows it to ``viewer`` (``me`` in its reactions);
    ``answered_deleted``: the message it replies to has been deleted since (as the state
    says, or as newer entries than the store's say)."""
    answered_deleted = answered_deleted or state.answered_deleted
    reply_to = None
    if state.reply_to is not None:
        answered = state.reply_to
        reply_to = (
            WireReplyTo(id=answered.id, user=answered.user, deleted=True)
            if answered_deleted
            else WireReplyTo(id=answered.id, user=answered.user, excerpt=answered.excerpt)
        )
    # In the order each emoji was first added among those who hold it now.
    ordered = sorted(state.reactions.items(), key=lambda item: min(item[1].values()))
    return _wire_encoder.encode(
        WireMessage(
            v=EVENT_SCHEMA_VERSION if state.attachments else SCHEMA_VERSION,
            id=state.id,
            room=state.room,
            seq=state.seq,
            user=state.user,
            body=state.body,
            ts=state.ts,
            client_msg_id=state.client_msg_id,
            mentions=state.mentions,
            reply_to=reply_to,
            edited_at=state.edited_at,
            attachments=state.attachments,
            deleted=state.deleted,
            reactions=tuple(
                WireReaction(emoji, len(people), viewer in people) for emoji, people in ordered
            ),
            updated_seq=state.updated_seq,
        )
    )


def encode_wire(message: WireMessage) -> bytes:
    return _wire_encoder.encode(message)


# -- reading the current state ----------------------------------------------------------------


def is_event(frame: RoomFrame) -> bool:
    message = frame.message_json
    return message.startswith(_EVENT_HEAD) and _KIND_KEY in message


def decode_frame(frame: RoomFrame) -> Envelope:
    return _envelope_decoder.decode(frame.message_json)


class StoredStates(Protocol):
    """Messages' state as the persistence worker keeps it (``store.MessageStore``)."""

    async def current(self, room: str, message_id: str) -> MessageState | None:
        """The stored state of message ``message_id`` of ``room``; None when ``room`` has no
        such message stored (none, another room's, or an event)."""

    async def max_seq(self, room: str) -> int:
        """The newest seq stored in ``room``, 0 when none is."""


class CurrentTargets:
    """The current state of the message an action or a reply names."""

    def __init__(
        self, broker: Broker, store: StoredStates, persistence: PersistenceProgress, wait_s: float
    ) -> None:
        self._broker = broker
        self._store = store
        self._persistence = persistence
        self._wait_s = wait_s

    async def current(self, room: str, message_id: str) -> MessageState | None:
        """Stored state first, then the window: an entry stored after the state was read is
        then still in the window, and folds on.

        When neither knows the message and the two do not meet (the window is empty, or
        begins after the newest stored seq plus one), the message may be on its way from
        Kafka to Postgres while Redis lost the window (restarted empty) or trimmed it (the
        worker far behind). It is then looked for again once the worker has stored everything
        in Kafka now, so an acknowledged message is never answered ``not_found``."""
        state, window = await self._read(room, message_id)
        if state is None and (not window or await self._store.max_seq(room) < window[0].seq - 1):
            await self._persistence.wait_until_stored(self._wait_s)
            state, _ = await self._read(room, message_id)
        return state

    async def carrying(self, room: str, attachment_id: str) -> MessageState | None:
        """The current state of the message of ``room`` that carries file ``attachment_id``,
        found in the recent window: for a message the persistence worker has not stored yet
        (the upload's row names the message once it has). None when the window has none."""
        named = b'"%s"' % attachment_id.encode()
        for frame in await self._broker.window(room, 0):
            if frame.is_void or is_event(frame) or named not in frame.message_json:
                continue
            message = decode_frame(frame)
            if any(attachment.id == attachment_id for attachment in message.attachments or ()):
                return await self.current(room, message.id)
        return None

    async def _read(
        self, room: str, message_id: str
    ) -> tuple[MessageState | None, list[RoomFrame]]:
        """The message's state, and the window read (from the stored state's seq on)."""
        stored = await self._store.current(room, message_id)
        after = 0 if stored is None else stored.seq
        window = await self._broker.window(room, after)
        # Only the entries that name the id (as their own or as a target) are decoded.
        named = b'"%s"' % message_id.encode()
        entries = [
            decode_frame(frame)
            for frame in window
            if not frame.is_void and named in frame.message_json
        ]
        state = stored
        if state is None:
            sent = [e for e in entries if e.is_message and e.id == message_id]
            if not sent:
                return None, window
            state = state_of(sent[0])
        return fold(state, (e for e in entries if not e.is_message)), window
