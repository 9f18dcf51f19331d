"""Writes batches of message rows to Postgres idempotently.

A batch is first COPYed straight into ``messages``: almost every batch holds only new messages,
and this costs Postgres less than half of the path below. If any row is already stored (a
redelivery after a crash, or a producer retry) the COPY fails and its transaction leaves
nothing; the batch is then COPYed into a per-connection temporary table and moved into
``messages`` with one ``INSERT … ON CONFLICT DO NOTHING``, where a conflict on the message id or
on (room, seq) means "already stored", never an error. If Postgres refuses a row's content, the
batch is written again row by row, each under a savepoint, so that only the refused rows are
set aside.

In the transaction that stores the batch, one statement moves each room's ``last_seq`` up to
its newest stored seq (what unread counts are measured against) and its ``last_active_at``,
which orders the directory of public rooms. It only moves forward, so storing a batch again
changes nothing; being in the batch's transaction, a room's ``last_seq`` is never behind its
stored messages. A batch holding messages that mention people also records, in the same
transaction, one ``unread_mentions`` row per person and message above that person's read
marker: what their room list counts. A batch holding edits, deletes or reactions applies them
to the messages they change, in the same transaction, once its rows are in (room_events.py);
rooms and markers move with messages only. A batch holding messages with attachments ties
their uploads to them in the same transaction (uploads.py). A batch of plain messages alone runs
no statement more.

Authors' read markers (a person has read what they wrote) are not moved in that transaction:
once it has committed, each (author, room)'s newest stored seq is handed on, and
``advance_author_marks`` writes many batches' worth of them at once, later (author_marks.py,
marks_flusher.py). A write that fails hands on nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from chat_worker.author_marks import Author, newest_by_author
from chat_worker.room_events import apply_events
from chat_worker.rows import EventRow, MessageRow, Row
from chat_worker.uploads import UnclaimedUpload, claim_uploads

# The rows' fields are named after the columns they fill, in the order COPY writes them.
COLUMNS = MessageRow._fields
EVENT_COLUMNS = EventRow._fields

# Lives as long as the connection; ON COMMIT DELETE ROWS empties it after every batch, and a
# rolled-back batch leaves nothing behind either.
_CREATE_STAGING = """
CREATE TEMPORARY TABLE message_staging (
    id uuid, room text, seq bigint, user_id text, user_name text, body text,
    client_msg_id text, created_at timestamptz, mentions text[], reply_to jsonb,
    attachments jsonb, kind text NOT NULL DEFAULT 'message', target uuid, emoji text,
    reaction_on boolean, edited_at timestamptz
) ON COMMIT DELETE ROWS
"""
_MOVE_STAGED = """
INSERT INTO messages (
    id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions, reply_to,
    attachments, kind, target, emoji, reaction_on, edited_at
)
SELECT id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions, reply_to,
    attachments, kind, target, emoji, reaction_on, edited_at
FROM message_staging
ON CONFLICT DO NOTHING
RETURNING id
"""
# Only forward. last_seq moves with every batch that has a newer message (unread counts are
# exact); last_active_at only by at least a step, so the activity order is rewritten once per
# step, not once per batch. Rooms without a row (none yet: a message is stored whatever its
# room) are skipped.
_ADVANCE_ROOMS = """
UPDATE rooms SET
    last_seq = GREATEST(rooms.last_seq, newest.seq),
    last_active_at = CASE WHEN rooms.last_active_at < newest.at - $4::interval
                          THEN newest.at ELSE rooms.last_active_at END
FROM unnest($1::text[], $2::timestamptz[], $3::bigint[]) AS newest (room, at, seq)
WHERE rooms.id = newest.room
  AND (rooms.last_seq < newest.seq OR rooms.last_active_at < newest.at - $4::interval)
