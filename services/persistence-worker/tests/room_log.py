"""A room log mixing messages (some with files), edits, deletes, reactions and attachment
updates, as gateways would produce it; the state its fold must leave in Postgres, computed by a
small pure fold of the envelopes (docs/protocol.md "Applying room events"); and that state as
the worker left it.

Used by the failure tests: whatever the worker went through (kills, replays, duplicates), the
tables end in exactly the fold's state.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import asyncpg
import msgspec
from msgspec.structs import replace

from chat_common.envelope import (
    EVENT_SCHEMA_VERSION,
    Attachment,
    Author,
    Envelope,
    format_ts,
)

EMOJI = ("👍", "🎉", ":tada:")
PEOPLE = tuple(Author(id=f"u{index}", name=f"user {index}") for index in range(5))
# Named by messages, never writes: its read marker never moves, so every mention of it that is
# not deleted stays unread.
WATCHER = "watcher"


class RoomLog:
    """Envelopes round-robin over rooms: about 55% messages (a quarter of them with two files),
    then edits, attachment updates (of messages with files), reactions and deletes of earlier
    messages of the same room (now and then of a deleted one, which the fold ignores), each a
    log entry with its own seq. ``uploads`` lists the upload rows the messages' files need."""

    def __init__(self, rooms: Sequence[str], seed: int = 7) -> None:
        self.rooms = list(rooms)
        # (upload id, room, user id): each file's upload, as the gateway handed it out.
        self.uploads: list[tuple[uuid.UUID, str, str]] = []
        self._random = random.Random(seed)
        self._seqs = dict.fromkeys(self.rooms, 0)
        self._messages: dict[str, list[Envelope]] = {room: [] for room in self.rooms}
        self._with_files: dict[str, list[Envelope]] = {room: [] for room in self.rooms}
        self._deleted: set[str] = set()
        self._reacted: set[tuple[str, str, str]] = set()  # (message id, emoji, user id)
        self._turn = 0

    def entries(self, count: int) -> list[Envelope]:
        return [self._next() for _ in range(count)]

    def _next(self) -> Envelope:
        room = self.rooms[self._turn % len(self.rooms)]
        self._turn += 1
        self._seqs[room] += 1
        seq = self._seqs[room]
        person = self._random.choice(PEOPLE)
        ts = format_ts(datetime.now(UTC))
        base = Envelope(
            id=str(uuid.uuid4()),
            room=room,
            seq=seq,
            user=person,
            body=f"message {seq} in {room}: héllo @watcher",
            ts=ts,
            client_msg_id=f"c-{room}-{seq}",
        )
        earlier = self._messages[room]
        roll = self._random.random()
        version = EVENT_SCHEMA_VERSION
        if not earlier or roll < 0.55:
            message = base if seq % 3 else replace(base, mentions=(WATCHER,))
            if seq % 4 == 1:
                files = (self._file(room, person), self._file(room, person))
                message = replace(message, v=version, attachments=files)
                self._with_files[room].append(message)
            earlier.append(message)
            return message
        if 0.66 <= roll < 0.78 and self._with_files[room]:
            # The media step's update of one or both files of a recent message, in any order:
            # a new version each time, so a late older one must not undo a newer one.
            updated = self._random.choice(self._with_files[room][-10:])
            own = list(updated.attachments or ())
            changed = tuple(
                replace(file, width=seq, height=seq, thumbnail=True)
                if self._random.random() < 0.8
                else replace(file, image=False)
                for file in self._random.sample(own, self._random.randint(1, len(own)))
            )
            update = {"body": msgspec.UNSET, "attachments": changed}
            return replace(
                base, v=version, kind="attachment", target=updated.id, user=updated.user, **update
            )
        if roll < 0.78:
            target = self._target(earlier, 20)
            edit = {"body": f"edited at {seq}", "edited_at": ts}
            return replace(base, v=version, kind="edit", target=target, **edit)
        if roll < 0.94:
            # By two people with two emoji on the room's first messages: the same reaction is
            # often taken back and given again, which a late duplicate must not undo.
            target = self._target(earlier[:4], 4)
            emoji = self._random.choice(EMOJI[:2])
            person = self._random.choice(PEOPLE[:2])
            key = (target, emoji, person.id)
            on = key not in self._reacted
            (self._reacted.add if on else self._reacted.discard)(key)
            reaction = {"body": msgspec.UNSET, "emoji": emoji, "on": on}
            return replace(base, v=version, kind="reaction", target=target, user=person, **reaction)
        target = self._target(earlier, 20)
        self._deleted.add(target)
        return replace(base, v=version, kind="delete", target=target, body=msgspec.UNSET)

    def _file(self, room: str, person: Author) -> Attachment:
        upload = uuid.uuid4()
        self.uploads.append((upload, room, person.id))
        name = f"photo {len(self.uploads)}.png"
        return Attachment(id=str(upload), name=name, type="image/png", size=1024, image=True)

    def _target(self, earlier: list[Envelope], among: int) -> str:
        """One of the newest ``among`` messages; now and then a deleted one."""
        target = self._random.choice(earlier[-among:]).id
        if target in self._deleted and self._random.random() < 0.8:
            target = earlier[-1].id  # mostly a live message, as a gateway would
        return target


