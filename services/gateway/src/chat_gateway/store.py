"""Postgres side of the gateway: the durable log (catch-up, seq floor), messages' current
state (history, the targets of actions) and rooms."""

from __future__ import annotations

import asyncpg
import msgspec

from chat_common.envelope import (
    EVENT_SCHEMA_VERSION,
    SCHEMA_VERSION,
    Attachment,
    Author,
    ReplyTo,
    format_ts,
)
from chat_gateway.frames import RoomFrame, frame_of_json
from chat_gateway.targets import MessageState, WireMessage, WireReplyTo, encode_wire

# The log's entries as they were sent, as far as a delete left them words.
_LOG_SELECT = (
    "SELECT id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions,"
    " reply_to, kind, target, emoji, reaction_on, attachments,"
    " deleted_at IS NOT NULL AS deleted FROM messages"
)
# Messages ``m`` in their current state, as the persistence worker keeps it: ``state_of`` reads
# a row of them (search selects them too, from rows it found). The reactions are read only for
# a message some event changed (``updated_seq``), and the answered message only for a reply, so
# a plain page costs the one index scan it always did.
STATE_SELECT = (
    "SELECT m.id, m.room, m.seq, m.user_id, m.user_name, COALESCE(m.edited_body, m.body) AS body,"
    " m.client_msg_id, m.created_at, m.mentions, m.reply_to, m.edited_at, m.updated_seq,"
    " m.attachments,"
    " m.deleted_at IS NOT NULL AS deleted,"
    " CASE WHEN m.updated_seq IS NOT NULL AND m.deleted_at IS NULL THEN"
    "  (SELECT json_agg(json_build_array(r.emoji, r.user_id, r.seq) ORDER BY r.seq)"
    "   FROM message_reactions r WHERE r.message_id = m.id AND r.reaction_on) END AS reactions,"
    " CASE WHEN m.reply_to IS NOT NULL THEN EXISTS (SELECT 1 FROM messages a"
    "  WHERE a.id = CASE WHEN m.reply_to->>'id' ~ '^[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}$'"
    "   THEN (m.reply_to->>'id')::uuid END"
    "  AND a.room = m.room AND a.deleted_at IS NOT NULL) ELSE false END AS answered_deleted"
)
_ROOM_STATE_SELECT = STATE_SELECT + " FROM messages m WHERE m.kind = 'message' AND m.room = $1"
# A page of history: the newest messages below a seq ($2, NULL: none), at most $3.
HISTORY_PAGE = (
    _ROOM_STATE_SELECT + " AND ($2::bigint IS NULL OR m.seq < $2) ORDER BY m.seq DESC LIMIT $3"
)
_reactions_decoder = msgspec.json.Decoder(list[tuple[str, str, int]])
_reply_decoder = msgspec.json.Decoder(ReplyTo)
# ``messages.attachments``: a message's files in their current state, an ``attachment`` event's
# own list, as the persistence worker writes them (the envelope's objects); NULL: none.
_attachments_decoder = msgspec.json.Decoder(tuple[Attachment, ...])


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
        """Entries with after < seq <= until, ascending, at most ``limit``, as sent."""
        rows = await self._pool.fetch(
            _LOG_SELECT + " WHERE room = $1 AND seq > $2"
            " AND ($3::bigint IS NULL OR seq <= $3) ORDER BY seq LIMIT $4",
            room,
            after,
            until,
            limit,
        )
        return [frame_of_json(row["seq"], encode_wire(_logged(row))) for row in rows]

    async def before(self, room: str, before: int | None, limit: int) -> list[MessageState]:
        """The newest ``limit`` messages with seq < before, ascending, in their stored state."""
        rows = await self._pool.fetch(HISTORY_PAGE, room, before, limit)
        return [state_of(row) for row in reversed(rows)]

    async def current(self, room: str, message_id: str) -> MessageState | None:
        row = await self._pool.fetchrow(
            _ROOM_STATE_SELECT + " AND m.id = $2::uuid", room, message_id
        )
        return None if row is None else state_of(row)


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


def _logged(row: asyncpg.Record) -> WireMessage:
    """A row of the log as its entry was sent: a deleted message as ``deleted`` without its
    words, an edit whose words a delete erased likewise (docs/protocol.md)."""
    kind, ts = row["kind"], format_ts(row["created_at"])
    common = {
        "id": str(row["id"]),
        "room": row["room"],
        "seq": row["seq"],
        "user": Author(id=row["user_id"], name=row["user_name"]),
        "ts": ts,
        "client_msg_id": row["client_msg_id"],
    }
    if kind == "message":
        reply_to = _reply_of(row)
        wire_reply = (
            None
            if reply_to is None
            else WireReplyTo(id=reply_to.id, user=reply_to.user, excerpt=reply_to.excerpt)
        )
        if row["deleted"]:
            return WireMessage(v=SCHEMA_VERSION, reply_to=wire_reply, deleted=True, **common)
        attachments = _attachments_of(row)
        return WireMessage(
            v=EVENT_SCHEMA_VERSION if attachments else SCHEMA_VERSION,
            body=row["body"],
            mentions=tuple(row["mentions"] or ()),
            reply_to=wire_reply,
            attachments=attachments,
            **common,
        )
    event = WireMessage(v=EVENT_SCHEMA_VERSION, kind=kind, target=str(row["target"]), **common)
    if kind == "attachment":
        # Files of a deleted message are gone with it: like an edit's words, its attachment
        # events show them no more once the worker erased them.
        attachments = _attachments_of(row)
        return msgspec.structs.replace(event, attachments=attachments, deleted=not attachments)
    if kind == "edit":
        body = row["body"]
        # An edit's edited_at is its ts (chat_common.envelope).
        return msgspec.structs.replace(event, body=body, edited_at=ts, deleted=body is None)
    if kind == "reaction":
        return msgspec.structs.replace(event, emoji=row["emoji"], on=row["reaction_on"])
    return event


def state_of(row: asyncpg.Record) -> MessageState:
    deleted = bool(row["deleted"])
    reactions: dict[str, dict[str, int]] = {}
    if row["reactions"] is not None:
        for emoji, user_id, seq in _reactions_decoder.decode(row["reactions"]):
            reactions.setdefault(emoji, {})[user_id] = seq
    edited_at = row["edited_at"]
    return MessageState(
        id=str(row["id"]),
        room=row["room"],
        seq=row["seq"],
        user=Author(id=row["user_id"], name=row["user_name"]),
        body=None if deleted else row["body"],
        ts=format_ts(row["created_at"]),
        client_msg_id=row["client_msg_id"],
        mentions=() if deleted else tuple(row["mentions"] or ()),
        reply_to=_reply_of(row),
        edited_at=None if deleted or edited_at is None else format_ts(edited_at),
        deleted=deleted,
        reactions=reactions,
        updated_seq=row["updated_seq"],
        answered_deleted=bool(row["answered_deleted"]),
        attachments=() if deleted else _attachments_of(row),
    )


def _attachments_of(row: asyncpg.Record) -> tuple[Attachment, ...]:
    stored = row["attachments"]
    return () if stored is None else _attachments_decoder.decode(stored)


def _reply_of(row: asyncpg.Record) -> ReplyTo | None:
    stored = row["reply_to"]
    return None if stored is None else _reply_decoder.decode(stored)
