"""The message path of one ``send`` (docs/architecture.md, message path steps 1-5): validate,
authorise, resolve mentions, admit, number, make durable in Kafka, publish, acknowledge.

Mentions are resolved only for a body with an ``@`` in it: the usual message pays one scan for a
character and nothing else. The sender returns the ids a new message mentions with its ack, so
whoever tells those people (their own channel) does so once the message is durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import asyncpg
import msgspec
from redis.exceptions import RedisError

from chat_common.envelope import Author, Envelope, format_ts
from chat_common.errors import ChatError, ErrorCode
from chat_common.text import body_problem
from chat_common.tokens import AccessClaims
from chat_gateway import protocol
from chat_gateway.access import Caller, RoomChecks
from chat_gateway.broker import Admission, Broker, EnvelopeDraft, SendAdmission
from chat_gateway.frames import frame_of, void_frame
from chat_gateway.mentions import in_order_of, mentioned_names
from chat_gateway.metrics import GatewayMetrics
from chat_gateway.sequencer import Sequencer

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


class Started(Protocol):
    """Told the people a direct message was just started for (its first send)."""

    async def __call__(self, room: str, user_ids: tuple[str, ...]) -> None: ...


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
        metrics: GatewayMetrics,
        max_body_chars: int,
        max_mentions: int,
        duplicate_wait_s: float,
        on_started: Started,
    ) -> None:
        self._broker = broker
        self._sequencer = sequencer
        self._log = message_log
        self._access = access
        self._members = members
        self._metrics = metrics
        self._max_body_chars = max_body_chars
        self._max_mentions = max_mentions
        self._duplicate_wait_s = duplicate_wait_s
        self._on_started = on_started

    async def send(
        self, claims: AccessClaims, session_id: str, command: protocol.Send
    ) -> SentMessage:
        """The acknowledged message, once it is durable, and whom it mentions."""
        started = time.perf_counter()
        self._validate_body(command.body)
        user_id, client_msg_id = claims.sub, command.client_msg_id
        room = await self._access.for_send(Caller(user_id, claims.roles), command.room)
        if room.kind == "dm":
            entry = await self._access.open_direct(command.room)  # both people list it
            if entry.added:
                await self._on_started(command.room, entry.added)
        fresh = self._fresh_envelope(claims, command)
        if "@" in command.body:
            fresh = await self._with_mentions(fresh)
        admission = await self._admit(
            user_id, client_msg_id, session_id, command.room, _draft_of(fresh)
        )
        if admission.outcome is Admission.DONE:
            return SentMessage(msgspec.Raw(admission.envelope))
        try:
            if admission.outcome is Admission.NUMBERED:
                # Numbered and recorded as pending by the admission itself (steps 2 and 3).
                envelope = msgspec.structs.replace(fresh, seq=admission.seq)
                encoded = admission.envelope
            else:
                if admission.outcome is Admission.RETRY:
                    envelope = msgspec.json.decode(admission.envelope, type=Envelope)
                else:  # the room's counter is gone: re-created safely by the sequencer
                    seq = await self._sequencer.next(command.room)
                    envelope = msgspec.structs.replace(fresh, seq=seq)
                encoded = msgspec.json.encode(envelope)
                await self._broker.remember_pending(user_id, client_msg_id, encoded)
        except BaseException:
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                await self._broker.release(user_id, client_msg_id)
            raise
        stages = self._metrics.send_stage
        appending = time.perf_counter()
        stages.labels("admit").observe(appending - started)
        try:
            await self._log.append(command.room, encoded)
        except BaseException:
            self._metrics.kafka_errors.inc()
            # Receivers stop waiting for this seq; a retry sends the same envelope again.
            with contextlib.suppress(*DEPENDENCY_ERRORS):
                await self._broker.publish(
                    void_frame(envelope.seq),
                    command.room,
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
                command.room,
                user_id=user_id,
                client_msg_id=client_msg_id,
                envelope=encoded,
            )
        except Exception as exc:
            # Durable in Kafka already: acknowledge. Receivers fill the hole from Postgres.
            self._metrics.redis_errors.labels("publish").inc()
            log.warning("publish failed after a durable send", extra={"error": repr(exc)})
        self._metrics.messages_received.inc()
        done = time.perf_counter()
        stages.labels("publish").observe(done - publishing)
        self._metrics.ack_latency.observe(done - started)
        return SentMessage(msgspec.Raw(frame.message_json), envelope.mentions or ())

    async def _with_mentions(self, fresh: Envelope) -> Envelope:
        """``fresh`` with the room's members its body names (the author left out: nobody is
        told of their own words), read now, so a person removed from the room a moment ago is
        not mentioned."""
        names = mentioned_names(fresh.body, self._max_mentions)
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
    def _fresh_envelope(claims: AccessClaims, command: protocol.Send) -> Envelope:
        """The message as it will be sent, but for its seq (``_UNNUMBERED`` until it has one)."""
        return Envelope(
            id=str(uuid.uuid4()),
            room=command.room,
            seq=_UNNUMBERED,
            user=Author(id=claims.sub, name=claims.name),
            body=command.body,
            ts=format_ts(datetime.now(UTC)),
            client_msg_id=command.client_msg_id,
        )
