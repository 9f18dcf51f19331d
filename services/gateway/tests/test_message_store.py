"""The gateway's reads of stored messages against the real Postgres: rows as the persistence
worker keeps them (migration 0008) read as current state (history, targets) and as the log
(catch-up). Each test writes in a transaction it rolls back, so it leaves nothing behind."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any, cast

import asyncpg
import msgspec
import pytest
import pytest_asyncio

from chat_gateway.store import MessageStore
from chat_gateway.targets import render
from chat_testing import stack

pytestmark = pytest.mark.asyncio(loop_scope="session")

_INSERT = (
    "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id, created_at,"
    " kind, target, emoji, reaction_on, reply_to, edited_body, edited_at, edit_seq,"
    " deleted_at, deleted_by, updated_seq, mentions, attachments)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7, '2026-11-30T10:00:00Z', $8, $9, $10, $11, $12::jsonb,"
    " $13, $14, $15, $16, $17, $18, $19, $20::jsonb)"
)
ADA, BOB = {"id": "ada", "name": "Ada"}, {"id": "bob", "name": "Bob"}
TS = "2026-11-30T10:00:00.000Z"


def _store(connection: asyncpg.Connection) -> MessageStore:
    """The store reading on one connection (the test's transaction) instead of a pool: the
    store uses only the reads both have."""
    return MessageStore(cast(asyncpg.Pool, connection))


@pytest_asyncio.fixture(loop_scope="session")
async def connection() -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(stack.database_url())
    transaction = connection.transaction()
    await transaction.start()
    try:
        yield connection
    finally:
        await transaction.rollback()
        await connection.close()


async def _row(connection: asyncpg.Connection, room: str, seq: int, **fields: Any) -> str:
    row_id = uuid.uuid4()
    values = {
        "user": ADA,
        "body": None,
        "kind": "message",
        "target": None,
        "emoji": None,
        "on": None,
        "reply_to": None,
        "edited_body": None,
        "edited_at": None,
        "edit_seq": None,
        "deleted_at": None,
        "deleted_by": None,
        "updated_seq": None,
        "mentions": None,
        "attachments": None,
        **fields,
    }
    await connection.execute(
        _INSERT,
        row_id,
        room,
        seq,
        values["user"]["id"],
        values["user"]["name"],
        values["body"],
        f"c{seq}",
        values["kind"],
        values["target"],
        values["emoji"],
        values["on"],
        None if values["reply_to"] is None else json.dumps(values["reply_to"]),
        values["edited_body"],
        values["edited_at"],
        values["edit_seq"],
        values["deleted_at"],
        values["deleted_by"],
        values["updated_seq"],
        values["mentions"],
        None if values["attachments"] is None else json.dumps(values["attachments"]),
    )
    return str(row_id)


async def _room_with_actions(connection: asyncpg.Connection) -> tuple[str, dict[str, str]]:
    """A room as the worker leaves it after: kept (edited, two reactions, one taken back),
    gone (edited, then deleted: its words erased), a reply to gone."""
    room = f"store-{uuid.uuid4().hex[:10]}"
    at = datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC)
    ids = {}
    ids["kept"] = await _row(
        connection,
        room,
        1,
        body="kept",
        edited_body="kept, edited",
        edited_at=at,
        edit_seq=4,
        updated_seq=7,
        mentions=["bob"],
    )
    ids["gone"] = await _row(
        connection, room, 2, user=BOB, deleted_at=at, deleted_by="bob", updated_seq=8
    )
    reply_to = {"id": ids["gone"], "user": BOB, "excerpt": "gone"}
    ids["reply"] = await _row(connection, room, 3, body="re", reply_to=reply_to)
    await _row(connection, room, 4, kind="edit", target=uuid.UUID(ids["kept"]), body="kept, edited")
    await _row(connection, room, 5, user=BOB, kind="edit", target=uuid.UUID(ids["gone"]))
    for seq, (user, emoji, on) in enumerate([(BOB, "👍", True), (ADA, "🎉", True)], start=6):
        await _row(
            connection,
            room,
            seq,
            user=user,
            kind="reaction",
            target=uuid.UUID(ids["kept"]),
            emoji=emoji,
            on=on,
        )
    await _row(connection, room, 8, user=BOB, kind="delete", target=uuid.UUID(ids["gone"]))
    await connection.execute(
        "INSERT INTO message_reactions VALUES"
        " ($1, '👍', 'bob', true, 6), ($1, '🎉', 'ada', true, 7), ($1, '❤️', 'ada', false, 3)",
        uuid.UUID(ids["kept"]),
    )
    return room, ids


async def test_history_reads_messages_only_in_their_current_state(
    connection: asyncpg.Connection,
) -> None:
    room, ids = await _room_with_actions(connection)
    states = await _store(connection).before(room, None, 10)
    shown = [msgspec.json.decode(render(state, "ada")) for state in states]
    assert [m["seq"] for m in shown] == [1, 2, 3]
    assert shown[0] == {
        "v": 1,
        "id": ids["kept"],
        "room": room,
        "seq": 1,
        "user": ADA,
        "body": "kept, edited",
        "ts": TS,
        "client_msg_id": "c1",
        "mentions": ["bob"],
        "edited_at": "2026-11-30T10:00:05.000Z",
        "reactions": [
            {"emoji": "👍", "count": 1, "me": False},
            {"emoji": "🎉", "count": 1, "me": True},
        ],
        "updated_seq": 7,
    }
    assert shown[1] == {
        "v": 1,
        "id": ids["gone"],
        "room": room,
        "seq": 2,
        "user": BOB,
        "ts": TS,
        "client_msg_id": "c2",
        "deleted": True,
        "updated_seq": 8,
    }
    assert shown[2]["reply_to"] == {"id": ids["gone"], "user": BOB, "deleted": True}
    older = await _store(connection).before(room, 3, 1)
    assert [state.seq for state in older] == [2]


async def test_a_target_is_a_message_of_its_room_only(connection: asyncpg.Connection) -> None:
    room, ids = await _room_with_actions(connection)
    store = _store(connection)
    kept = await store.current(room, ids["kept"])
    assert kept is not None
    assert kept.reactions == {"👍": {"bob": 6}, "🎉": {"ada": 7}}
    assert await store.current("another-room", ids["kept"]) is None
    event_ids = await connection.fetch(
        "SELECT id FROM messages WHERE room = $1 AND kind <> 'message'", room
    )
    assert all([await store.current(room, str(row["id"])) is None for row in event_ids])


async def test_catch_up_reads_the_log_as_sent_with_the_deleted_words_erased(
    connection: asyncpg.Connection,
) -> None:
    room, ids = await _room_with_actions(connection)
    store = _store(connection)
    log = [
        msgspec.json.decode(frame.message_json) for frame in await store.between(room, 0, None, 10)
    ]
    assert [m["seq"] for m in log] == list(range(1, 9))
    assert (log[0]["body"], log[0]["mentions"]) == ("kept", ["bob"])  # as sent
    assert log[1] == {
        "v": 1,
        "id": ids["gone"],
        "room": room,
        "seq": 2,
        "user": BOB,
        "ts": TS,
        "client_msg_id": "c2",
        "deleted": True,
    }
    assert log[2]["reply_to"] == {"id": ids["gone"], "user": BOB, "excerpt": "gone"}
    assert log[3] | {"id": 0} == {
        "v": 2,
        "id": 0,
        "room": room,
        "seq": 4,
        "user": ADA,
        "body": "kept, edited",
        "ts": TS,
        "client_msg_id": "c4",
        "kind": "edit",
        "target": ids["kept"],
        "edited_at": TS,
    }
    assert (log[4]["deleted"], "body" in log[4], log[4]["kind"]) == (True, False, "edit")
    assert (log[5]["kind"], log[5]["emoji"], log[5]["on"]) == ("reaction", "👍", True)
    assert (log[7]["kind"], log[7]["target"], "body" in log[7]) == ("delete", ids["gone"], False)


PHOTO = {"id": str(uuid.uuid4()), "name": "cat.png", "type": "image/png", "size": 68, "image": True}
NOTES = {"id": str(uuid.uuid4()), "name": "notes.txt", "type": "text/plain", "size": 9}
PROCESSED = {**PHOTO, "width": 1, "height": 1, "thumbnail": True}


async def _room_with_files(connection: asyncpg.Connection) -> tuple[str, dict[str, str]]:
    """As the worker stores files: a message's row holds them in their current state (the
    media step's event applied), the event's row its own list; a deleted message's files are
    gone with its words, and so are those of its event."""
    room = f"files-{uuid.uuid4().hex[:10]}"
    at = datetime(2026, 11, 30, 10, 0, 5, tzinfo=UTC)
    ids = {}
    ids["album"] = await _row(
        connection, room, 1, attachments=[PROCESSED, {**NOTES, "image": False}], updated_seq=2
    )
    await _row(
        connection,
        room,
        2,
        kind="attachment",
        target=uuid.UUID(ids["album"]),
        attachments=[PROCESSED],
    )
    ids["gone"] = await _row(
        connection, room, 3, body="see", user=BOB, deleted_at=at, deleted_by="bob", updated_seq=5
    )
    await _row(connection, room, 4, user=BOB, kind="attachment", target=uuid.UUID(ids["gone"]))
    await _row(connection, room, 5, user=BOB, kind="delete", target=uuid.UUID(ids["gone"]))
    return room, ids


async def test_history_and_targets_read_a_message_s_files_in_their_current_state(
    connection: asyncpg.Connection,
) -> None:
    room, ids = await _room_with_files(connection)
    store = _store(connection)
    shown = [
        msgspec.json.decode(render(state, "ada")) for state in await store.before(room, None, 10)
    ]
    assert shown[0]["v"] == 2
    assert "body" not in shown[0]
    assert shown[0]["attachments"] == [PROCESSED, {**NOTES, "image": False}]
    assert shown[0]["updated_seq"] == 2
    assert "attachments" not in shown[1]
    album = await store.current(room, ids["album"])
    assert album is not None
    assert [file.id for file in album.attachments] == [PHOTO["id"], NOTES["id"]]


async def test_catch_up_replays_files_as_stored_and_none_of_a_deleted_message(
    connection: asyncpg.Connection,
) -> None:
    room, ids = await _room_with_files(connection)
    log = [
        msgspec.json.decode(frame.message_json)
        for frame in await _store(connection).between(room, 0, None, 10)
    ]
    assert log[0]["attachments"] == [PROCESSED, {**NOTES, "image": False}]
    assert log[1] == {
        "v": 2,
        "id": log[1]["id"],
        "room": room,
        "seq": 2,
        "user": ADA,
        "ts": TS,
        "client_msg_id": "c2",
        "kind": "attachment",
        "target": ids["album"],
        "attachments": [PROCESSED],
    }
    assert "attachments" not in log[2]
    assert log[3]["kind"] == "attachment"
    assert log[3]["deleted"] is True
    assert "attachments" not in log[3]
