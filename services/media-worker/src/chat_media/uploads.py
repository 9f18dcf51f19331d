"""The ``uploads`` rows the media worker reads and moves on (migrations 0010 and 0011).

The gateway makes a row per upload and claims it for a message; the persistence worker sets
``message_id`` when it stores that message. This module records what the media worker did:
an image's size and ``processed_at`` (only then does the gateway hand out its original), an
image it could not decode (``image`` false), and ``deleted_at`` once its objects are gone.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import asyncpg

# Errors that mean Postgres is unavailable or the statement did not finish: retried.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.TooManyConnectionsError,
    asyncpg.AdminShutdownError,
)


@dataclass(frozen=True, slots=True)
class Upload:
    id: uuid.UUID
    room: str
    image: bool | None
    width: int | None
    height: int | None
    processed_at: dt.datetime | None
    deleted_at: dt.datetime | None


class Uploads:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def ping(self) -> None:
        await self._pool.fetchval("SELECT 1")

    async def find(self, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Upload]:
        rows = await self._pool.fetch(
            "SELECT id, room, image, width, height, processed_at, deleted_at"
            " FROM uploads WHERE id = ANY($1::uuid[])",
            list(ids),
        )
        return {row["id"]: Upload(**dict(row)) for row in rows}

    async def record_processed(self, upload_id: uuid.UUID, width: int, height: int) -> None:
        # The first processing's moment stays: a record read again changes nothing visible.
        await self._pool.execute(
            "UPDATE uploads SET width = $2, height = $3,"
            " processed_at = coalesce(processed_at, now()) WHERE id = $1",
            upload_id,
            width,
            height,
        )

    async def record_refused(self, upload_id: uuid.UUID) -> None:
        """An image the worker could not decode: from now on it is a file."""
        await self._pool.execute(
            "UPDATE uploads SET image = false, processed_at = coalesce(processed_at, now())"
            " WHERE id = $1",
            upload_id,
        )

    async def message_stored(self, message_id: uuid.UUID) -> bool:
        """Whether the persistence worker has stored this entry of a room's log; it sets the
        message's uploads' ``message_id`` in the same transaction."""
        found = await self._pool.fetchval("SELECT 1 FROM messages WHERE id = $1", message_id)
        return found is not None

    async def live_of_message(self, message_id: uuid.UUID, room: str) -> list[uuid.UUID]:
        rows = await self._pool.fetch(
            "SELECT id FROM uploads WHERE message_id = $1 AND room = $2 AND deleted_at IS NULL",
            message_id,
            room,
        )
        return [row["id"] for row in rows]

    async def mark_deleted(self, ids: Sequence[uuid.UUID]) -> None:
        if ids:
            await self._pool.execute(
                "UPDATE uploads SET deleted_at = now()"
                " WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL",
                list(ids),
            )

    async def take_unclaimed(self, older_than: dt.timedelta, limit: int) -> list[uuid.UUID]:
        """Marks deleted, and returns, uploads never claimed by a send and older than
        ``older_than``. Marked before their objects go: a send claiming one at this moment
        either wins (its row is claimed and kept) or finds it deleted, never a half-removed
        file; an object whose removal then fails is left to the stray-object pass."""
        rows = await self._pool.fetch(
            """
            UPDATE uploads SET deleted_at = now()
            WHERE id IN (
                SELECT id FROM uploads
                WHERE message_id IS NULL AND deleted_at IS NULL AND claimed_at IS NULL
                  AND created_at < now() - $1::interval
                ORDER BY created_at LIMIT $2
                FOR UPDATE SKIP LOCKED
            ) AND claimed_at IS NULL AND deleted_at IS NULL
            RETURNING id
            """,
            older_than,
            limit,
        )
        return [row["id"] for row in rows]

    async def take_unstored(self, older_than: dt.timedelta, limit: int) -> list[uuid.UUID]:
        """Marks deleted, and returns, uploads claimed by a send longer than ``older_than`` ago
        whose message was never stored (the send failed and was not tried again)."""
        rows = await self._pool.fetch(
            """
            UPDATE uploads SET deleted_at = now()
            WHERE id IN (
                SELECT id FROM uploads
                WHERE message_id IS NULL AND deleted_at IS NULL AND claimed_at IS NOT NULL
                  AND claimed_at < now() - $1::interval
                ORDER BY created_at LIMIT $2
                FOR UPDATE SKIP LOCKED
            ) AND message_id IS NULL AND deleted_at IS NULL
            RETURNING id
            """,
            older_than,
            limit,
        )
        return [row["id"] for row in rows]

    async def of_deleted_messages(self, limit: int) -> list[uuid.UUID]:
        """Live uploads of messages that are deleted: a delete the worker gave up on because
        its message was not stored in time."""
        rows = await self._pool.fetch(
            """
            SELECT u.id FROM uploads u JOIN messages m ON m.id = u.message_id
            WHERE u.message_id IS NOT NULL AND u.deleted_at IS NULL
              AND m.deleted_at IS NOT NULL
            LIMIT $1
            """,
            limit,
        )
        return [row["id"] for row in rows]

    async def live_among(self, ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
        rows = await self._pool.fetch(
            "SELECT id FROM uploads WHERE id = ANY($1::uuid[]) AND deleted_at IS NULL",
            list(ids),
        )
        return {row["id"] for row in rows}
