"""The message path of one ``send`` (docs/architecture.md, message path steps 1-5): validate,
authorise, resolve mentions, admit, number, make durable in Kafka, publish, acknowledge.

An ``edit``, ``delete`` or ``react`` makes an event that takes the same path (``_deliver``)
once its target's current state (``targets``) allows it; a ``send`` with ``reply_to`` quotes
its target's current text.

A ``send`` with attachments is admitted first: a resend is answered from its dedup record
without checking its files again (the media step may have re-encoded them since). Only a first
attempt checks and claims them (``attachments.SendFiles``), holding the in-flight lock, then is
numbered and made durable like any message. The media step's updates of a message's files are
``attachment`` events on the same path (``update_attachments``).

Mentions are resolved only for a body with an ``@`` in it: the usual message pays one scan for a
character and nothing else. The sender returns the ids a new message mentions with its ack, so
whoever tells those people (their own channel) does so once the message is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
import msgspec
from redis.exceptions import RedisError

from chat_common.envelope import (
    EVENT_SCHEMA_VERSION,
    SCHEMA_VERSION,
    Attachment,
    Author,
    Envelope,
    format_ts,
    parse_ts,
)
from chat_common.errors import ChatError, ErrorCode
from chat_common.text import body_problem
from chat_common.tokens import AccessClaims
from chat_gateway import protocol
from chat_gateway.access import Caller, RoomChecks
from chat_gateway.broker import Admission, Broker, EnvelopeDraft, SendAdmission
from chat_gateway.frames import frame_of, void_frame
from chat_gateway.mentions import in_order_of, mentioned_names
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.reactions import emoji_problem
from chat_gateway.sequencer import Sequencer
from chat_gateway.targets import CurrentTargets, MessageState, excerpt_of

log = logging.getLogger(__name__)

# Failures of Redis or Postgres reach the client as ``unavailable``: retry later, nothing lost.
DEPENDENCY_ERRORS: tuple[type[Exception], ...] = (
    RedisError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    OSError,
)


# The seq of an envelope not numbered yet. Its encoding, ``"seq":-1``, occurs once in an
# encoded envelope: the field comes before the body and the name, and quotes in those are
# escaped, so splitting there gives the draft a broker numbers (``EnvelopeDraft``).
_UNNUMBERED = -1
_SEQ_MARK = b'"seq":-1'


def _draft_of(fresh: Envelope) -> EnvelopeDraft | None:
    head, mark, tail = msgspec.json.encode(fresh).partition(_SEQ_MARK)
    if not mark:
        return None  # the seq is numbered by separate steps instead
    return EnvelopeDraft(head + b'"seq":', tail)


# Who admits the media step's updates of a message, and how their client_msg_ids begin.
_MEDIA = "media:"

# Refusals that depend on the target's state, which a resend may find changed by its own event.
_STATE_REFUSALS = frozenset({ErrorCode.NOT_FOUND, ErrorCode.FORBIDDEN, ErrorCode.BAD_REQUEST})


class ActionLimits(msgspec.Struct, frozen=True):
    """The bounds of edits and reactions (settings, where they say why)."""

    edit_window_s: float
    max_emoji: int
    max_reactions_per_person: int


class Started(Protocol):
    """Told the people a direct message was just started for (its first send)."""

    async def __call__(self, room: str, user_ids: tuple[str, ...]) -> None: ...


class Files(Protocol):
    """A send's files, checked and claimed (``attachments.SendFiles``: the object store and
    Postgres)."""

    async def claim(
        self, user_id: str, room: str, client_msg_id: str, upload_ids: Sequence[str]
    ) -> tuple[Attachment, ...]:
        """The attachments of the uploads, claimed for this send; ``ChatError`` saying which
        cannot be, and then none is."""


class DurableLog(Protocol):
    """Where a message is durable before its ack (``message_log.MessageLog``: Kafka, G1)."""

    async def append(self, room: str, envelope: bytes) -> None:
        """Returns once the envelope is durable; raises ``ChatError`` (unavailable) when it is
        not known to be."""


class MemberNames(Protocol):
    """Who of the people a body names belongs to the room (``roster.RoomRoster``: Postgres)."""

    async def members_named(self, room: str, names: Sequence[str]) -> dict[str, str]:
        """Of ``names`` (usernames), the room's members at this moment, as username → id."""


