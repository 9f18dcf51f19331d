"""Who belongs to which room, with which role, and who is muted or banned (Postgres).

Every change a moderator makes (a topic too) is written together with its audit row in one
transaction. Reads of the members (a page of them, or those a message mentions) always ask the
database, so a person removed a moment ago is neither listed nor mentioned.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from chat_gateway.store import Room


class Standing(msgspec.Struct, frozen=True):
    """A user's standing in one room."""

    role: str | None  # owner, moderator, member, or None when not a member
    muted_until: datetime | None
    banned: bool


class RoomMember(msgspec.Struct, frozen=True):
    id: str
    name: str
    role: str


def dm_members(room: str) -> tuple[str, str] | None:
    if not room.startswith("dm:"):
        return None
    _, first, second = room.split(":", 2)
    return first, second


# A room's members by user id, the order of its primary key, so each page is one index range
# however many joined (a public room's can be a crowd). Names are looked up for the page alone;
# the id is cast only when it is a UUID (every id the gateway writes is; a stray one has no user
# and lists with its id as its name).
_MEMBERS = """
SELECT m.user_id, m.role, coalesce(u.username, m.user_id) AS name
FROM (
    SELECT user_id, role FROM room_members
    WHERE room = $1 AND user_id > $2 ORDER BY user_id LIMIT $3
) m
LEFT JOIN users u ON u.id = CASE WHEN m.user_id ~ $4 THEN m.user_id::uuid END
ORDER BY m.user_id
"""
# A direct message's members are its two people, whatever rows exist.
_DM_MEMBERS = """
SELECT u.id::text AS user_id, 'member' AS role, u.username AS name FROM users u
WHERE u.id = ANY($1::uuid[]) AND u.id::text > $2 ORDER BY u.id::text LIMIT $3
"""
# The names looked up (a handful, by the unique index on username), then their membership.
_MEMBERS_NAMED = """
SELECT u.username, u.id::text AS id FROM users u
WHERE u.username = ANY($2::text[])
  AND EXISTS (SELECT 1 FROM room_members m WHERE m.room = $1 AND m.user_id = u.id::text)
"""
_DM_PEOPLE_NAMED = """
SELECT u.username, u.id::text AS id FROM users u
WHERE u.username = ANY($2::text[]) AND u.id = ANY($1::uuid[])
"""
_UUID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


