"""In-memory stand-ins for the gateway's interfaces, for unit tests of the domain logic.

The broker and presence have modules of their own (``memory_broker``, ``memory_presence``);
these are the smaller ones: the socket, the durable log and store, the access checks, the
room members a mention may name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import msgspec

from chat_common.envelope import Envelope
from chat_common.errors import ChatError, ErrorCode
from chat_gateway.access import Caller, Entry
from chat_gateway.frames import RoomFrame, frame_of, ws_text_frame
from chat_gateway.my_rooms import MyRoom
from chat_gateway.roster import dm_members
from chat_gateway.store import Room
from chat_gateway.targets import MessageState, apply, decode_frame, state_of


class FakeTransport:
    """A socket whose peer reads nothing until ``drain`` (what was written stays buffered), or
    everything at once with ``reading_peer``. A write may hold several frames, as a socket's
    bytes do: ``frames`` and ``sent`` list them one by one, ``written`` has each write's size."""

    def __init__(self, *, reading_peer: bool = False) -> None:
        self.frames: list[bytes] = []
        self.sent: list[bytes] = []
        self.written: list[int] = []
        self.closed: tuple[int, str] | None = None
        self.reading = True
        self._reading_peer = reading_peer

    def write(self, data: bytes) -> None:
        self.written.append(len(data))
        (self.sent if self._reading_peer else self.frames).extend(split_frames(data))

    def buffered(self) -> int:
        return sum(len(frame) for frame in self.frames)

    def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def drain(self) -> None:
        """The peer reads everything written so far."""
        self.sent += self.frames
        self.frames = []


def split_frames(data: bytes) -> list[bytes]:
    """The complete frames ``ws_text_frame`` built that ``data`` holds, one after another."""
    frames: list[bytes] = []
    while data:
        size = data[1] & 0x7F
        start = 2 if size < 126 else 4 if size == 126 else 10
        if size >= 126:
            size = int.from_bytes(data[2:start], "big")
        frames.append(data[: start + size])
        data = data[start + size :]
    return frames


def payload_of(frame: bytes) -> bytes:
    """The payload of a frame ``ws_text_frame`` built."""
    size = frame[1] & 0x7F
    start = 2 if size < 126 else 4 if size == 126 else 10
    assert frame == ws_text_frame(frame[start:])
    return frame[start:]


