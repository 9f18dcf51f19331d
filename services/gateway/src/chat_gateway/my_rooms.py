"""The rooms a person belongs to, with how far they have read each (``GET /v1/me/rooms``): the
source of truth for the room list on a new device, and the room objects of ``rooms`` events.

A person belongs to a room when they have a ``room_members`` row: public rooms they joined,
private rooms they were added to or created, DMs. One statement answers, bounded by
``max_own_rooms_listed`` (the most recently active first) and costing O(rooms) whatever the
rooms hold: ``unread`` is ``last_seq - read_seq`` (seqs are dense per room; ``rooms.last_seq``
is the newest stored seq, moved by the persistence worker), never a count of messages, and
``mentions`` counts the person's rows in ``unread_mentions`` above their marker (written by the
persistence worker with each message that mentions them, deleted as the marker passes them).
"""

from __future__ import annotations

from typing import Protocol

import asyncpg
import msgspec


class MyRoom(msgspec.Struct, frozen=True):
    id: str
    name: str
    kind: str
    read_only: bool
    topic: str
    role: str
    last_seq: int
    read_seq: int
    unread: int
    mentions: int
    last_active_at: str


class PersonalRooms(Protocol):
    """The reads behind the person's room list."""

    async def listed(self, user_id: str, limit: int) -> list[MyRoom]:
        """The rooms ``user_id`` belongs to, at most ``limit``, the most recently active first."""
        ...

    async def one(self, user_id: str, room: str) -> MyRoom | None:
        """``room`` as ``listed`` shows it, None when the person does not belong to it."""
        ...


# The person's memberships and read markers from their covering indexes (index-only scans),
# each membership's room by its primary key, then the person's unread mentions (a range of
# unread_mentions' primary key) counted per room above its marker. Every part is bounded by
# the person's rooms and unread mentions, never by room sizes or by history. The room is looked
# up per membership (LATERAL, kept from being flattened by OFFSET 0): a planner that estimates a
# hash join over every room cheaper would read the whole table for each list (docs/benchmarks.md).
# The columns come in ``MyRoom``'s field order, the timestamp already formatted: a row becomes
# a room object without per-field Python work (a third of the route's time for 1,000 rooms).
_MINE = """
WITH mine AS (
    SELECT r.id, r.kind, r.read_only, r.topic, m.role, r.last_seq, r.last_active_at,
           COALESCE(k.seq, 0) AS read_seq
    FROM room_members m
    CROSS JOIN LATERAL (SELECT * FROM rooms WHERE rooms.id = m.room OFFSET 0) r
    LEFT JOIN read_markers k ON k.user_id = m.user_id AND k.room = m.room
    WHERE m.user_id = $1{only}
    ORDER BY r.last_active_at DESC, r.id DESC
    LIMIT $2
), mentioned AS (
    SELECT u.room, count(*) AS mentions
    FROM unread_mentions u JOIN mine ON u.room = mine.id AND u.seq > mine.read_seq
    WHERE u.user_id = $1
    GROUP BY u.room
)
SELECT mine.id, mine.id AS name, mine.kind, mine.read_only, mine.topic, mine.role, mine.last_seq,
       mine.read_seq, GREATEST(mine.last_seq - mine.read_seq, 0) AS unread,
       COALESCE(mentioned.mentions, 0) AS mentions,
       to_char(mine.last_active_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
FROM mine LEFT JOIN mentioned ON mentioned.room = mine.id
ORDER BY mine.last_active_at DESC, mine.id DESC
"""
LISTED = _MINE.format(only="")
_ONE = _MINE.format(only=" AND m.room = $3")


class MyRooms:
    """``PersonalRooms`` from Postgres."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def listed(self, user_id: str, limit: int) -> list[MyRoom]:
        return [_room(row) for row in await self._pool.fetch(LISTED, user_id, limit)]

    async def one(self, user_id: str, room: str) -> MyRoom | None:
        rows = await self._pool.fetch(_ONE, user_id, 1, room)
        return _room(rows[0]) if rows else None


def _room(row: asyncpg.Record) -> MyRoom:
    return MyRoom(*row)
