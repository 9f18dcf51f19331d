"""Ties a stored message's attachments to their uploads: ``uploads.message_id``, in the batch's
transaction, so an upload names a message only once that message is durable in Postgres.

The gateway has checked and claimed every upload before the message reached Kafka, so each one
normally exists, is of the message's room and author, and names no message yet. Anything else
(a row gone, of another room or person, or already another message's) is left as it is and
reported, never a reason to fail the batch: the message is stored with its attachments all the
same, because it is durable in Kafka and was acknowledged to its sender, and the upload of another
message or person must not be taken from them. Of two messages of a batch naming one upload,
the first in the log takes it.

Only the stored row counts: a message whose seq another record took first (and so is not in
the log) ties nothing. Storing a batch again changes nothing: an upload already this message's
is left alone and is not reported.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
import msgspec
from asyncpg.pool import PoolConnectionProxy

from chat_worker.rows import MessageRow

# One row per (message, attachment) of the batch; a message counts only if the stored row with
# its id is this log entry (same room and seq). The final SELECT sees the uploads as they were
# when the statement began: it reports every listed upload that did not name its message then
# and was not claimed for it now. Each upload is looked up by its key and ``claimed`` is read
# through a hash (NOT IN), so the cost grows with the batch, not with its square (the planner
# cannot know how many rows the CTEs hold and plans nested loops).
_CLAIM = """
WITH listed AS (
    SELECT w.message_id, w.room, w.seq, w.user_id, w.upload_id
    FROM unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::uuid[])
        AS w (message_id, room, seq, user_id, upload_id)
    JOIN messages m ON m.id = w.message_id AND m.room = w.room AND m.seq = w.seq
    WHERE m.kind = 'message'
),
claimed AS (
    UPDATE uploads u SET message_id = first.message_id
    FROM (
        SELECT DISTINCT ON (l.upload_id) l.upload_id, l.message_id
        FROM listed l
        JOIN uploads free ON free.id = l.upload_id AND free.room = l.room
            AND free.user_id = l.user_id AND free.message_id IS NULL
        ORDER BY l.upload_id, l.seq
    ) first
    -- Checked again on the row itself: a claim committed meanwhile is not overwritten.
    WHERE u.id = first.upload_id AND u.message_id IS NULL
    RETURNING u.id, u.message_id
)
SELECT l.message_id, l.upload_id, l.room, l.user_id, u.room AS upload_room,
    u.user_id AS upload_user,
    COALESCE(u.message_id, (SELECT c.message_id FROM claimed c WHERE c.id = l.upload_id))
        AS held_by
FROM listed l
LEFT JOIN uploads u ON u.id = l.upload_id
WHERE u.message_id IS DISTINCT FROM l.message_id
  AND (l.upload_id, l.message_id) NOT IN (SELECT c.id, c.message_id FROM claimed c)
"""


@dataclass(frozen=True, slots=True)
class UnclaimedUpload:
    """An attachment of a stored message whose upload row was left as it is, and why."""

    message_id: uuid.UUID
    upload_id: uuid.UUID
    reason: str


class _Listed(msgspec.Struct):
    id: str  # a UUID in some form: rows.py refused any other


_listed = msgspec.json.Decoder(list[_Listed])


async def claim_uploads(
    connection: PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection,
    messages: Sequence[MessageRow],
) -> list[UnclaimedUpload]:
    """Set ``uploads.message_id`` for the attachments of the stored ``messages``; the ones left
    alone. Runs no statement when none of them has attachments."""
    # A record produced twice may be twice in a batch: listed once. Records that only share an
    # id are all listed; the statement ties the uploads of the one stored.
    attached = {
        (message.id, message.room, message.seq): message
        for message in messages
        if message.attachments is not None
    }
    listed = [
        (message, uuid.UUID(attachment.id))
        for message in attached.values()
        if message.attachments is not None
        for attachment in _listed.decode(message.attachments)
    ]
    if not listed:
        return []
    records = await connection.fetch(
        _CLAIM,
        [message.id for message, _ in listed],
        [message.room for message, _ in listed],
        [message.seq for message, _ in listed],
        [message.user_id for message, _ in listed],
        [upload for _, upload in listed],
    )
    return [
        UnclaimedUpload(record["message_id"], record["upload_id"], _why(record))
        for record in records
    ]


def _why(record: asyncpg.Record) -> str:
    if record["upload_room"] is None:
        return "no such upload"
    if record["upload_room"] != record["room"]:
        return f"an upload of room {record['upload_room']!r}"
    if record["upload_user"] != record["user_id"]:
        return f"an upload of user {record['upload_user']!r}"
    if record["held_by"] is None:  # a claim by another writer committed meanwhile
        return "attached to another message"
    return f"attached to message {record['held_by']}"
