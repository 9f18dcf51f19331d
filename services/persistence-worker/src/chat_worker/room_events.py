"""Applies a batch's edits, deletes, reactions and attachment updates to the messages they
target, in the batch's transaction, after its rows are in.

The rules are docs/protocol.md "Applying room events"; a message row holds its current state.
Every statement reads the events from the stored event rows (by id), so what is applied is what
the log holds: an event whose row was not stored (its seq taken by another record) changes
nothing. A target must be a message of the event's room; an event naming anything else is
stored and changes nothing. Each statement is guarded so that applying a batch again, or an older
event after a newer one, changes nothing:

- a delete only applies to a message not deleted yet, and is terminal: the other kinds skip a
  deleted target, so applying the deletes first gives the fold's result whatever their seqs;
- an edit only when its seq is above the message's ``edit_seq`` (of a batch's edits of one
  message, the newest);
- a reaction as an upsert guarded by the stored seq of that (message, emoji, person) (of a
  batch's, the newest);
- an attachment update by folding the log again: each of the message's attachments becomes its
  version in the newest stored update that lists it, so the result depends only on which
  updates are stored, never on the order they came in. A message has one or two updates (the
  media step's), so reading them all costs little.

Every applied event moves the message's ``updated_seq`` up to its seq. ``rooms.last_seq`` and
read markers are left alone: an event never makes a room unread.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import asyncpg
from asyncpg.pool import PoolConnectionProxy

from chat_worker.rows import EventRow

# The first delete of each message (a second one is a late duplicate or changes nothing). The
# newest edit's time and seq go with its text: a deleted message's state is then the same
# whether its edits were stored in the delete's batch (and skipped) or in earlier ones.
_DELETE = """
WITH deleting AS (
    SELECT DISTINCT ON (e.target) e.target, e.room, e.seq, e.user_id, e.created_at
    FROM messages e
    WHERE e.id = ANY($1::uuid[]) AND e.kind = 'delete'
    ORDER BY e.target, e.seq
)
UPDATE messages m SET
    deleted_at = d.created_at,
    deleted_by = d.user_id,
    body = NULL,
    edited_body = NULL,
    edited_at = NULL,
    edit_seq = NULL,
    attachments = NULL,
    updated_seq = GREATEST(COALESCE(m.updated_seq, 0), d.seq)
FROM deleting d
WHERE m.id = d.target AND m.room = d.room AND m.kind = 'message' AND m.deleted_at IS NULL
"""
# What a deleted message leaves behind, for every deleted message the batch's deletes, edits
# and attachment updates name: the text of its edits and the files listed by its attachment
# updates (including those stored after the delete, which the fold ignores), its reactions, and
# the unread mentions of it (which a message stored again after its delete, a redelivery,
# records again). Not guarded by "deleted now": each part is idempotent, and a replayed batch
# thus also clears what a replay of an earlier one put back.
_ERASE_DELETED = """
WITH gone AS (
    SELECT DISTINCT m.id, m.room, m.seq
    FROM messages e
    JOIN messages m ON m.id = e.target AND m.room = e.room
    WHERE e.id = ANY($1::uuid[]) AND e.kind IN ('delete', 'edit', 'attachment')
      AND m.kind = 'message' AND m.deleted_at IS NOT NULL
),
changes AS (
    UPDATE messages e SET body = NULL, attachments = NULL
    FROM gone
    WHERE e.target = gone.id AND e.room = gone.room AND e.kind IN ('edit', 'attachment')
      AND (e.body IS NOT NULL OR e.attachments IS NOT NULL)
),
reactions AS (
    DELETE FROM message_reactions r USING gone WHERE r.message_id = gone.id
)
DELETE FROM unread_mentions u USING gone WHERE u.room = gone.room AND u.seq = gone.seq
"""
_EDIT = """
WITH newest AS (
    SELECT DISTINCT ON (e.target) e.target, e.room, e.seq, e.body, e.edited_at
    FROM messages e
    WHERE e.id = ANY($1::uuid[]) AND e.kind = 'edit'
    ORDER BY e.target, e.seq DESC
)
UPDATE messages m SET
    edited_body = n.body,
    edited_at = n.edited_at,
    edit_seq = n.seq,
    updated_seq = GREATEST(COALESCE(m.updated_seq, 0), n.seq)
FROM newest n
WHERE m.id = n.target AND m.room = n.room AND m.kind = 'message' AND m.deleted_at IS NULL
  AND n.seq > COALESCE(m.edit_seq, 0)
