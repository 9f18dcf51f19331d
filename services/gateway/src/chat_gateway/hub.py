"""Hub: this gateway's connections, by room, by user and by client address.

The index by user decides when this gateway follows a person's channel: from their first local
connection to their last (``add`` and ``discard`` say when), and ``tell`` hands what arrives on
it to each of their connections here.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from typing import NamedTuple, Protocol

from chat_common.tokens import AccessClaims
from chat_gateway.frames import RoomFrame, ws_text_frame

# A run of a room's frames is written to each member as one write of at most about this many
# bytes: large enough that a gateway behind on a busy room needs few writes per member, small
# enough that a run never looks like a slow reader's backlog (``Outbound``).
RUN_BYTES = 64 * 1024


class Listener(Protocol):
    """What the hub needs of a connection."""

    user_id: str
    session_id: str
    claims: AccessClaims | None

    def kick(self, room: str, reason: str) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...

    def deliver(
        self, room: str, frames: Sequence[RoomFrame], wires: Sequence[bytes], joined: bytes
    ) -> int:
        """A run of live frames, each framed (``wires``) and all of them together (``joined``);
        returns how many were sent."""
        ...

    def deliver_event(self, room: str, wire: bytes) -> None: ...

    def has_joined(self, room: str) -> bool: ...

    def tell(self, wire: bytes) -> None:
        """An event about the connection's own user, framed."""
        ...


class Departure(NamedTuple):
    """What a closed connection leaves behind."""

    emptied_rooms: list[str]  # rooms no local connection follows any more
    last_of_user: bool  # no connection of its user is left here


class Hub:
    def __init__(self) -> None:
        self._by_room: dict[str, set[Listener]] = collections.defaultdict(set)
        self._by_user: dict[str, set[Listener]] = collections.defaultdict(set)
        self._by_address: collections.Counter[str] = collections.Counter()

    def opened_from(self, address: str) -> int:
        """Count a new connection from ``address``; returns how many it now has here."""
        self._by_address[address] += 1
        return self._by_address[address]

    def closed_from(self, address: str) -> None:
        self._by_address[address] -= 1
        if self._by_address[address] <= 0:
            del self._by_address[address]

    def add(self, listener: Listener) -> bool:
        """A connection signed in; True when it is its user's first here."""
        first = listener.user_id not in self._by_user
        self._by_user[listener.user_id].add(listener)
        return first

    def discard(self, listener: Listener, rooms: Iterable[str]) -> Departure:
        """Forget a closed connection and the ``rooms`` it had joined."""
        last = _discard(self._by_user, listener.user_id, listener)
        return Departure([room for room in rooms if self.leave(listener, room)], last)

    def join(self, listener: Listener, room: str) -> bool:
        """Returns True when this is the room's first local member."""
        first = room not in self._by_room
        self._by_room[room].add(listener)
        return first

    def leave(self, listener: Listener, room: str) -> bool:
        """Returns True when the room has no local member left."""
        members = self._by_room.get(room)
        if members is None or listener not in members:
            return False
        return _discard(self._by_room, room, listener)

    def deliver(self, room: str, frames: Sequence[RoomFrame]) -> int:
        """Hand ``frames`` (a run, in order) to the room's local members; returns how many
        deliveries were made."""
        members = self._by_room.get(room)
        if not members:
            return 0
        sent = 0
        for run in _runs(frames):
            # Framed once, joined once, and written as it is to every member.
            wires = [ws_text_frame(frame.frame) for frame in run]
            joined = wires[0] if len(wires) == 1 else b"".join(wires)
            for listener in tuple(members):  # a delivery may close its connection
                sent += listener.deliver(room, run, wires, joined)
        return sent

    def broadcast(self, room: str, payload: bytes) -> None:
        members = self._by_room.get(room)
        if members:
            wire = ws_text_frame(payload)
            for listener in tuple(members):
                listener.deliver_event(room, wire)

    def tell(self, user_id: str, payload: bytes, *, unless_joined: str = "") -> int:
        """Hand an event to every local connection of ``user_id`` (but those that have joined
        ``unless_joined``, when given); returns how many got it."""
        told = 0
        wire = ws_text_frame(payload)
        for listener in tuple(self._by_user.get(user_id, ())):
            if not (unless_joined and listener.has_joined(unless_joined)):
                listener.tell(wire)
                told += 1
        return told

    def of_user(self, user_id: str) -> Iterable[Listener]:
        return tuple(self._by_user.get(user_id, ()))

    @property
    def rooms(self) -> dict[str, set[Listener]]:
        return self._by_room


def _runs(frames: Sequence[RoomFrame]) -> Iterator[Sequence[RoomFrame]]:
    """``frames`` in consecutive runs of at most about ``RUN_BYTES`` each."""
    if len(frames) == 1:
        yield frames
        return
    start, size = 0, 0
    for at, frame in enumerate(frames):
        if size and size + len(frame.frame) > RUN_BYTES:
            yield frames[start:at]
            start, size = at, 0
        size += len(frame.frame)
    yield frames[start:]


def _discard(index: dict[str, set[Listener]], key: str, listener: Listener) -> bool:
    members = index.get(key)
    if members is None:
        return False
    members.discard(listener)
    if not members:
        del index[key]
        return True
    return False
