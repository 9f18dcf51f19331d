"""The broker: what the message path and the fan-out need of the store every gateway shares.

One interface for send admission, seq counters, the recent window, publishing and following
rooms, as centrifugal/centrifuge's broker is one interface for publish, subscribe and history.
The domain (``sending``, ``sequencer``, ``history``, ``fanout``) talks only to ``Broker``; the
app factory chooses the implementation (``redis_broker.RedisBroker``), and the unit tests use an
in-memory one that keeps the same contract (``tests/test_broker_contract.py`` runs both):

- ``admit`` decides a send in one atomic step (docs/architecture.md, message path steps 1-3,
  numbering and recording it too when it can): a finished earlier send of the same
  ``(user, client_msg_id)`` is ``DONE`` with its envelope, an unfinished one is ``RETRY``
  with the envelope it recorded, one in flight is ``BUSY``; a record belongs to the room of
  its envelope, so the id sent to another room is a ``CONFLICT``; the user's send rate is
  checked last (``LIMITED``), and every other outcome holds the in-flight lock until
  ``publish`` or ``release`` frees it.
- ``next_seq`` is None when the room's counter is gone (the store lost it): the caller seeds
  it (``seed_seq``, a no-op when another gateway did first) and asks again, so a seq never goes
  backwards (G2).
- ``publish`` adds the frame to the room's recent window and delivers it live as one step
  (step 4), and marks the dedup record done in the same step when given the envelope.
- Live delivery is at most once (pub/sub): ``subscribe`` returns once every frame published
  afterwards reaches the events handler, and after a lost connection ``on_resubscribed`` says
  that frames published meanwhile may be missing, to be read from the window and the store.
- A person's channel (``subscribe_person``, ``tell_person``) carries events about one user to
  every gateway holding a connection of theirs, with the same at-most-once delivery and the
  same restoration after a lost connection; what it says is durable elsewhere (Postgres), so a
  lost event costs a client a refresh, never data.
"""

from __future__ import annotations

import enum
from typing import Any, Protocol

import msgspec

from chat_gateway.frames import RoomFrame


class Admission(enum.Enum):
    NEW = "new"  # first attempt: allocate a seq and send
    NUMBERED = "numbered"  # first attempt, numbered and recorded as pending in the same step
    RETRY = "retry"  # an earlier attempt failed: send the same envelope again
    DONE = "done"  # already sent: answer with the stored result
    BUSY = "busy"  # the same client_msg_id is being sent right now
    LIMITED = "limited"  # over the send rate
    CONFLICT = "conflict"  # this client_msg_id already names a message of another room


class SendAdmission(msgspec.Struct, frozen=True):
    outcome: Admission
    envelope: bytes = b""
    retry_after_ms: int = 0
    seq: int = 0  # NUMBERED: the seq given to the message


class EnvelopeDraft(msgspec.Struct, frozen=True):
    """A new message's encoded envelope on both sides of its seq, so the broker can number it
    and record it as pending in the step that admits it (``head + seq + tail``)."""

    head: bytes
    tail: bytes

    def with_seq(self, seq: int) -> bytes:
        return b"%b%d%b" % (self.head, seq, self.tail)


class BrokerEvents(Protocol):
    """What a broker hands its gateway as it arrives (the fan-out implements it). Called from
    the broker's reader, one at a time, in the order the broker received them."""

    def on_frame(self, room: str, frame: RoomFrame) -> None:
        """A seq-numbered frame published in a subscribed room."""

    def on_event(self, room: str, payload: bytes) -> None:
        """An ephemeral event of a subscribed room (typing, presence): a JSON event frame."""

    def on_control(self, channel: str, data: bytes) -> None:
        """A message on one of the control channels every gateway follows."""

    def on_person(self, user_id: str, data: bytes) -> None:
        """A message on the channel of a person this gateway follows."""

    def on_resubscribed(self) -> None:
        """The connection was lost and is back: frames published meanwhile were not delivered."""


class Broker(Protocol):
    # -- send admission and the dedup record (step 1, G4) ---------------------------------------

    async def admit(
        self,
        user_id: str,
        client_msg_id: str,
        owner: str,
        room: str,
        draft: EnvelopeDraft | None = None,
    ) -> SendAdmission:
        """With a ``draft``, a first attempt in a room whose counter exists is ``NUMBERED``:
        given the next seq and recorded as pending (``remember_pending``) in the same step,
        one round trip instead of three; without one, or when the counter is gone, ``NEW``.

        ``owner`` (the session) takes the in-flight lock; another owner is ``BUSY`` until it is
        released or expires. The same owner is admitted again: a session runs one command at a
        time, so a lock of its own is left from an attempt that ended, typically one whose
        answer was lost with its connection to Redis after the lock was taken (the client
        library then runs the admission again, and the client resends)."""

    async def remember_pending(self, user_id: str, client_msg_id: str, envelope: bytes) -> None:
        """Record the envelope about to be sent, so a retry after a failure re-sends it."""

    async def release(self, user_id: str, client_msg_id: str) -> None:
        """Free the in-flight lock of a send that ends without publishing."""

    # -- seq counters (step 2, G2) --------------------------------------------------------------

    async def next_seq(self, room: str) -> int | None: ...

    async def has_seq(self, room: str) -> bool: ...

    async def seed_seq(self, room: str, floor: int) -> None:
        """Re-create a lost counter at ``floor`` unless another gateway already did."""

    async def current_seq(self, room: str) -> int:
        """The room's counter, 0 when it has none."""

    async def current_seqs(self, rooms: list[str]) -> list[int]: ...

    # -- publish and the recent window (step 4, G3) ---------------------------------------------

    async def publish(
        self,
        frame: RoomFrame,
        room: str,
        *,
        user_id: str = "",
        client_msg_id: str = "",
        envelope: bytes = b"",
    ) -> None:
        """Add ``frame`` to the window and deliver it live, at once; with ``envelope``, mark
        the send of ``(user_id, client_msg_id)`` done. The in-flight lock is freed either way."""

    async def window(self, room: str, after: int, until: int | None = None) -> list[RoomFrame]:
        """Frames of the recent window with after < seq <= until, ascending, one per seq (a
        message wins over a void of the same seq)."""

    # -- ephemeral events and control messages --------------------------------------------------

    async def typing(self, room: str, user_id: str, name: str) -> bool:
        """Announce that the user types, unless they did in this room within the interval."""

    async def announce(self, room: str, event: dict[str, Any]) -> None:
        """An ephemeral event for the room's members on every gateway; never stored."""

    async def publish_control(self, channel: str, data: bytes) -> None:
        """A message for every gateway on a control channel."""

    # -- following rooms (step 6) ---------------------------------------------------------------

    @property
    def healthy(self) -> bool:
        """Subscribed: live frames can arrive."""

    async def start(self, events: BrokerEvents) -> None:
        """Follow the control channels, and from now on hand what arrives to ``events``."""

    async def stop(self) -> None: ...

    async def subscribe(self, room: str) -> None:
        """Returns once every frame published in ``room`` afterwards will be handed over."""

    async def unsubscribe(self, room: str) -> None: ...

    # -- following people -----------------------------------------------------------------------

    async def subscribe_person(self, user_id: str) -> None:
        """Returns once every message told to ``user_id`` afterwards will be handed over."""

    async def unsubscribe_person(self, user_id: str) -> None:
        """Stops at once: from the moment it is called, a new ``subscribe_person`` of the same
        user subscribes afresh."""

    async def tell_person(self, user_id: str, data: bytes) -> None:
        """A message for every gateway following ``user_id``."""