"""
# The upsert's RETURNING lists only the reactions applied; their messages' updated_seq follows.
_REACT = """
WITH newest AS (
    SELECT DISTINCT ON (e.target, e.emoji, e.user_id)
        e.target, e.room, e.emoji, e.user_id, e.reaction_on, e.seq
    FROM messages e
    WHERE e.id = ANY($1::uuid[]) AND e.kind = 'reaction'
    ORDER BY e.target, e.emoji, e.user_id, e.seq DESC
),
applied AS (
    INSERT INTO message_reactions AS r (message_id, emoji, user_id, reaction_on, seq)
    SELECT n.target, n.emoji, n.user_id, n.reaction_on, n.seq
    FROM newest n
    JOIN messages m ON m.id = n.target AND m.room = n.room
    WHERE m.kind = 'message' AND m.deleted_at IS NULL
    ORDER BY n.target, n.emoji, n.user_id  -- one order of row locks for every writer
    ON CONFLICT (message_id, emoji, user_id) DO UPDATE
        SET reaction_on = EXCLUDED.reaction_on, seq = EXCLUDED.seq
        WHERE r.seq < EXCLUDED.seq
    RETURNING r.message_id, r.seq
)
UPDATE messages m SET updated_seq = GREATEST(COALESCE(m.updated_seq, 0), a.seq)
FROM (SELECT message_id, max(seq) AS seq FROM applied GROUP BY message_id) a
WHERE m.id = a.message_id
"""
# The messages the batch's attachment updates change (of their room, not deleted, older than
# the update), each with the lists of every stored update of it, newest first (one index scan a
# message): an attachment takes its version in the newest list that holds it, the others stay as
# they are, in their order. Rewritten only when that changes something.
_ATTACH = """
WITH targets AS (
    SELECT DISTINCT ON (m.id) m.id, m.room, m.seq, m.attachments
    FROM messages e
    JOIN messages m ON m.id = e.target AND m.room = e.room
    WHERE e.id = ANY($1::uuid[]) AND e.kind = 'attachment' AND e.seq > m.seq
      AND m.kind = 'message' AND m.deleted_at IS NULL
    ORDER BY m.id
),
folded AS (
    SELECT t.id, updates.seq,
        (SELECT jsonb_agg(
                COALESCE(
                    (SELECT changed
                     FROM jsonb_array_elements(updates.lists) WITH ORDINALITY
                         AS listed (list, newness),
                         jsonb_array_elements(listed.list) AS changed
                     WHERE changed->>'id' = own.file->>'id'
                     ORDER BY listed.newness
                     LIMIT 1),
                    own.file)
                ORDER BY own.place)
         FROM jsonb_array_elements(t.attachments) WITH ORDINALITY AS own (file, place)
        ) AS attachments
    FROM targets t
    CROSS JOIN LATERAL (
        SELECT max(e.seq) AS seq, jsonb_agg(e.attachments ORDER BY e.seq DESC) AS lists
        FROM messages e
        WHERE e.target = t.id AND e.room = t.room AND e.kind = 'attachment' AND e.seq > t.seq
    ) updates
)
UPDATE messages m SET
    attachments = f.attachments,
    updated_seq = GREATEST(COALESCE(m.updated_seq, 0), f.seq)
FROM folded f
WHERE m.id = f.id
  AND (m.attachments IS DISTINCT FROM f.attachments OR COALESCE(m.updated_seq, 0) < f.seq)
"""


async def apply_events(
    connection: PoolConnectionProxy[asyncpg.Record] | asyncpg.Connection,
    events: Sequence[EventRow],
) -> None:
    """Apply the stored ``events`` to their targets: deletes first, then edits, reactions,
    attachment updates."""
    ids: dict[str, list[uuid.UUID]] = {"delete": [], "edit": [], "reaction": [], "attachment": []}
    for event in events:
        ids[event.kind].append(event.id)
    if ids["delete"]:
        await connection.execute(_DELETE, ids["delete"])
    if ids["delete"] or ids["edit"] or ids["attachment"]:
        await connection.execute(_ERASE_DELETED, ids["delete"] + ids["edit"] + ids["attachment"])
    if ids["edit"]:
        await connection.execute(_EDIT, ids["edit"])
    if ids["reaction"]:
        await connection.execute(_REACT, ids["reaction"])
    if ids["attachment"]:
        await connection.execute(_ATTACH, ids["attachment"])
