"""What one connection has been sent of one room, so that every seq reaches it once.

The gateway delivers a room in seq order, but a seq given up on (its sender died mid-send) may
still arrive later, after a reconnecting client already got it from catch-up. The cursor keeps
the highest seq sent and the few seqs below it that were never sent: only those pass late.
Pure logic, no I/O; in the usual case (no holes) it costs one comparison per frame.
"""

from __future__ import annotations

from collections import OrderedDict

# Holes remembered per connection and room. A late arrival is a seq given up on moments ago,
# so the newest few hundred holes are all that can matter.
_HOLES = 256


class RoomCursor:
    def __init__(self, after: int = 0) -> None:
        self.high = after
        self._holes: OrderedDict[int, None] = OrderedDict()

    def admit(self, seq: int) -> bool:
        """Record ``seq`` as sent; False when the connection already has it."""
        if seq > self.high:
            for hole in range(max(self.high + 1, seq - _HOLES), seq):
                self._holes[hole] = None
            while len(self._holes) > _HOLES:
                self._holes.popitem(last=False)
            self.high = seq
            return True
        if seq in self._holes:
            del self._holes[seq]
            return True
        return False
