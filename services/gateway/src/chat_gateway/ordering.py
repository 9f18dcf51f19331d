"""Puts one room's frames in seq order for this gateway (G2), whatever order Redis brings them.

Pure logic, no I/O: the fan-out feeds it frames and asks it which seqs are missing; it answers
with frames ready to deliver. A seq that never shows up (its sender died between taking the
seq and publishing) is given up after a deadline; if it turns up later after all it is still
delivered, late, rather than lost.
"""

from __future__ import annotations

from collections import OrderedDict

from chat_gateway.frames import RoomFrame

# Seqs given up on that may still arrive late. In flight at once per room are a handful of
# messages (one Kafka round trip each); 256 leaves room for bursts and costs a few KiB.
_LATE_MEMORY = 256


class RoomOrder:
    def __init__(self, last: int) -> None:
        self.last = last
        self._pending: dict[int, RoomFrame] = {}
        self._unseen: OrderedDict[int, None] = OrderedDict()

    def accept(self, frame: RoomFrame) -> list[RoomFrame]:
        """Frames ready for delivery, in order, after ``frame`` arrived."""
        if frame.seq <= self.last:
            if frame.seq in self._unseen and not frame.is_void:
                del self._unseen[frame.seq]
                return [frame]
            return []
        known = self._pending.get(frame.seq)
        if known is None or known.is_void:
            self._pending[frame.seq] = frame
        return self._drain()

    @property
    def missing(self) -> tuple[int, int] | None:
        """The first hole as (after, until): seqs after < s <= until are awaited."""
        if not self._pending:
            return None
        return self.last, min(self._pending) - 1

    def give_up_until(self, seq: int) -> list[RoomFrame]:
        """Stop waiting for every seq up to ``seq``; returns what is now deliverable."""
        ready: list[RoomFrame] = []
        for waited in range(self.last + 1, seq + 1):
            frame = self._pending.pop(waited, None)
            if frame is None or frame.is_void:
                self._remember_unseen(waited)
            else:
                ready.append(frame)
        self.last = max(self.last, seq)
        return ready + self._drain()

    def _drain(self) -> list[RoomFrame]:
        ready: list[RoomFrame] = []
        while (frame := self._pending.pop(self.last + 1, None)) is not None:
            self.last = frame.seq
            if frame.is_void:
                # A failed send's seq: its retry may still deliver the message, late.
                self._remember_unseen(frame.seq)
            else:
                ready.append(frame)
        return ready

    def _remember_unseen(self, seq: int) -> None:
        self._unseen[seq] = None
        while len(self._unseen) > _LATE_MEMORY:
            self._unseen.popitem(last=False)