class SentMessage(msgspec.Struct, frozen=True):
    """A send's outcome: the acknowledged message (JSON), durable, and the ids of the people it
    mentions when this send made it durable (empty when a resend found it sent already, so
    nobody is told twice)."""

    message: msgspec.Raw
    mentions: tuple[str, ...] = ()


class MessageSender:
    def __init__(
        self,
        *,
        broker: Broker,
        sequencer: Sequencer,
        message_log: DurableLog,
        access: RoomChecks,
        members: MemberNames,
        targets: CurrentTargets,
        metrics: GatewayMetrics,
        max_body_chars: int,
        max_mentions: int,
        limits: ActionLimits,
        duplicate_wait_s: float,
        on_started: Started,
        files: Files | None = None,
        max_attachments: int = 10,
    ) -> None:
        self._broker = broker
        self._targets = targets
        self._limits = limits
        self._sequencer = sequencer
        self._log = message_log
        self._access = access
        self._members = members
        self._metrics = metrics
        self._max_body_chars = max_body_chars
        self._max_mentions = max_mentions
        self._duplicate_wait_s = duplicate_wait_s
        self._on_started = on_started
        self._files = files
        self._max_attachments = max_attachments

    async def send(
        self, claims: AccessClaims, session_id: str, command: protocol.Send
    ) -> SentMessage:
        """The acknowledged message, once it is durable, and whom it mentions."""
        started = time.perf_counter()
        upload_ids = self._upload_ids(command)
        body = command.body or ""
        if body or not upload_ids:
            self._validate_body(body)
        room = await self._access.for_send(Caller(claims.sub, claims.roles), command.room)
        if room.kind == "dm":
            entry = await self._access.open_direct(command.room)  # both people list it
            if entry.added:
                await self._on_started(command.room, entry.added)
        if upload_ids:
            return await self._send_with_files(claims, session_id, command, upload_ids, started)
        fresh = self._fresh_envelope(claims, command)
        if command.reply_to is not None:
            try:
                answered = await self._live_target(command.room, command.reply_to)
            except ChatError as refusal:
                return await self._unless_sent(refusal, claims.sub, session_id, fresh, started)
            fresh = msgspec.structs.replace(fresh, reply_to=excerpt_of(answered))
        if "@" in body:
            fresh = await self._with_mentions(fresh, body)
        return await self._deliver(claims.sub, session_id, fresh, started)

    async def _send_with_files(
        self,
        claims: AccessClaims,
        session_id: str,
        command: protocol.Send,
        upload_ids: tuple[str, ...],
        started: float,
    ) -> SentMessage:
        """A message with files: a resend answered from its record, a first attempt checked,
        its files claimed, then numbered and made durable while it holds the in-flight lock."""
        user_id, client_msg_id = claims.sub, command.client_msg_id
        admission = await self._admit(user_id, client_msg_id, session_id, command.room, None)
        if admission.outcome in (Admission.DONE, Admission.RETRY):
            return await self._complete(admission, user_id, None, started)
        try:
            fresh = await self._message_with_files(claims, command, upload_ids)
        except BaseException:
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                await self._broker.release(user_id, client_msg_id)
            raise
        return await self._complete(admission, user_id, fresh, started)

    async def _message_with_files(
        self, claims: AccessClaims, command: protocol.Send, upload_ids: tuple[str, ...]
    ) -> Envelope:
        assert self._files is not None
        reply_to = None
        if command.reply_to is not None:
            reply_to = excerpt_of(await self._live_target(command.room, command.reply_to))
        attachments = await self._files.claim(
            claims.sub, command.room, command.client_msg_id, upload_ids
        )
        fresh = self._fresh_envelope(claims, command, attachments)
        if reply_to is not None:
            fresh = msgspec.structs.replace(fresh, reply_to=reply_to)
        if command.body and "@" in command.body:
            fresh = await self._with_mentions(fresh, command.body)
        return fresh

    def _upload_ids(self, command: protocol.Send) -> tuple[str, ...]:
        """The uploads a send attaches, checked for their number and for repeats."""
        if command.attachments is None:
            return ()
        if self._files is None:
            raise ChatError(ErrorCode.BAD_REQUEST, "this server does not take attachments")
        upload_ids = tuple(ref.upload_id for ref in command.attachments)
        if not upload_ids:
            raise ChatError(ErrorCode.BAD_REQUEST, "attachments must name at least one upload")
        if len(upload_ids) > self._max_attachments:
            raise ChatError(
                ErrorCode.TOO_LARGE, f"a message carries at most {self._max_attachments} files"
            )
        if len(set(upload_ids)) != len(upload_ids):
            raise ChatError(ErrorCode.BAD_REQUEST, "an upload is attached twice")
        return upload_ids

    async def update_attachments(
        self, room: str, message_id: str, attachments: tuple[Attachment, ...]
    ) -> SentMessage:
        """The ``attachment`` event that replaces files of message ``message_id`` (the media
        step's: dimensions, a thumbnail), by the message's author, once it is durable.

        The same update again gets the same event: it is admitted as the media step of that
        message (``media:<message id>``) with a ``client_msg_id`` made of the update's content.
        A person's admissions are keyed by their user id, a UUID, which never starts with
        ``m``, so no update can be answered with a person's message or the other way round."""
        started = time.perf_counter()
        target = await self._live_target(room, message_id)
        carried = {attachment.id for attachment in target.attachments}
        for attachment in attachments:
            if attachment.id not in carried:
                raise ChatError(
                    ErrorCode.BAD_REQUEST,
                    f"message {message_id} has no attachment {attachment.id}",
                )
        digest = hashlib.sha256(msgspec.json.encode(attachments)).hexdigest()
        event = Envelope(
            v=EVENT_SCHEMA_VERSION,
            id=str(uuid.uuid4()),
            room=room,
            seq=_UNNUMBERED,
            user=target.user,
            ts=format_ts(datetime.now(UTC)),
            client_msg_id=f"{_MEDIA}{digest[: 64 - len(_MEDIA)]}",
            kind="attachment",
            target=target.id,
            attachments=attachments,
        )
        owner = f"{_MEDIA}{uuid.uuid4().hex}"  # one request: never re-admitted as the same owner
        return await self._deliver(f"{_MEDIA}{target.id}", owner, event, started)

    async def act(
        self, claims: AccessClaims, session_id: str, command: protocol.Action
    ) -> SentMessage:
        """The acknowledged event of an ``edit``, ``delete`` or ``react``, once it is durable.

        A command sent again after its event was made gets that event back, though the target
        has changed since (a delete sent twice finds its message deleted): a refusal is looked
        up in the dedup record before it is answered."""
        started = time.perf_counter()
        caller = Caller(claims.sub, claims.roles)
        await self._access.for_send(caller, command.room)
        try:
            fresh = await self._event_of(claims, caller, command)
        except ChatError as refusal:
            return await self._unless_sent(refusal, claims.sub, session_id, command, started)
        return await self._deliver(claims.sub, session_id, fresh, started)

    async def _unless_sent(
        self,
        refusal: ChatError,
        user_id: str,
        session_id: str,
        command: Envelope | protocol.Action,
        started: float,
    ) -> SentMessage:
        """The earlier result of the same command when one was made (or is pending: sent again
        then), else ``refusal``: its own entry may be what changed the target since."""
        if refusal.code not in _STATE_REFUSALS:
            raise refusal
        admission = await self._admit(
            user_id, command.client_msg_id, session_id, command.room, None
        )
        if admission.outcome in (Admission.DONE, Admission.RETRY):
            return await self._complete(admission, user_id, None, started)
        with contextlib.suppress(*DEPENDENCY_ERRORS):
            await self._broker.release(user_id, command.client_msg_id)
        raise refusal

    async def _event_of(
        self, claims: AccessClaims, caller: Caller, command: protocol.Action
    ) -> Envelope:
        """The event ``command`` makes, after the checks of its target (docs/protocol.md,
        "Edits, deletes, reactions and replies")."""
        if isinstance(command, protocol.Edit):
            self._validate_body(command.body)
        elif isinstance(command, protocol.React):
            problem = emoji_problem(command.emoji)
            if problem is not None:
                raise ChatError(ErrorCode.BAD_REQUEST, problem)
        target = await self._live_target(command.room, command.message_id)
        ts = format_ts(datetime.now(UTC))
        event = Envelope(
            v=EVENT_SCHEMA_VERSION,
            id=str(uuid.uuid4()),
            room=command.room,
            seq=_UNNUMBERED,
            user=Author(id=claims.sub, name=claims.name),
            ts=ts,
            client_msg_id=command.client_msg_id,
            kind="delete",
            target=target.id,
        )
        if isinstance(command, protocol.Edit):
            self._check_editable(target, claims.sub)
            return msgspec.structs.replace(event, kind="edit", body=command.body, edited_at=ts)
        if isinstance(command, protocol.Delete):
            if target.user.id != claims.sub and not await self._access.is_staff(
                caller, command.room
            ):
                raise ChatError(
                    ErrorCode.FORBIDDEN,
                    "only its author or the room's owner and moderators may delete a message",
                )
            return event
        on = not target.reacted(command.emoji, claims.sub)
        if on:
            self._check_room_for(target, command.emoji, claims.sub)
        return msgspec.structs.replace(event, kind="reaction", emoji=command.emoji, on=on)

    async def _live_target(self, room: str, message_id: str) -> MessageState:
        """The current state of message ``message_id`` of ``room``, not deleted."""
        target = await self._targets.current(room, message_id)
        if target is None or target.deleted:
            raise ChatError(ErrorCode.NOT_FOUND, f"no message {message_id} in room {room}")
        return target

    def _check_editable(self, target: MessageState, user_id: str) -> None:
        if target.user.id != user_id:
            raise ChatError(ErrorCode.FORBIDDEN, "only its author may edit a message")
        age_s = (datetime.now(UTC) - parse_ts(target.ts)).total_seconds()
        if age_s > self._limits.edit_window_s:
            raise ChatError(
                ErrorCode.FORBIDDEN,
                f"a message can be edited for {self._limits.edit_window_s} s after it was sent",
            )

    def _check_room_for(self, target: MessageState, emoji: str, user_id: str) -> None:
        limits = self._limits
        if emoji not in target.reactions and len(target.reactions) >= limits.max_emoji:
            raise ChatError(
                ErrorCode.BAD_REQUEST,
                f"a message holds at most {limits.max_emoji} different emoji",
            )
        if target.emoji_of(user_id) >= limits.max_reactions_per_person:
            raise ChatError(
                ErrorCode.BAD_REQUEST,
                f"a person may react with at most {limits.max_reactions_per_person} emoji"
                " to one message",
            )

    async def _deliver(
        self, user_id: str, session_id: str, fresh: Envelope, started: float
    ) -> SentMessage:
        """Admit ``fresh`` (any entry of the log: a message or an event), make it durable and
        publish it: the message path (docs/architecture.md, steps 1-5)."""
        admission = await self._admit(
            user_id, fresh.client_msg_id, session_id, fresh.room, _draft_of(fresh)
        )
        return await self._complete(admission, user_id, fresh, started)

    async def _complete(
        self, admission: SendAdmission, user_id: str, fresh: Envelope | None, started: float
    ) -> SentMessage:
        """What follows an admission: the stored result of a finished send, or the entry
        numbered, appended and published (``fresh``: the new entry, for a first attempt)."""
        if admission.outcome is Admission.DONE:
            return SentMessage(msgspec.Raw(admission.envelope))
        client_msg_id = ""
        try:
            if admission.outcome is Admission.RETRY:
                envelope = msgspec.json.decode(admission.envelope, type=Envelope)
                client_msg_id = envelope.client_msg_id
                encoded = msgspec.json.encode(envelope)
            else:
                assert fresh is not None
                client_msg_id = fresh.client_msg_id
                if admission.outcome is Admission.NUMBERED:
                    # Numbered and recorded as pending by the admission itself (steps 2 and 3).
                    envelope = msgspec.structs.replace(fresh, seq=admission.seq)
                    encoded = admission.envelope
                else:  # the room's counter is gone: re-created safely by the sequencer
                    seq = await self._sequencer.next(fresh.room)
                    envelope = msgspec.structs.replace(fresh, seq=seq)
                    encoded = msgspec.json.encode(envelope)
            if admission.outcome is not Admission.NUMBERED:
                await self._broker.remember_pending(user_id, client_msg_id, encoded)
        except BaseException:
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                await self._broker.release(user_id, client_msg_id)
            raise
        room = envelope.room
        stages = self._metrics.send_stage
        appending = time.perf_counter()
        stages.labels("admit").observe(appending - started)
        try:
            await self._log.append(room, encoded)
        except BaseException:
            self._metrics.kafka_errors.inc()
            # Receivers stop waiting for this seq; a retry sends the same envelope again.
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                await self._broker.publish(
                    void_frame(envelope.seq),
                    room,
                    user_id=user_id,
                    client_msg_id=client_msg_id,
                )
            raise
        publishing = time.perf_counter()
        stages.labels("append").observe(publishing - appending)
        frame = frame_of(envelope)
        try:
            await self._broker.publish(
                frame,
                room,
                user_id=user_id,
                client_msg_id=client_msg_id,
                envelope=encoded,
            )
        except Exception as exc:
            # Durable in Kafka already: acknowledge. Receivers fill the hole from Postgres.
            self._metrics.redis_errors.labels("publish").inc()
            log.warning("publish failed after a durable send", extra={"error": repr(exc)})
        self._metrics.messages_received.inc()
        if envelope.kind is not msgspec.UNSET:
            self._metrics.room_events.labels(envelope.kind).inc()
        done = time.perf_counter()
        stages.labels("publish").observe(done - publishing)
        self._metrics.ack_latency.observe(done - started)
        return SentMessage(msgspec.Raw(frame.message_json), envelope.mentions or ())

    async def _with_mentions(self, fresh: Envelope, body: str) -> Envelope:
        """``fresh`` with the room's members its body names (the author left out: nobody is
        told of their own words), read now, so a person removed from the room a moment ago is
        not mentioned."""
        names = mentioned_names(body, self._max_mentions)
        if not names:
            return fresh
        found = await self._members.members_named(fresh.room, names)
        mentions = tuple(user for user in in_order_of(names, found) if user != fresh.user.id)
        return msgspec.structs.replace(fresh, mentions=mentions) if mentions else fresh

    def _validate_body(self, body: str) -> None:
        if not body:
            raise ChatError(ErrorCode.BAD_REQUEST, "body must not be empty")
        if len(body) > self._max_body_chars:
            raise ChatError(
                ErrorCode.TOO_LARGE, f"body is longer than {self._max_body_chars} characters"
            )
        problem = body_problem(body)
        if problem is not None:
            raise ChatError(ErrorCode.BAD_REQUEST, problem)

    async def _admit(
        self, user_id: str, client_msg_id: str, owner: str, room: str, draft: EnvelopeDraft | None
    ) -> SendAdmission:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._duplicate_wait_s
        while True:
            admission = await self._broker.admit(user_id, client_msg_id, owner, room, draft)
            if admission.outcome is Admission.CONFLICT:
                raise ChatError(
                    ErrorCode.BAD_REQUEST,
                    "this client_msg_id was already used for a message in another room",
                )
            if admission.outcome is Admission.LIMITED:
                raise ChatError(
                    ErrorCode.RATE_LIMITED,
                    "sending too fast",
                    retry_after_ms=max(1, admission.retry_after_ms),
                )
            if admission.outcome is not Admission.BUSY:
                return admission
            if loop.time() > deadline:
                raise ChatError(ErrorCode.UNAVAILABLE, "the same message is still being sent")
            await asyncio.sleep(0.05)

    @staticmethod
    def _fresh_envelope(
        claims: AccessClaims, command: protocol.Send, attachments: tuple[Attachment, ...] = ()
    ) -> Envelope:
        """The message as it will be sent, but for its seq (``_UNNUMBERED`` until it has one)."""
        return Envelope(
            v=EVENT_SCHEMA_VERSION if attachments else SCHEMA_VERSION,
            id=str(uuid.uuid4()),
            room=command.room,
            seq=_UNNUMBERED,
            user=Author(id=claims.sub, name=claims.name),
            body=command.body or msgspec.UNSET,
            ts=format_ts(datetime.now(UTC)),
            client_msg_id=command.client_msg_id,
            attachments=attachments or msgspec.UNSET,
        )
