"""Read markers: how far a person has read each room, for every device of theirs (``read``).

A marker lives in Postgres (``read_markers``), written by the gateway directly and not through
Kafka: it is idempotent and only moves forward, so a retry or a reordering changes nothing, and
losing one costs a badge, never a message. A seq above the room's newest is lowered to it (the
newest is the larger of the stored ``rooms.last_seq`` and the live counter, so a message
delivered but not yet stored can be marked read); a lower seq than the marker's is ignored.
The persistence worker moves authors' markers forward too: a person has read what they wrote.
"""

from __future__ import annotations

from typing import Protocol

import asyncpg

from chat_common.errors import ChatError, ErrorCode


class Markers(Protocol):
    async def advance(self, user_id: str, room: str, seq: int, newest_live: int) -> int | None:
        """Move the marker of ``user_id`` in ``room`` up to ``seq`` (at most the room's newest,
        ``newest_live`` counting); returns the new marker, or None when it was already there or
        beyond. ``not_found`` when the room has no row."""
        ...


# The marker's new value is computed from the room's row, so a room without one inserts
# nothing (and says so by returning no row, as an ignored lower seq does: told apart after).
# The person's unread mentions the marker passes go in the same statement.
_ADVANCE = """
WITH moved AS (
    INSERT INTO read_markers AS k (user_id, room, seq)
    SELECT $1, r.id, LEAST($3::bigint, GREATEST(r.last_seq, $4::bigint))
    FROM rooms r WHERE r.id = $2
    ON CONFLICT (user_id, room) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()
    WHERE k.seq < EXCLUDED.seq
    RETURNING k.seq
), read AS (
    DELETE FROM unread_mentions u
    WHERE u.user_id = $1 AND u.room = $2 AND u.seq <= (SELECT seq FROM moved)
)
SELECT seq FROM moved
"""


class ReadMarkers:
    """``Markers`` in Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def advance(self, user_id: str, room: str, seq: int, newest_live: int) -> int | None:
        moved = await self._pool.fetchval(_ADVANCE, user_id, room, seq, newest_live)
        if moved is not None:
            return int(moved)
        if not await self._pool.fetchval("SELECT EXISTS (SELECT 1 FROM rooms WHERE id = $1)", room):
            raise ChatError(ErrorCode.NOT_FOUND, f"no room {room}")
        return None
