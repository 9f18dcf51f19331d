"""Hub: this gateway's connections, by room, by user and by client address."""

from __future__ import annotations

import collections
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol

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

    def add(self, listener: Listener) -> None:
        self._by_user[listener.user_id].add(listener)

    def discard(self, listener: Listener, rooms: Iterable[str]) -> list[str]:
        """Forget a closed connection and the ``rooms`` it had joined; returns the rooms no
        local connection follows any more."""
        _discard(self._by_user, listener.user_id, listener)
        return [room for room in rooms if self.leave(listener, room)]

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