@dataclass
class MessageState:
    room: str
    seq: int
    body: str | None
    edited_body: str | None = None
    edited_at: str | None = None
    edit_seq: int | None = None
    deleted_at: str | None = None
    deleted_by: str | None = None
    updated_seq: int | None = None
    mentions: tuple[str, ...] = ()
    attachments: list[dict[str, Any]] | None = None  # as the protocol spells them
    # (emoji, user id) -> (on, seq of the event that set it)
    reactions: dict[tuple[str, str], tuple[bool, int]] = field(default_factory=dict)

    def touched(self, seq: int) -> None:
        self.updated_seq = max(self.updated_seq or 0, seq)


@dataclass(frozen=True)
class LogState:
    """What the tables hold of a set of rooms, in comparable form."""

    # (room, seq) -> the row's log columns: (id, kind, user id, body, target, emoji, on, and an
    # attachment update's list)
    entries: dict[tuple[str, int], tuple[Any, ...]]
    # message id -> (body, edited_body, edited_at, edit_seq, deleted_at, deleted_by, updated_seq,
    # attachments)
    messages: dict[str, tuple[Any, ...]]
    reactions: set[tuple[str, str, str, bool, int]]
    unread_mentions: set[tuple[str, str, int]]
    last_seqs: dict[str, int]
    # upload id -> the message it is tied to (None: none)
    uploads: dict[str, str | None]


def fold(envelopes: Sequence[Envelope], rooms: Sequence[str]) -> LogState:
    """The state the log leaves: each entry stored once (the first of a seq wins), applied in
    seq order by the rules every reader folds by."""
    log: dict[tuple[str, int], Envelope] = {}
    for envelope in envelopes:
        log.setdefault((envelope.room, envelope.seq), envelope)
    state: dict[str, MessageState] = {}
    for key in sorted(log):
        _apply(state, log[key])
    entries = {
        key: (
            envelope.id,
            "message" if envelope.is_message else envelope.kind,
            envelope.user.id,
            _stored_body(state, envelope),
            _or_none(envelope.target),
            _or_none(envelope.emoji),
            _or_none(envelope.on),
            _stored_files(state, envelope),
        )
        for key, envelope in log.items()
    }
    return LogState(
        entries=entries,
        messages={
            message_id: (
                m.body,
                m.edited_body,
                m.edited_at,
                m.edit_seq,
                m.deleted_at,
                m.deleted_by,
                m.updated_seq,
                m.attachments,
            )
            for message_id, m in state.items()
        },
        reactions={
            (message_id, emoji, user, on, seq)
            for message_id, m in state.items()
            for (emoji, user), (on, seq) in m.reactions.items()
        },
        unread_mentions={
            (person, m.room, m.seq)
            for m in state.values()
            if m.deleted_at is None
            for person in m.mentions
        },
        last_seqs={
            room: max((m.seq for m in state.values() if m.room == room), default=0)
            for room in rooms
        },
        # Every upload is of its message's room and author, and named by that message alone.
        uploads={
            file.id: envelope.id
            for envelope in log.values()
            if envelope.is_message
            for file in envelope.attachments or ()
        },
    )


def _stored_body(state: dict[str, MessageState], entry: Envelope) -> str | None:
    """A message's text, or an edit's unless its target is deleted (a delete erases both)."""
    if entry.is_message:
        return state[entry.id].body
    if entry.kind != "edit":
        return None
    target = state.get(str(entry.target))
    if target is not None and target.room == entry.room and target.deleted_at is not None:
        return None
    return None if isinstance(entry.body, msgspec.UnsetType) else entry.body