class RoomRoster:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def standing(self, room: str, user_id: str) -> Standing:
        row = await self._pool.fetchrow(
            """
            SELECT (SELECT role FROM room_members WHERE room = $1 AND user_id = $2) AS role,
                   (SELECT until FROM room_mutes WHERE room = $1 AND user_id = $2) AS until,
                   EXISTS (SELECT 1 FROM room_bans WHERE room = $1 AND user_id = $2) AS banned
            """,
            room,
            user_id,
        )
        assert row is not None
        return Standing(row["role"], row["until"], row["banned"])

    async def create(self, room: str, kind: str, read_only: bool, owner: str) -> Room | None:
        """Create a room owned by ``owner``; None when the id is taken."""
        async with self._pool.acquire() as connection, connection.transaction():
            created = await connection.fetchrow(
                "INSERT INTO rooms (id, kind, read_only, created_by) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (id) DO NOTHING RETURNING id, kind, read_only",
                room,
                kind,
                read_only,
                owner,
            )
            if created is None:
                return None
            await connection.execute(
                "INSERT INTO room_members (room, user_id, role, added_by)"
                " VALUES ($1, $2, 'owner', $2)",
                room,
                owner,
            )
            await _audit(connection, room, owner, "create_room", None, {"kind": kind})
        return Room(created["id"], created["kind"], created["read_only"])

    async def add_member(self, room: str, user_id: str, role: str, actor: str) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            added = await connection.fetchval(
                "INSERT INTO room_members (room, user_id, role, added_by) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (room, user_id) DO UPDATE SET role = EXCLUDED.role"
                " WHERE room_members.role <> 'owner' RETURNING true",
                room,
                user_id,
                role,
                actor,
            )
            await _audit(connection, room, actor, "add_member", user_id, {"role": role})
        return bool(added)

    async def remove_member(self, room: str, user_id: str, actor: str) -> bool:
        async with self._pool.acquire() as connection, connection.transaction():
            removed = await connection.fetchval(
                "DELETE FROM room_members WHERE room = $1 AND user_id = $2 AND role <> 'owner'"
                " RETURNING true",
                room,
                user_id,
            )
            await _audit(connection, room, actor, "kick", user_id, {})
        return bool(removed)

    async def join_public(self, room: str, user_id: str) -> bool:
        """Record that ``user_id`` joined the public ``room``; False when they had a row."""
        added = await self._pool.fetchval(
            "INSERT INTO room_members (room, user_id, role, added_by) VALUES ($1, $2, 'member', $2)"
            " ON CONFLICT (room, user_id) DO NOTHING RETURNING true",
            room,
            user_id,
        )
        return bool(added)

    async def leave(self, room: str, user_id: str) -> bool:
        """End the membership of ``user_id``, whatever its role; a room's owner or moderator
        giving theirs up leaves an audit row, since the room loses someone who ran it."""
        async with self._pool.acquire() as connection, connection.transaction():
            role = await connection.fetchval(
                "DELETE FROM room_members WHERE room = $1 AND user_id = $2 RETURNING role",
                room,
                user_id,
            )
            if role in ("owner", "moderator"):
                await _audit(connection, room, user_id, "leave", user_id, {"role": role})
        return role is not None

    async def mute(self, room: str, user_id: str, until: datetime, actor: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO room_mutes (room, user_id, until, muted_by) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (room, user_id) DO UPDATE SET until = EXCLUDED.until,"
                " muted_by = EXCLUDED.muted_by, muted_at = now()",
                room,
                user_id,
                until,
                actor,
            )
            await _audit(connection, room, actor, "mute", user_id, {"until": until.isoformat()})

    async def unmute(self, room: str, user_id: str, actor: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM room_mutes WHERE room = $1 AND user_id = $2", room, user_id
            )
            await _audit(connection, room, actor, "unmute", user_id, {})

    async def ban(self, room: str, user_id: str, reason: str, actor: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO room_bans (room, user_id, reason, banned_by) VALUES ($1, $2, $3, $4)"
                " ON CONFLICT (room, user_id) DO UPDATE SET reason = EXCLUDED.reason",
                room,
                user_id,
                reason,
                actor,
            )
            await connection.execute(
                "DELETE FROM room_members WHERE room = $1 AND user_id = $2 AND role <> 'owner'",
                room,
                user_id,
            )
            await _audit(connection, room, actor, "ban", user_id, {"reason": reason})

    async def unban(self, room: str, user_id: str, actor: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "DELETE FROM room_bans WHERE room = $1 AND user_id = $2", room, user_id
            )
            await _audit(connection, room, actor, "unban", user_id, {})

    async def set_topic(self, room: str, topic: str, actor: str) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            previous = await connection.fetchval(
                "SELECT topic FROM rooms WHERE id = $1 FOR UPDATE", room
            )
            await connection.execute("UPDATE rooms SET topic = $2 WHERE id = $1", room, topic)
            await _audit(
                connection, room, actor, "topic", None, {"topic": topic, "previous": previous}
            )

    async def members(self, room: str, *, after: str, limit: int) -> list[RoomMember]:
        """Up to ``limit`` members with a user id above ``after``, by user id."""
        pair = dm_members(room)
        if pair is None:
            rows = await self._pool.fetch(_MEMBERS, room, after, limit, _UUID)
        else:
            rows = await self._pool.fetch(_DM_MEMBERS, list(pair), after, limit)
        return [RoomMember(row["user_id"], row["name"], row["role"]) for row in rows]

    async def members_named(self, room: str, names: Sequence[str]) -> dict[str, str]:
        """Of ``names`` (usernames), those of the room's members now, as username → user id:
        a row of ``room_members``, or one of a direct message's two people."""
        pair = dm_members(room)
        if pair is None:
            rows = await self._pool.fetch(_MEMBERS_NAMED, room, list(names))
        else:
            rows = await self._pool.fetch(_DM_PEOPLE_NAMED, list(pair), list(names))
        return {row["username"]: row["id"] for row in rows}

    async def audit_trail(self, room: str, limit: int = 100) -> list[dict[str, Any]]:
        rows = await self._pool.fetch(
            "SELECT actor_id, action, target_id, detail, at FROM moderation_audit"
            " WHERE room = $1 ORDER BY at DESC, id DESC LIMIT $2",
            room,
            limit,
        )
        return [dict(row) for row in rows]


async def _audit(
    connection: asyncpg.Connection | PoolConnectionProxy,
    room: str,
    actor: str,
    action: str,
    target: str | None,
    detail: dict[str, Any],
) -> None:
    await connection.execute(
        "INSERT INTO moderation_audit (room, actor_id, action, target_id, detail)"
        " VALUES ($1, $2, $3, $4, $5::jsonb)",
        room,
        actor,
        action,
        target,
        msgspec.json.encode(detail).decode(),
    )


async def ensure_dm(pool: asyncpg.Pool, room: str, first: str, second: str) -> bool:
    """A direct-message room exists implicitly; its row and both memberships appear on first use
    so it shows in both users' room lists. True when this call started it."""
    async with pool.acquire() as connection, connection.transaction():
        started = await connection.fetchval(
            "INSERT INTO rooms (id, kind, created_by) VALUES ($1, 'dm', $2) ON CONFLICT DO NOTHING"
            " RETURNING true",
            room,
            first,
        )
        await connection.execute(
            "INSERT INTO room_members (room, user_id, role)"
            " VALUES ($1, $2, 'member'), ($1, $3, 'member') ON CONFLICT DO NOTHING",
            room,
            first,
            second,
        )
    return bool(started)
