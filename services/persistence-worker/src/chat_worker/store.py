"""Writes batches of message rows to Postgres idempotently.

A batch is first COPYed straight into ``messages``, one statement that is its own transaction:
almost every batch holds only new messages, and this costs Postgres less than half of the path
below. If any row is already stored (a redelivery after a crash, or a producer retry) the COPY
fails as a whole and leaves nothing; the batch is then COPYed into a per-connection temporary
table and moved into ``messages`` with one ``INSERT … ON CONFLICT DO NOTHING``, where a
conflict on the message id or on (room, seq) means "already stored", never an error. If
Postgres refuses a row's content, the batch is written again row by row, each under a
savepoint, so that only the refused rows are set aside.

Then each room's ``last_active_at`` moves up to its newest stored message, which orders the
directory of public rooms (most recently active first). It is a statement of its own: should
it fail, the batch is tried again, and storing it again changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from chat_worker.rows import MessageRow

COLUMNS = (
    "id",
    "room",
    "seq",
    "user_id",
    "user_name",
    "body",
    "client_msg_id",
    "created_at",
    "mentions",
)

# Lives as long as the connection; ON COMMIT DELETE ROWS empties it after every batch, and a
# rolled-back batch leaves nothing behind either.
_CREATE_STAGING = """
CREATE TEMPORARY TABLE message_staging (
    id uuid, room text, seq bigint, user_id text, user_name text, body text,
    client_msg_id text, created_at timestamptz, mentions text[]
) ON COMMIT DELETE ROWS
"""
_MOVE_STAGED = """
INSERT INTO messages (
    id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions
)
SELECT id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions
FROM message_staging
ON CONFLICT DO NOTHING
"""
# Only forward, and only by at least a step, so a busy room's row is rewritten once per step,
# not once per batch. Rooms without a row (none yet: a message is stored whatever its room)
# are skipped.
_TOUCH_ROOMS = """
UPDATE rooms SET last_active_at = latest.at
FROM unnest($1::text[], $2::timestamptz[]) AS latest (room, at)
WHERE rooms.id = latest.room AND rooms.last_active_at < latest.at - $3::interval
"""
_INSERT_ONE = """
INSERT INTO messages (
    id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
ON CONFLICT DO NOTHING
"""

# What a row's content can make Postgres (or asyncpg's encoders, which raise ValueError
# subclasses) refuse. Anything else from the database is about the database, not the row.
ROW_REFUSALS: tuple[type[Exception], ...] = (
    asyncpg.DataError,
    asyncpg.IntegrityConstraintViolationError,
    ValueError,
)
# A database that is down, restarting, overloaded or unreachable: retry later, drop nothing.
# Errors of the schema or permissions land here too, so a missed migration stalls the stream
# (loudly) instead of sending good messages to the dead-letter topic.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
)


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    inserted: int
    duplicates: int
    # (index into the written rows, Postgres's reason) for rows that can never be stored.
    refused: list[tuple[int, str]] = field(default_factory=list)


async def prepare_connection(connection: asyncpg.Connection) -> None:
    """Pool ``init``: every connection, reconnects included, gets its own staging table."""
    await connection.execute(_CREATE_STAGING)


class MessageStore:
    def __init__(self, pool: asyncpg.Pool, *, activity_step: timedelta) -> None:
        self._pool = pool
        self._activity_step = activity_step

    async def write(self, rows: Sequence[MessageRow]) -> WriteOutcome:
        """Store every row not stored yet, in one transaction."""
        if not rows:
            return WriteOutcome(inserted=0, duplicates=0)
        async with self._pool.acquire() as connection:
            try:
                try:
                    inserted = await _copy_new(connection, rows)
                except asyncpg.UniqueViolationError:
                    # Some are stored already; the failed COPY rolled back and left nothing.
                    inserted = await _copy_skipping_stored(connection, rows)
                await _touch_rooms(connection, rows, self._activity_step)
            except ROW_REFUSALS:
                return await _write_one_by_one(connection, rows, self._activity_step)
        return WriteOutcome(inserted=inserted, duplicates=len(rows) - inserted)

    async def ping(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.fetchval("SELECT 1")


async def _copy_new(
    connection: PoolConnectionProxy[asyncpg.Record], rows: Sequence[MessageRow]
) -> int:
    # One statement is one transaction: all rows or none, without BEGIN and COMMIT round trips.
    await connection.copy_records_to_table("messages", records=rows, columns=COLUMNS)
    return len(rows)


async def _copy_skipping_stored(
    connection: PoolConnectionProxy[asyncpg.Record], rows: Sequence[MessageRow]
) -> int:
    async with connection.transaction():
        await connection.copy_records_to_table("message_staging", records=rows, columns=COLUMNS)
        return _row_count(await connection.execute(_MOVE_STAGED))


async def _write_one_by_one(
    connection: PoolConnectionProxy[asyncpg.Record],
    rows: Sequence[MessageRow],
    activity_step: timedelta,
) -> WriteOutcome:
    inserted = 0
    refused: list[tuple[int, str]] = []
    async with connection.transaction():
        for index, row in enumerate(rows):
            try:
                async with connection.transaction():  # a savepoint per row
                    inserted += _row_count(await connection.execute(_INSERT_ONE, *row))
            except ROW_REFUSALS as exc:
                refused.append((index, f"refused by the database: {exc}"))
        set_aside = {index for index, _ in refused}
        stored = [row for index, row in enumerate(rows) if index not in set_aside]
        await _touch_rooms(connection, stored, activity_step)
    return WriteOutcome(
        inserted=inserted, duplicates=len(rows) - inserted - len(refused), refused=refused
    )


async def _touch_rooms(
    connection: PoolConnectionProxy[asyncpg.Record],
    rows: Sequence[MessageRow],
    activity_step: timedelta,
) -> None:
    latest: dict[str, datetime] = {}
    for row in rows:
        if row.room not in latest or latest[row.room] < row.created_at:
            latest[row.room] = row.created_at
    if latest:
        rooms = sorted(latest)
        moments = [latest[room] for room in rooms]
        await connection.execute(_TOUCH_ROOMS, rooms, moments, activity_step)


def _row_count(status: str) -> int:
    # "INSERT 0 <rows>"
    return int(status.rsplit(" ", 1)[1])