"""
# One row per (author, room), so no row is updated twice by one statement; rooms without a row
# are skipped (a marker refers to its room). Only forward: a mark older than what the person
# read meanwhile changes nothing.
_ADVANCE_AUTHORS = """
INSERT INTO read_markers (user_id, room, seq)
SELECT wrote.user_id, wrote.room, wrote.seq
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS wrote (user_id, room, seq)
JOIN rooms ON rooms.id = wrote.room
ON CONFLICT (user_id, room) DO UPDATE SET seq = EXCLUDED.seq, updated_at = now()
WHERE read_markers.seq < EXCLUDED.seq
"""
# A mention at or below the person's marker is read already (a redelivered batch after they
# read it): not recorded again.
_REMEMBER_MENTIONS = """
INSERT INTO unread_mentions (user_id, room, seq)
SELECT named.user_id, named.room, named.seq
FROM unnest($1::text[], $2::text[], $3::bigint[]) AS named (user_id, room, seq)
LEFT JOIN read_markers k ON k.user_id = named.user_id AND k.room = named.room
WHERE named.seq > COALESCE(k.seq, 0)
ON CONFLICT DO NOTHING
"""
_INSERT_ONE = """
INSERT INTO messages (
    id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions, reply_to,
    attachments
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
ON CONFLICT DO NOTHING
"""
_INSERT_ONE_EVENT = """
INSERT INTO messages (
    id, room, seq, user_id, user_name, body, client_msg_id, created_at, kind, target, emoji,
    reaction_on, edited_at, attachments
)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
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
# A pooled connection whose operation a lost server interrupted answers InternalClientError
# ("another operation is in progress"; asyncpg issues 784 and 1069) until the pool replaces it.
DATABASE_UNAVAILABLE: tuple[type[Exception], ...] = (
    OSError,
    TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
)


@dataclass(frozen=True, slots=True)
class WriteOutcome:
    inserted: int
    duplicates: int
    # (index into the written rows, Postgres's reason) for rows that can never be stored.
    refused: list[tuple[int, str]] = field(default_factory=list)
    # Attachments of stored messages whose upload rows were left as they are (uploads.py).
    unclaimed: list[UnclaimedUpload] = field(default_factory=list)


async def prepare_connection(connection: asyncpg.Connection) -> None:
    """Pool ``init``: every connection, reconnects included, gets its own staging table."""
    await connection.execute(_CREATE_STAGING)


# Told, after each commit, per (author, room) the newest seq of the rows stored now (by this
# write or an earlier one): how far each author has read.
NoteAuthorMarks = Callable[[Mapping[Author, int]], None]


class MessageStore:
    def __init__(
        self, pool: asyncpg.Pool, *, activity_step: timedelta, note_author_marks: NoteAuthorMarks
    ) -> None:
        self._pool = pool
        self._activity_step = activity_step
        self._note_author_marks = note_author_marks

    async def write(self, rows: Sequence[Row]) -> WriteOutcome:
        """Store every row not stored yet, and apply the events among them, in one transaction."""
        if not rows:
            return WriteOutcome(inserted=0, duplicates=0)
        log = _Log.of(rows)
        step = self._activity_step
        async with self._pool.acquire() as connection:
            try:
                try:
                    async with connection.transaction():
                        inserted = await _copy_new(connection, log)
                        await _advance(connection, log.messages, step)
                        unclaimed = await claim_uploads(connection, log.messages)
                        await _apply(connection, log.events)
                except asyncpg.UniqueViolationError:
                    # Some are stored already; the failed COPY rolled back and left nothing.
                    async with connection.transaction():
                        new = await _copy_skipping_stored(connection, log)
                        await _advance(connection, log.messages, step, new)
                        unclaimed = await claim_uploads(connection, log.messages)
                        await _apply(connection, log.events)
                    inserted = len(new)
            except ROW_REFUSALS:
                outcome, stored = await _write_one_by_one(connection, rows, step)
                self._note_author_marks(newest_by_author(stored.messages))
                return outcome
        self._note_author_marks(newest_by_author(log.messages))
        return WriteOutcome(inserted=inserted, duplicates=len(rows) - inserted, unclaimed=unclaimed)

    async def ping(self) -> None:
        async with self._pool.acquire() as connection:
            await connection.fetchval("SELECT 1")


async def advance_author_marks(pool: asyncpg.Pool, marks: Mapping[Author, int]) -> None:
    """Move each author's read marker in each room up to its mark, in one statement."""
    if not marks:
        return
    wrote = sorted(marks)  # one order of row locks for every writer
    await pool.execute(
        _ADVANCE_AUTHORS,
        [user for user, _ in wrote],
        [room for _, room in wrote],
        [marks[key] for key in wrote],
    )


@dataclass(frozen=True, slots=True)
class _Log:
    """A batch's rows split by what they are: messages, and the events that change them."""

    messages: Sequence[MessageRow]
    events: Sequence[EventRow]

    @classmethod
    def of(cls, rows: Sequence[Row]) -> _Log:
        events = [row for row in rows if type(row) is EventRow]
        if not events:  # almost every batch: the rows are used as they are, all messages
            return cls(cast("Sequence[MessageRow]", rows), events)
        return cls([row for row in rows if type(row) is MessageRow], events)


async def _apply(
    connection: PoolConnectionProxy[asyncpg.Record], events: Sequence[EventRow]
) -> None:
    if events:
        await apply_events(connection, events)


async def _copy_new(connection: PoolConnectionProxy[asyncpg.Record], log: _Log) -> int:
    if log.messages:
        await connection.copy_records_to_table("messages", records=log.messages, columns=COLUMNS)
    if log.events:
        await connection.copy_records_to_table(
            "messages", records=log.events, columns=EVENT_COLUMNS
        )
    return len(log.messages) + len(log.events)


async def _copy_skipping_stored(
    connection: PoolConnectionProxy[asyncpg.Record], log: _Log
) -> set[uuid.UUID]:
    """The ids of the rows stored now."""
    if log.messages:
        await connection.copy_records_to_table(
            "message_staging", records=log.messages, columns=COLUMNS
        )
    if log.events:
        await connection.copy_records_to_table(
            "message_staging", records=log.events, columns=EVENT_COLUMNS
        )
    return {record["id"] for record in await connection.fetch(_MOVE_STAGED)}


async def _write_one_by_one(
    connection: PoolConnectionProxy[asyncpg.Record],
    rows: Sequence[Row],
    activity_step: timedelta,
) -> tuple[WriteOutcome, _Log]:
    """The outcome, and the rows stored now (all but the refused ones)."""
    new: set[uuid.UUID] = set()
    refused: list[tuple[int, str]] = []
    async with connection.transaction():
        for index, row in enumerate(rows):
            insert = _INSERT_ONE_EVENT if type(row) is EventRow else _INSERT_ONE
            try:
                async with connection.transaction():  # a savepoint per row
                    if _row_count(await connection.execute(insert, *row)):
                        new.add(row.id)
            except ROW_REFUSALS as exc:
                refused.append((index, f"refused by the database: {exc}"))
        set_aside = {index for index, _ in refused}
        stored = _Log.of([row for index, row in enumerate(rows) if index not in set_aside])
        await _advance(connection, stored.messages, activity_step, new)
        unclaimed = await claim_uploads(connection, stored.messages)
        await _apply(connection, stored.events)
    outcome = WriteOutcome(
        inserted=len(new),
        duplicates=len(rows) - len(new) - len(refused),
        refused=refused,
        unclaimed=unclaimed,
    )
    return outcome, stored


async def _advance(
    connection: PoolConnectionProxy[asyncpg.Record],
    rows: Sequence[MessageRow],
    activity_step: timedelta,
    new: set[uuid.UUID] | None = None,
) -> None:
    """Rooms' newest seq and activity up to the stored ``rows``, and the people mentioned by
    those stored now (``new``; None: all of them). A message stored before had its mentions
    recorded then, and a delete since may have removed them: they are not recorded again."""
    newest: dict[str, tuple[int, datetime]] = {}
    mentioned: list[tuple[str, str, int]] = []
    for row in rows:
        if row.mentions and (new is None or row.id in new):
            mentioned += [(person, row.room, row.seq) for person in row.mentions]
        known = newest.get(row.room)
        if known is None:
            newest[row.room] = (row.seq, row.created_at)
        else:
            newest[row.room] = (max(known[0], row.seq), max(known[1], row.created_at))
    if not newest:
        return
    rooms = sorted(newest)  # one order of row locks for every writer
    await connection.execute(
        _ADVANCE_ROOMS,
        rooms,
        [newest[room][1] for room in rooms],
        [newest[room][0] for room in rooms],
        activity_step,
    )
    if mentioned:
        mentioned.sort()  # one order of row locks for every writer
        await connection.execute(
            _REMEMBER_MENTIONS,
            [person for person, _, _ in mentioned],
            [room for _, room, _ in mentioned],
            [seq for _, _, seq in mentioned],
        )


def _row_count(status: str) -> int:
    # "INSERT 0 <rows>"
    return int(status.rsplit(" ", 1)[1])
