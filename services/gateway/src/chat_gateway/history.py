"""History and catch-up: the recent window in Redis for the newest entries, Postgres beyond it.

An entry is in the window from the moment it is acknowledged, and in Postgres a moment later,
so every read merges both and lets neither alone decide what exists.

Catch-up (``after``, ``between``) replays the log: messages as sent and the events, for the
client to apply. History (``before``) lists messages only, in their current state: the state
the persistence worker keeps in Postgres with the window's events folded on (``targets``), so
a message edited a moment ago shows its new text before the edit is stored.
"""

from __future__ import annotations

from typing import Protocol

from chat_gateway.broker import Broker
from chat_gateway.frames import RoomFrame, frame_of_json
from chat_gateway.targets import (
    MessageState,
    StoredStates,
    apply,
    decode_frame,
    is_event,
    render,
    state_of,
)


class StoredMessages(StoredStates, Protocol):
    """The durable log (``store.MessageStore``: Postgres), ascending by seq."""

    async def between(
        self, room: str, after: int, until: int | None, limit: int
    ) -> list[RoomFrame]:
        """The entries with after < seq <= until, as they were sent (as far as a delete left
        them words), at most ``limit``."""

    async def before(self, room: str, before: int | None, limit: int) -> list[MessageState]:
        """The newest ``limit`` messages (not events) with seq < before, in their stored state."""


class MessageHistory:
    def __init__(self, broker: Broker, store: StoredMessages) -> None:
        self._broker = broker
        self._store = store

    async def after(
        self, room: str, since: int, limit: int, max_bytes: int | None = None
    ) -> tuple[list[RoomFrame], bool]:
        """Messages with seq > since, ascending; ``complete`` is False when there are more than
        ``limit`` or than fit in ``max_bytes``.

        When the gap is too large the newest messages that fit are returned, so a client that
        gives up on catching up still sees the present and pages history for the rest.
        """
        recent = await self._broker.window(room, since)
        frames = _merge(recent, await self._older_than_window(room, since, recent, limit + 1))
        frames = [frame for frame in frames if not frame.is_void]
        if len(frames) > limit:
            # Only the window is contiguous up to now; the client pages history for the rest.
            frames = [frame for frame in recent if not frame.is_void][-limit:]
            return newest_within(frames, max_bytes)[0], False
        fitting, cut = newest_within(frames, max_bytes)
        return fitting, not cut

    async def between(self, room: str, after: int, until: int) -> list[RoomFrame]:
        recent = await self._broker.window(room, after, until)
        older = await self._older_than_window(room, after, recent, until - after, until)
        return _merge(recent, older)

    async def before(
        self, room: str, before: int | None, limit: int, viewer: str
    ) -> tuple[list[RoomFrame], bool]:
        """The newest ``limit`` messages with seq < before, ascending, in their current state
        as ``viewer`` sees it (``me`` in reactions), and whether older ones exist."""
        window = [frame for frame in await self._broker.window(room, 0) if not frame.is_void]
        events = [decode_frame(frame) for frame in window if is_event(frame)]
        recent = [
            frame
            for frame in window
            if (before is None or frame.seq < before) and not is_event(frame)
        ][-(limit + 1) :]
        stored_before = recent[0].seq if len(recent) > limit else before
        by_seq = {
            state.seq: state for state in await self._store.before(room, stored_before, limit + 1)
        }
        for frame in recent:  # the stored state wins: it holds events the window may not
            if frame.seq not in by_seq:
                by_seq[frame.seq] = state_of(decode_frame(frame))
        seqs = sorted(by_seq)
        page = [by_seq[seq] for seq in seqs[-limit:]]
        deleted: set[str] = set()
        if events:
            by_id = {state.id: state for state in page}
            for event in events:
                if event.kind == "delete":
                    deleted.add(str(event.target))
                held = by_id.get(str(event.target))
                if held is not None:
                    by_id[held.id] = apply(held, event)
            page = [by_id[state.id] for state in page]
        frames = [
            frame_of_json(
                state.seq,
                render(
                    state,
                    viewer,
                    answered_deleted=state.reply_to is not None and state.reply_to.id in deleted,
                ),
            )
            for state in page
        ]
        return frames, len(seqs) > limit

    async def page_before(
        self, room: str, before: int | None, limit: int, viewer: str, max_bytes: int
    ) -> tuple[list[RoomFrame], bool]:
        """``before``, cut to the newest messages that fit in ``max_bytes``; a cut page says
        ``has_more`` so the client asks again before its oldest message."""
        frames, has_more = await self.before(room, before, limit, viewer)
        fitting, cut = newest_within(frames, max_bytes)
        return fitting, has_more or cut

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


def newest_within(frames: list[RoomFrame], max_bytes: int | None) -> tuple[list[RoomFrame], bool]:
    """The newest of ``frames`` (ascending) whose messages fit in ``max_bytes`` together (None:
    no bound), and whether any were cut. The newest one is kept even alone over the bound: a
    reply always moves the client forward, and one message is far below any outbound queue."""
    if max_bytes is None:
        return frames, False
    total = 0
    for index in range(len(frames) - 1, -1, -1):
        total += len(frames[index].message_json) + 1  # the comma between messages
        if total > max_bytes and index < len(frames) - 1:
            return frames[index + 1 :], True
    return frames, False


def _merge(first: list[RoomFrame], second: list[RoomFrame]) -> list[RoomFrame]:
    by_seq = {frame.seq: frame for frame in second}
    for frame in first:
        known = by_seq.get(frame.seq)
        if known is None or known.is_void:
            by_seq[frame.seq] = frame
    return [by_seq[seq] for seq in sorted(by_seq)]