class MemoryStore:
    """``StoredMessages`` on dictionaries: what the persistence worker wrote to Postgres, the
    log as sent and each message's state, folded as the worker folds it (``targets.apply``)."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[int, RoomFrame]] = {}
        self._states: dict[str, MessageState] = {}
        self._message_ids: dict[str, dict[int, str]] = {}
        self.failing = False  # reads raise as they do while Postgres is unreachable

    def store(self, room: str, frame: RoomFrame) -> None:
        self._rooms.setdefault(room, {})[frame.seq] = frame
        if frame.is_void:
            return
        try:
            entry = decode_frame(frame)
        except msgspec.ValidationError:
            return  # a frame of the fan-out's tests, a seq alone: the log is all it is in
        if entry.is_message:
            self._message_ids.setdefault(room, {})[entry.seq] = entry.id
            self._states.setdefault(entry.id, state_of(entry))
            return
        target = self._states.get(str(entry.target))
        if target is not None and target.room == room:
            self._states[target.id] = apply(target, entry)

    async def max_seq(self, room: str) -> int:
        return max(self._rooms.get(room, {}), default=0)

    async def between(
        self, room: str, after: int, until: int | None, limit: int
    ) -> list[RoomFrame]:
        if self.failing:
            raise ConnectionRefusedError("Postgres unreachable")
        frames = self._rooms.get(room, {})
        seqs = sorted(s for s in frames if after < s and (until is None or s <= until))
        return [frames[s] for s in seqs[:limit]]

    async def before(self, room: str, before: int | None, limit: int) -> list[MessageState]:
        ids = self._message_ids.get(room, {})
        seqs = sorted(s for s in ids if before is None or s < before)
        return [self._stored_state(ids[s]) for s in seqs[len(seqs) - limit :]]

    async def current(self, room: str, message_id: str) -> MessageState | None:
        state = self._states.get(message_id)
        return None if state is None or state.room != room else self._stored_state(message_id)

    def _stored_state(self, message_id: str) -> MessageState:
        state = self._states[message_id]
        if state.reply_to is None:
            return state
        answered = self._states.get(state.reply_to.id)
        return replace(state, answered_deleted=answered is not None and answered.deleted)


class MemoryLog:
    """``DurableLog`` whose records the persistence worker stores at once (``stores``), or
    later (``store_now``); ``failing`` makes every append fail as a Kafka outage does."""

    def __init__(self, store: MemoryStore, *, stores: bool = True) -> None:
        self._store = store
        self._stores = stores
        self.failing = False
        self.records: list[Envelope] = []
        self._unstored: list[Envelope] = []

    async def append(self, room: str, envelope: bytes) -> None:
        if self.failing:
            raise ChatError(ErrorCode.UNAVAILABLE, "message log unavailable")
        record = msgspec.json.decode(envelope, type=Envelope)
        self.records.append(record)
        self._unstored.append(record)
        if self._stores:
            self.store_now()

    def store_now(self) -> None:
        for record in self._unstored:  # the worker ignores a record stored already
            self._store.store(record.room, frame_of(record))
        self._unstored.clear()

    async def wait_until_stored(self, limit_s: float) -> None:
        """``PersistenceProgress``: the worker keeps up by the time anyone asks."""
        self.store_now()


class OpenRooms:
    """``RoomChecks`` of a chat where every room is public but the ``closed`` ones, a DM is
    for its two people, the ``muted`` (room, user) pairs may not post, the ``staff`` pairs
    moderate, and in the ``read_only`` rooms only they post. ``members`` holds
    the memberships a join or a DM's first use made, (room, user) pairs."""

    def __init__(self) -> None:
        self.closed: set[str] = set()
        self.muted: set[tuple[str, str]] = set()
        self.forgotten: list[tuple[str, str | None]] = []
        self.members: set[tuple[str, str]] = set()
        self.read_only: set[str] = set()
        self.staff: set[tuple[str, str]] = set()

    async def enter(self, caller: Caller, room: str, *, create: bool = True) -> Entry:
        if dm_members(room) is not None:
            await self.for_read(caller, room)
            return await self.open_direct(room)
        found = await self.for_read(caller, room)
        if (room, caller.user_id) in self.members:
            return Entry(found)
        self.members.add((room, caller.user_id))
        return Entry(found, (caller.user_id,))

    async def open_direct(self, room: str) -> Entry:
        pair = dm_members(room)
        assert pair is not None
        found = Room(room, "dm", False)
        if (room, pair[0]) in self.members:
            return Entry(found)
        self.members.update((room, user) for user in pair)
        return Entry(found, pair)

    async def leave(self, caller: Caller, room: str, *, public_only: bool) -> bool:
        if dm_members(room) is not None or (room, caller.user_id) not in self.members:
            return False
        self.members.discard((room, caller.user_id))
        return True

    async def for_read(self, caller: Caller, room: str) -> Room:
        pair = dm_members(room)
        if room in self.closed or (pair is not None and caller.user_id not in pair):
            raise ChatError(ErrorCode.FORBIDDEN, "not a member of this room")
        return Room(room, "public" if pair is None else "dm", False)

    async def for_send(self, caller: Caller, room: str) -> Room:
        found = await self.for_read(caller, room)
        if (room, caller.user_id) in self.muted:
            raise ChatError(ErrorCode.FORBIDDEN, "you are muted in this room")
        if room in self.read_only and not await self.is_staff(caller, room):
            raise ChatError(ErrorCode.FORBIDDEN, f"room {room} is read-only")
        return found

    async def is_staff(self, caller: Caller, room: str) -> bool:
        return (room, caller.user_id) in self.staff

    def forget(self, room: str, user_id: str | None) -> None:
        self.forgotten.append((room, user_id))


class MemoryMarkers:
    """``Markers`` on a dictionary: (user, room) to seq; ``newest`` is each room's stored
    newest seq (``rooms.last_seq``)."""

    def __init__(self) -> None:
        self.seqs: dict[tuple[str, str], int] = {}
        self.newest: dict[str, int] = {}

    async def advance(self, user_id: str, room: str, seq: int, newest_live: int) -> int | None:
        seq = min(seq, max(self.newest.get(room, 0), newest_live))
        if self.seqs.get((user_id, room), -1) >= seq:
            return None
        self.seqs[(user_id, room)] = seq
        return seq


class MemoryMyRooms:
    """``PersonalRooms`` from the memberships ``OpenRooms`` made and ``MemoryMarkers``."""

    def __init__(self, rooms: OpenRooms, markers: MemoryMarkers) -> None:
        self._rooms = rooms
        self._markers = markers

    async def listed(self, user_id: str, limit: int) -> list[MyRoom]:
        mine = sorted(room for room, user in self._rooms.members if user == user_id)
        return [self._room(user_id, room) for room in mine[:limit]]

    async def one(self, user_id: str, room: str) -> MyRoom | None:
        if (room, user_id) not in self._rooms.members:
            return None
        return self._room(user_id, room)

    def _room(self, user_id: str, room: str) -> MyRoom:
        last_seq = self._markers.newest.get(room, 0)
        read_seq = self._markers.seqs.get((user_id, room), 0)
        return MyRoom(
            id=room,
            name=room,
            kind="dm" if dm_members(room) else "public",
            read_only=False,
            topic="",
            role="member",
            last_seq=last_seq,
            read_seq=read_seq,
            unread=max(0, last_seq - read_seq),
            mentions=0,
            last_active_at="2026-01-01T00:00:00.000Z",
        )


class RoomMembersByName:
    """``MemberNames``: ``members[room]`` maps usernames to ids; ``lookups`` counts the queries a
    real roster would have made."""

    def __init__(self) -> None:
        self.members: dict[str, dict[str, str]] = {}
        self.lookups = 0

    async def members_named(self, room: str, names: Sequence[str]) -> dict[str, str]:
        self.lookups += 1
        known = self.members.get(room, {})
        return {name: known[name] for name in names if name in known}
