"""What one simulated person saw: their own messages on the way back, and each room's seqs.

Every sender is also a member of the room it writes to, so each acknowledged message must come
back to its sender (live, or in a `join` catch-up after a reconnect). An acknowledged message that
has not come back after the drain period is lost; a `(room, seq)` that arrives twice is a
duplicate; a seq missing between the first one seen in a room and the newest is a gap.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RoomView:
    """The seqs of one room this person received, from the room's `last_seq` at the first join."""

    start: int
    seen: set[int] = field(default_factory=set)

    @property
    def newest(self) -> int:
        return max(self.seen, default=self.start)

    def gaps(self) -> int:
        return self.newest - self.start - len(self.seen)


@dataclass
class Ledger:
    acked: int = 0
    own_delivered: int = 0
    duplicates: int = 0
    rooms: dict[str, RoomView] = field(default_factory=dict)
    # client_msg_id -> when it was sent, until it comes back.
    _sent: dict[str, float] = field(default_factory=dict)
    # Acknowledged and not back yet; back before its acknowledgement (the echo can overtake it).
    _acked: set[str] = field(default_factory=set)
    _back_early: set[str] = field(default_factory=set)

    def joined(self, room: str, last_seq: int) -> None:
        """The first join sets where the room's history starts for this person."""
        self.rooms.setdefault(room, RoomView(start=last_seq))

    def since(self, room: str) -> int | None:
        """The `since` to rejoin with: the newest seq received in a room joined before."""
        view = self.rooms.get(room)
        return None if view is None else view.newest

    def sending(self, client_msg_id: str, sent_at: float) -> None:
        self._sent[client_msg_id] = sent_at

    def acknowledged(self, client_msg_id: str) -> None:
        self.acked += 1
        if client_msg_id in self._back_early:
            self._back_early.discard(client_msg_id)
            self.own_delivered += 1
        else:
            self._acked.add(client_msg_id)

    def refused(self, client_msg_id: str) -> None:
        """No acknowledgement (an error or a timeout): the message is not owed to anyone."""
        self._sent.pop(client_msg_id, None)
        self._back_early.discard(client_msg_id)

    def delivered(self, room: str, seq: int, client_msg_id: str) -> float | None:
        """Records one received message; returns when it was sent if it is this person's own."""
        view = self.rooms.get(room)
        if view is None or seq <= view.start:
            return None  # before this person first joined the room: not theirs to count
        if seq in view.seen:
            self.duplicates += 1
            return None
        view.seen.add(seq)
        sent_at = self._sent.pop(client_msg_id, None)
        if client_msg_id in self._acked:
            self._acked.discard(client_msg_id)
            self.own_delivered += 1
        elif sent_at is not None:
            self._back_early.add(client_msg_id)
        return sent_at

    def lost(self) -> int:
        return len(self._acked)

    def gaps(self) -> int:
        return sum(view.gaps() for view in self.rooms.values())
