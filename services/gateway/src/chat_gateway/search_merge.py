"""The newest matches over many rooms without reading every match: each room is read newest
first, a window of messages at a time, and a room is read further only while it could still hold
a message newer than the page's oldest hit so far.

A room's messages are in time order by seq (their times are the sending gateway's clock when the
seq was taken), so below the oldest message read in a room there is nothing newer than it; a
room not read yet has nothing newer than its ``last_active_at`` (plus a slack, as the worker moves
that time only in steps). A common word is thus answered from the newest windows of the most
recently active rooms, whatever the number of rooms; a rare one would read every room to its
start, which is why the caller gives this a budget of rows and otherwise asks the word's index.

Pure bookkeeping: what to read next and when the answer is complete; ``search.MessageSearch``
does the reading.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass
from datetime import datetime

# Above every seq (a bigint): a room not read yet is read from its newest message.
_ABOVE_ALL = 2**63 - 1
# A message's place in search order: (created_at, room, seq), newest first = largest first.
HitKey = tuple[datetime, str, int]


@dataclass
class RoomWalk:
    """How far one room has been read, newest first."""

    room: str
    # Messages with a seq below this are not read yet.
    below: int
    # No message not read yet is newer than this; None once the room is read to its start.
    newest_unread: datetime | None
    # Messages to read in this room's next window.
    window: int


@dataclass(frozen=True)
class WindowRead:
    """What reading one room's window found."""

    room: str
    # Messages read (events included): fewer than the window means the room's start was reached.
    read: int
    oldest_seq: int
    oldest_at: datetime
    # The matching messages among them, as (created_at, seq).
    hits: list[tuple[datetime, int]]


class NewestFirstMerge:
    def __init__(
        self,
        rooms: list[tuple[str, datetime]],
        limit: int,
        before: HitKey | None,
        *,
        first_window: int,
        max_window: int,
        rooms_per_round: int,
    ) -> None:
        """``rooms``: each room and the newest time a message in it may have."""
        self._walks = {
            room: RoomWalk(room, _ABOVE_ALL, newest, first_window) for room, newest in rooms
        }
        self._limit = limit
        self._before = before
        self._max_window = max_window
        self._rooms_per_round = rooms_per_round
        # The best hits so far, oldest first (bisect keeps it sorted), at most ``limit``.
        self._best: list[HitKey] = []
        self.rows_read = 0

    def next_round(self) -> list[RoomWalk]:
        """The rooms to read a window of next, the most recent first; none once the newest
        ``limit`` hits are known."""
        full = len(self._best) >= self._limit
        cutoff = self._best[0][0] if full else None
        pending = [
            walk
            for walk in self._walks.values()
            if walk.newest_unread is not None and (cutoff is None or walk.newest_unread >= cutoff)
        ]
        pending.sort(key=lambda walk: (walk.newest_unread, walk.room), reverse=True)
        return pending[: self._rooms_per_round]

    def record(self, walks: list[RoomWalk], found: list[WindowRead]) -> None:
        """The windows of ``walks`` were read; ``found`` has one entry per room that had any
        message in its window (a room absent from it is read to its start)."""
        by_room = {read.room: read for read in found}
        for walk in walks:
            read = by_room.get(walk.room)
            if read is None or read.read < walk.window or read.oldest_seq <= 1:
                walk.newest_unread = None  # read to its start: seqs begin at 1
            else:
                walk.below, walk.newest_unread = read.oldest_seq, read.oldest_at
                walk.window = min(2 * walk.window, self._max_window)
            if read is None:
                continue
            self.rows_read += read.read
            for at, seq in read.hits:
                self._keep((at, walk.room, seq))

    def hits(self) -> list[HitKey]:
        """The newest ``limit`` hits found, newest first."""
        return self._best[::-1]

    def _keep(self, key: HitKey) -> None:
        if self._before is not None and key >= self._before:
            return
        if len(self._best) >= self._limit:
            if key <= self._best[0]:
                return
            del self._best[0]
        bisect.insort(self._best, key)