def _stored_files(state: dict[str, MessageState], entry: Envelope) -> Any:
    """An attachment update's list unless its target is deleted (a delete erases it)."""
    if entry.kind != "attachment":
        return None
    target = state.get(str(entry.target))
    if target is not None and target.room == entry.room and target.deleted_at is not None:
        return None
    return msgspec.to_builtins(list(entry.attachments or ()))


def _apply(state: dict[str, MessageState], entry: Envelope) -> None:
    if entry.is_message:
        state[entry.id] = MessageState(
            room=entry.room,
            seq=entry.seq,
            body=_or_none(entry.body),
            mentions=_or_none(entry.mentions) or (),
            attachments=msgspec.to_builtins(list(entry.attachments)) if entry.attachments else None,
        )
        return
    target = state.get(str(entry.target))
    if target is None or target.room != entry.room or target.deleted_at is not None:
        return
    if entry.kind == "edit":
        if entry.seq > (target.edit_seq or 0):
            target.edited_body = _or_none(entry.body)
            target.edited_at = _or_none(entry.edited_at)
            target.edit_seq = entry.seq
            target.touched(entry.seq)
    elif entry.kind == "delete":
        target.body = target.edited_body = target.edited_at = None
        target.edit_seq = None
        target.attachments = None
        target.deleted_at, target.deleted_by = entry.ts, entry.user.id
        target.reactions.clear()
        target.touched(entry.seq)
    elif entry.kind == "attachment":
        changed = {file["id"]: file for file in msgspec.to_builtins(entry.attachments)}
        if target.attachments is not None:
            target.attachments = [changed.get(file["id"], file) for file in target.attachments]
        target.touched(entry.seq)
    else:
        key = (str(entry.emoji), entry.user.id)
        if target.reactions.get(key, (False, 0))[1] < entry.seq:
            target.reactions[key] = (bool(entry.on), entry.seq)
            target.touched(entry.seq)


def _or_none(value: Any) -> Any:
    return None if value is msgspec.UNSET else value


async def stored_state(database_url: str, rooms: Sequence[str]) -> LogState:
    """What the tables hold of ``rooms``, in the fold's form."""
    connection = await asyncpg.connect(database_url, timeout=5)
    try:
        rows = await connection.fetch(
            "SELECT * FROM messages WHERE room = ANY($1::text[])", list(rooms)
        )
        reactions = await connection.fetch(
            "SELECT r.* FROM message_reactions r JOIN messages m ON m.id = r.message_id"
            " WHERE m.room = ANY($1::text[])",
            list(rooms),
        )
        mentions = await connection.fetch(
            "SELECT * FROM unread_mentions WHERE room = ANY($1::text[])", list(rooms)
        )
        last_seqs = await connection.fetch(
            "SELECT id, last_seq FROM rooms WHERE id = ANY($1::text[])", list(rooms)
        )
        uploads = await connection.fetch(
            "SELECT id, message_id FROM uploads WHERE room = ANY($1::text[])", list(rooms)
        )
    finally:
        await connection.close()

    def moment(value: datetime | None) -> str | None:
        return None if value is None else format_ts(value)

    def text(value: uuid.UUID | None) -> str | None:
        return None if value is None else str(value)

    def files(value: str | None) -> Any:
        return None if value is None else json.loads(value)

    return LogState(
        entries={
            (row["room"], row["seq"]): (
                str(row["id"]),
                row["kind"],
                row["user_id"],
                row["body"],
                text(row["target"]),
                row["emoji"],
                row["reaction_on"],
                files(row["attachments"]) if row["kind"] == "attachment" else None,
            )
            for row in rows
        },
        messages={
            str(row["id"]): (
                row["body"],
                row["edited_body"],
                moment(row["edited_at"]),
                row["edit_seq"],
                moment(row["deleted_at"]),
                row["deleted_by"],
                row["updated_seq"],
                files(row["attachments"]),
            )
            for row in rows
            if row["kind"] == "message"
        },
        reactions={
            (str(r["message_id"]), r["emoji"], r["user_id"], r["reaction_on"], r["seq"])
            for r in reactions
        },
        unread_mentions={(m["user_id"], m["room"], m["seq"]) for m in mentions},
        last_seqs={row["id"]: row["last_seq"] for row in last_seqs},
        uploads={str(row["id"]): text(row["message_id"]) for row in uploads},
    )
