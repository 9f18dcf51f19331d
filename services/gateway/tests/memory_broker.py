"""An in-memory ``Broker`` for unit tests of the domain (session, fan-out, the message path).

``MemoryBackend`` is what Redis holds for every gateway of a test (counters, windows, dedup
records, buckets) and ``MemoryBroker`` one gateway's view of it, with its own subscriptions, so
a test can run two gateways against one backend. ``test_broker_contract.py`` runs the same cases
against this and ``RedisBroker``, so what a unit test shows here holds on Redis.

Live delivery is pub/sub's: handed over a moment after the publish (``call_soon``), in publish
order, at most once. A test makes it misbehave as Redis may: ``drop_live`` loses live copies
(the window keeps them), ``hold_live``/``release_held`` reorder them, ``lose_connection`` and
``reconnect`` cut the subscription (rooms and people) and bring it back, ``lose_counters``
forgets every seq
counter as a Redis restart without persistence does.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import msgspec

from chat_gateway.broker import Admission, BrokerEvents, EnvelopeDraft, SendAdmission
from chat_gateway.frames import RoomFrame, one_per_seq
from chat_gateway.limits import TYPING_INTERVAL_MS, TokenBucket
from chat_gateway.room_events import CONTROL_CHANNELS

Clock = Callable[[], float]


class _RoomOf(msgspec.Struct):
    room: str


_room_of = msgspec.json.Decoder(_RoomOf)
_event_encoder = msgspec.json.Encoder()


class _Record:
    __slots__ = ("envelope", "expires_at", "state")

    def __init__(self, state: str, envelope: bytes, expires_at: float) -> None:
        self.state = state
        self.envelope = envelope
        self.expires_at = expires_at


class _Window:
    __slots__ = ("entries", "expires_at")

    def __init__(self) -> None:
        self.entries: set[tuple[int, bytes]] = set()
        self.expires_at = 0.0


class MemoryBackend:
    """The shared state behind every ``MemoryBroker`` of a test, as one Redis is."""

    def __init__(
        self,
        *,
        window_size: int = 1000,
        window_ttl_s: float = 86_400,
        dedup_ttl_s: float = 86_400,
        send_rate_per_s: float = 500.0,
        send_burst: int = 1000,
        send_lock_s: float = 15.0,
        clock: Clock = time.monotonic,
    ) -> None:
        self._window_size = window_size
        self._window_ttl_s = window_ttl_s
        self._dedup_ttl_s = dedup_ttl_s
        self._send_rate_per_s = send_rate_per_s
        self._send_burst = send_burst
        self._send_lock_s = send_lock_s
        self.clock = clock
        self._seqs: dict[str, int] = {}
        self._windows: dict[str, _Window] = {}
        self._records: dict[tuple[str, str], _Record] = {}
        self._locks: dict[tuple[str, str], tuple[float, str]] = {}  # until, owner
        self._buckets: dict[str, TokenBucket] = {}
        self._typing: dict[tuple[str, str], float] = {}
        self._brokers: list[MemoryBroker] = []

    def broker(self) -> MemoryBroker:
        """A broker for one more gateway."""
        broker = MemoryBroker(self)
        self._brokers.append(broker)
        return broker

    def lose_counters(self) -> None:
        """Forget every seq counter, as a Redis restarted without persistence does."""
        self._seqs.clear()

    def restart_empty(self) -> None:
        """Forget everything, as a Redis restarted without persistence does."""
        self._seqs.clear()
        self._windows.clear()
        self._records.clear()
        self._locks.clear()

    # -- admission ------------------------------------------------------------------------------

    def admit(
        self,
        user_id: str,
        client_msg_id: str,
        owner: str,
        room: str,
        draft: EnvelopeDraft | None = None,
    ) -> SendAdmission:
        key = (user_id, client_msg_id)
        now = self.clock()
        record = self._records.get(key)
        if record is not None and record.expires_at <= now:
            del self._records[key]
            record = None
        if record is not None:
            if _room_of.decode(record.envelope).room != room:
                return SendAdmission(Admission.CONFLICT)
            if record.state == "done":
                return SendAdmission(Admission.DONE, record.envelope)
        held = self._locks.get(key)
        if held is not None and held[0] > now and held[1] != owner:
            return SendAdmission(Admission.BUSY)
        self._locks[key] = (now + self._send_lock_s, owner)
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = TokenBucket(
                self._send_rate_per_s, self._send_burst, self.clock
            )
        wait_ms = bucket.take()
        if wait_ms:
            del self._locks[key]
            return SendAdmission(Admission.LIMITED, retry_after_ms=wait_ms)
        if record is not None:  # pending
            return SendAdmission(Admission.RETRY, record.envelope)
        if draft is not None and room in self._seqs:
            seq = self._seqs[room] = self._seqs[room] + 1
            numbered = draft.with_seq(seq)
            self.remember_pending(user_id, client_msg_id, numbered)
            return SendAdmission(Admission.NUMBERED, numbered, seq=seq)
        return SendAdmission(Admission.NEW)

    def remember_pending(self, user_id: str, client_msg_id: str, envelope: bytes) -> None:
        expires_at = self.clock() + self._dedup_ttl_s
        self._records[(user_id, client_msg_id)] = _Record("pending", envelope, expires_at)

    def release(self, user_id: str, client_msg_id: str) -> None:
        self._locks.pop((user_id, client_msg_id), None)

    # -- seq counters ---------------------------------------------------------------------------

    def next_seq(self, room: str) -> int | None:
        if room not in self._seqs:
            return None
        self._seqs[room] += 1
        return self._seqs[room]

    def has_seq(self, room: str) -> bool:
        return room in self._seqs

    def seed_seq(self, room: str, floor: int) -> None:
        self._seqs.setdefault(room, floor)

    def current_seq(self, room: str) -> int:
        return self._seqs.get(room, 0)

    # -- publish and the window -----------------------------------------------------------------

    def publish(
        self, frame: RoomFrame, room: str, user_id: str, client_msg_id: str, envelope: bytes
    ) -> None:
        now = self.clock()
        window = self._live_window(room, now)
        if window is None:
            window = self._windows[room] = _Window()
        window.entries.add((frame.seq, frame.frame))
        for entry in sorted(window.entries)[: -self._window_size]:
            window.entries.discard(entry)
        window.expires_at = now + self._window_ttl_s
        for broker in self._brokers:
            broker.published(room, frame)
        key = (user_id, client_msg_id)
        if envelope:
            self._records[key] = _Record("done", envelope, now + self._dedup_ttl_s)
        self._locks.pop(key, None)

    def window(self, room: str, after: int, until: int | None) -> list[RoomFrame]:
        window = self._live_window(room, self.clock())
        if window is None:
            return []
        return one_per_seq(
            RoomFrame(seq, frame)
            for seq, frame in window.entries
            if after < seq and (until is None or seq <= until)
        )

    def _live_window(self, room: str, now: float) -> _Window | None:
        window = self._windows.get(room)
        if window is not None and window.expires_at <= now:
            del self._windows[room]
            return None
        return window

    # -- ephemeral and control ------------------------------------------------------------------

    def typing_allowed(self, room: str, user_id: str) -> bool:
        now = self.clock()
        if self._typing.get((room, user_id), 0.0) > now:
            return False
        self._typing[(room, user_id)] = now + TYPING_INTERVAL_MS / 1000
        return True

    def announce(self, room: str, payload: bytes) -> None:
        for broker in self._brokers:
            broker.announced(room, payload)

    def publish_control(self, channel: str, data: bytes) -> None:
        for broker in self._brokers:
            broker.controlled(channel, data)

    def tell_person(self, user_id: str, data: bytes) -> None:
        for broker in self._brokers:
            broker.told(user_id, data)


class MemoryBroker:
    """One gateway's ``Broker`` on a ``MemoryBackend``."""

    def __init__(
        self, backend: MemoryBackend, control_channels: tuple[str, ...] = CONTROL_CHANNELS
    ) -> None:
        self._backend = backend
        self._control_channels = control_channels
        self._events: BrokerEvents | None = None
        self._rooms: dict[str, asyncio.Event] = {}
        self._persons: dict[str, asyncio.Event] = {}
        self._connected = False
        self._drops: dict[str, int] = {}
        self._held: list[tuple[str, RoomFrame]] | None = None
        self.healthy = False

    # -- Broker: the shared state ---------------------------------------------------------------

    async def admit(
        self,
        user_id: str,
        client_msg_id: str,
        owner: str,
        room: str,
        draft: EnvelopeDraft | None = None,
    ) -> SendAdmission:
        return self._backend.admit(user_id, client_msg_id, owner, room, draft)

    async def remember_pending(self, user_id: str, client_msg_id: str, envelope: bytes) -> None:
        self._backend.remember_pending(user_id, client_msg_id, envelope)

    async def release(self, user_id: str, client_msg_id: str) -> None:
        self._backend.release(user_id, client_msg_id)

    async def next_seq(self, room: str) -> int | None:
        return self._backend.next_seq(room)

    async def has_seq(self, room: str) -> bool:
        return self._backend.has_seq(room)

    async def seed_seq(self, room: str, floor: int) -> None:
        self._backend.seed_seq(room, floor)

    async def current_seq(self, room: str) -> int:
        return self._backend.current_seq(room)

    async def current_seqs(self, rooms: list[str]) -> list[int]:
        return [self._backend.current_seq(room) for room in rooms]

    async def publish(
        self,
        frame: RoomFrame,
        room: str,
        *,
        user_id: str = "",
        client_msg_id: str = "",
        envelope: bytes = b"",
    ) -> None:
        self._backend.publish(frame, room, user_id, client_msg_id, envelope)

    async def window(self, room: str, after: int, until: int | None = None) -> list[RoomFrame]:
        return self._backend.window(room, after, until)

    async def typing(self, room: str, user_id: str, name: str) -> bool:
        if not self._backend.typing_allowed(room, user_id):
            return False
        await self.announce(
            room, {"type": "typing", "room": room, "user": {"id": user_id, "name": name}}
        )
        return True

    async def announce(self, room: str, event: dict[str, Any]) -> None:
        self._backend.announce(room, _event_encoder.encode(event))

    async def publish_control(self, channel: str, data: bytes) -> None:
        self._backend.publish_control(channel, data)

    # -- Broker: following rooms ----------------------------------------------------------------

    async def start(self, events: BrokerEvents) -> None:
        self._events = events
        self._connected = self.healthy = True

    async def stop(self) -> None:
        self._connected = self.healthy = False
        self._events = None

    async def subscribe(self, room: str) -> None:
        confirmed = self._rooms.get(room)
        if confirmed is None:
            confirmed = self._rooms[room] = asyncio.Event()
            if self._connected:
                asyncio.get_running_loop().call_soon(confirmed.set)
        await confirmed.wait()

    async def unsubscribe(self, room: str) -> None:
        self._rooms.pop(room, None)

    async def subscribe_person(self, user_id: str) -> None:
        confirmed = self._persons.get(user_id)
        if confirmed is None:
            confirmed = self._persons[user_id] = asyncio.Event()
            if self._connected:
                asyncio.get_running_loop().call_soon(confirmed.set)
        await confirmed.wait()

    async def unsubscribe_person(self, user_id: str) -> None:
        self._persons.pop(user_id, None)

    async def tell_person(self, user_id: str, data: bytes) -> None:
        self._backend.tell_person(user_id, data)

    # -- what the backend hands over ------------------------------------------------------------

    def published(self, room: str, frame: RoomFrame) -> None:
        if not self._connected or room not in self._rooms:
            return
        if self._drops.get(room, 0) > 0:
            self._drops[room] -= 1
            return
        if self._held is not None:
            self._held.append((room, frame))
            return
        asyncio.get_running_loop().call_soon(self._hand_over, room, frame)

    def announced(self, room: str, payload: bytes) -> None:
        if self._connected and room in self._rooms and self._events is not None:
            asyncio.get_running_loop().call_soon(self._events.on_event, room, payload)

    def controlled(self, channel: str, data: bytes) -> None:
        if self._connected and channel in self._control_channels and self._events is not None:
            asyncio.get_running_loop().call_soon(self._events.on_control, channel, data)

    def told(self, user_id: str, data: bytes) -> None:
        if self._connected and user_id in self._persons:
            asyncio.get_running_loop().call_soon(self._hand_over_person, user_id, data)

    def _hand_over_person(self, user_id: str, data: bytes) -> None:
        if self._connected and user_id in self._persons and self._events is not None:
            self._events.on_person(user_id, data)

    def _hand_over(self, room: str, frame: RoomFrame) -> None:
        if self._connected and room in self._rooms and self._events is not None:
            self._events.on_frame(room, frame)

    # -- misbehaving as Redis may ---------------------------------------------------------------

    @property
    def subscribed(self) -> set[str]:
        return set(self._rooms)

    @property
    def persons(self) -> set[str]:
        """The people this gateway follows."""
        return set(self._persons)

    def drop_live(self, room: str, count: int = 1) -> None:
        """The next ``count`` live frames of ``room`` never arrive here (they stay in the
        window), as a message Redis could not deliver."""
        self._drops[room] = self._drops.get(room, 0) + count

    def hold_live(self) -> None:
        """Keep live frames back until ``release_held``."""
        self._held = []

    def release_held(self, order: list[int] | None = None) -> None:
        """Hand over the held frames, in ``order`` (indexes into what was held) or as held."""
        held, self._held = self._held or [], None
        for index in order if order is not None else range(len(held)):
            self._hand_over(*held[index])

    def lose_connection(self) -> None:
        """The subscription connection drops: nothing arrives until ``reconnect``."""
        self._connected = self.healthy = False
        for confirmed in (*self._rooms.values(), *self._persons.values()):
            confirmed.clear()

    def reconnect(self) -> None:
        """Subscribed again to every room and person, and the handler told that frames may be
        missing."""
        self._connected = self.healthy = True
        for confirmed in (*self._rooms.values(), *self._persons.values()):
            confirmed.set()
        assert self._events is not None
        self._events.on_resubscribed()
