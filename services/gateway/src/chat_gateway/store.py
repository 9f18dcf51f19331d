"""Postgres side of the gateway: durable messages (history, catch-up, seq floor) and rooms."""

from __future__ import annotations

import asyncpg
import msgspec

from chat_common.envelope import Author, Envelope, format_ts
from chat_gateway.frames import RoomFrame, frame_of

_SELECT = (
    "SELECT id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions"
    " FROM messages"
)


class Room(msgspec.Struct, frozen=True):
    id: str
    kind: str
    read_only: bool


class MessageStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def max_seq(self, room: str) -> int:
        value = await self._pool.fetchval("SELECT max(seq) FROM messages WHERE room = $1", room)
        return int(value or 0)

    async def between(
        self, room: str, after: int, until: int | None, limit: int
    ) -> list[RoomFrame]:
        """Messages with after < seq <= until, ascending, at most ``limit``."""
        rows = await self._pool.fetch(
            _SELECT + " WHERE room = $1 AND seq > $2"
            " AND ($3::bigint IS NULL OR seq <= $3) ORDER BY seq LIMIT $4",
            room,
            after,
            until,
            limit,
        )
        return [_frame(row) for row in rows]

    async def before(self, room: str, before: int | None, limit: int) -> list[RoomFrame]:
        """The newest ``limit`` messages with seq < before, ascending."""
        rows = await self._pool.fetch(
            _SELECT + " WHERE room = $1"
            " AND ($2::bigint IS NULL OR seq < $2) ORDER BY seq DESC LIMIT $3",
            room,
            before,
            limit,
        )
        return [_frame(row) for row in reversed(rows)]


class RoomDirectory:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def get(self, room: str) -> Room | None:
        row = await self._pool.fetchrow("SELECT id, kind, read_only FROM rooms WHERE id = $1", room)
        return None if row is None else Room(row["id"], row["kind"], row["read_only"])

    async def create_public(self, room: str, created_by: str) -> Room:
        await self._pool.execute(
            "INSERT INTO rooms (id, kind, created_by) VALUES ($1, 'public', $2)"
            " ON CONFLICT (id) DO NOTHING",
            room,
            created_by,
        )
        found = await self.get(room)
        if found is None:  # pragma: no cover - the row was just inserted or already existed
            raise RuntimeError(f"room {room} vanished after creation")
        return found


def _frame(row: asyncpg.Record) -> RoomFrame:
    return frame_of(
        Envelope(
            id=str(row["id"]),
            room=row["room"],
            seq=row["seq"],
            user=Author(id=row["user_id"], name=row["user_name"]),
            body=row["body"],
            ts=format_ts(row["created_at"]),
            client_msg_id=row["client_msg_id"],
            # NULL for a message that mentions nobody: the field is then left out, as sent.
            mentions=tuple(row["mentions"]) if row["mentions"] else msgspec.UNSET,
        )
    )
