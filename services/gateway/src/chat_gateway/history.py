"""History and catch-up: the recent window in Redis for the newest messages, Postgres beyond it.

A message is in the window from the moment it is acknowledged, and in Postgres a moment later,
so every read merges both and lets neither alone decide what exists.
"""

from __future__ import annotations

from chat_gateway.broker import RoomBroker
from chat_gateway.frames import RoomFrame
from chat_gateway.store import MessageStore


class MessageHistory:
    def __init__(self, broker: RoomBroker, store: MessageStore) -> None:
        self._broker = broker
        self._store = store

    async def after(self, room: str, since: int, limit: int) -> tuple[list[RoomFrame], bool]:
        """Messages with seq > since, ascending; ``complete`` is False when more than ``limit``.

        When the gap is too large the newest ``limit`` messages are returned, so a client that
        gives up on catching up still sees the present.
        """
        recent = await self._broker.window(room, since)
        frames = _merge(recent, await self._older_than_window(room, since, recent, limit + 1))
        frames = [frame for frame in frames if not frame.is_void]
        if len(frames) > limit:
            # Only the window is contiguous up to now; the client pages history for the rest.
            return [frame for frame in recent if not frame.is_void][-limit:], False
        return frames, True

    async def between(self, room: str, after: int, until: int) -> list[RoomFrame]:
        recent = await self._broker.window(room, after, until)
        older = await self._older_than_window(room, after, recent, until - after, until)
        return _merge(recent, older)

    async def before(
        self, room: str, before: int | None, limit: int
    ) -> tuple[list[RoomFrame], bool]:
        """The newest ``limit`` messages with seq < before, ascending, and whether older exist."""
        upper = None if before is None else before - 1
        recent = [f for f in await self._broker.window(room, 0, upper) if not f.is_void]
        recent = recent[-(limit + 1) :]
        stored_before = recent[0].seq if len(recent) > limit else before
        stored = await self._store.before(room, stored_before, limit + 1)
        frames = _merge(recent, stored)
        return frames[-limit:], len(frames) > limit

    async def newest_seq(self, room: str) -> int:
        recent = await self._broker.window(room, 0)
        return max(recent[-1].seq if recent else 0, await self._store.max_seq(room))

    async def _older_than_window(
        self, room: str, after: int, recent: list[RoomFrame], limit: int, until: int | None = None
    ) -> list[RoomFrame]:
        if recent and recent[0].seq == after + 1:
            return []  # the window reaches back to the start: Postgres has nothing to add
        upper = recent[0].seq - 1 if recent else until
        return await self._store.between(room, after, upper, limit)


def _merge(first: list[RoomFrame], second: list[RoomFrame]) -> list[RoomFrame]:
    by_seq = {frame.seq: frame for frame in second}
    for frame in first:
        known = by_seq.get(frame.seq)
        if known is None or known.is_void:
            by_seq[frame.seq] = frame
    return [by_seq[seq] for seq in sorted(by_seq)]
