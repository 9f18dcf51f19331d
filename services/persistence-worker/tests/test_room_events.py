"""Edits, deletes, reactions and attachment updates stored and applied by MessageStore, against
the real Postgres: each kind, replays and late older duplicates changing nothing, deletes
erasing, events never moving a room's newest seq."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from chat_common.database import create_pool
from chat_worker.rows import EventRow, MessageRow, Row
from chat_worker.store import MessageStore, prepare_connection

T0 = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)


@pytest.fixture
def queries() -> list[str]:
    """Every statement the pool's connections run, in order (after their set-up)."""
    return []


@pytest.fixture
async def pool(database_url: str, queries: list[str]) -> AsyncIterator[asyncpg.Pool]:
    async def init(connection: asyncpg.Connection) -> None:
        await prepare_connection(connection)
        connection.add_query_logger(lambda record: queries.append(record.query))

    created = await create_pool(database_url, min_size=0, max_size=2, init=init)
    yield created
    await created.close()


@pytest.fixture
async def room(pool: asyncpg.Pool) -> AsyncIterator[str]:
    name = f"events-{uuid.uuid4().hex[:12]}"
    await pool.execute("INSERT INTO rooms (id, kind) VALUES ($1, 'public')", name)
    yield name
    await pool.execute(
        "DELETE FROM message_reactions WHERE message_id IN"
        " (SELECT id FROM messages WHERE room = $1)",
        name,
    )
    await pool.execute("DELETE FROM unread_mentions WHERE room = $1", name)
    await pool.execute("DELETE FROM messages WHERE room = $1", name)
    await pool.execute("DELETE FROM rooms WHERE id = $1", name)


def _store(pool: asyncpg.Pool) -> MessageStore:
    return MessageStore(
        pool, activity_step=timedelta(minutes=1), note_author_marks=lambda marks: None
    )


def _message(room: str, seq: int, **changes: Any) -> MessageRow:
    row = MessageRow(
        id=uuid.uuid4(),
        room=room,
        seq=seq,
        user_id="ada",
        user_name="ada",
        body=f"message {seq}",
        client_msg_id=f"c-{seq}",
        created_at=T0 + timedelta(seconds=seq),
    )
    return row._replace(**changes)


def _event(room: str, seq: int, kind: str, target: MessageRow, **fields: Any) -> EventRow:
    return EventRow(
        id=uuid.uuid4(),
        room=room,
        seq=seq,
        user_id=fields.pop("user_id", "ada"),
        user_name="ada",
        body=fields.pop("body", None),
        client_msg_id=f"c-{seq}",
        created_at=T0 + timedelta(seconds=seq),
        kind=kind,
        target=target.id,
        emoji=fields.pop("emoji", None),
        reaction_on=fields.pop("on", None),
        edited_at=T0 + timedelta(seconds=seq) if kind == "edit" else None,
        attachments=fields.pop("attachments", None),
    )


def _edit(room: str, seq: int, target: MessageRow, body: str) -> EventRow:
    return _event(room, seq, "edit", target, body=body)


def _react(room: str, seq: int, target: MessageRow, emoji: str, user: str, on: bool) -> EventRow:
    return _event(room, seq, "reaction", target, emoji=emoji, user_id=user, on=on)


def _file(upload: uuid.UUID, **changes: Any) -> dict[str, Any]:
    """An attachment object as the protocol spells it."""
    return {"id": str(upload), "name": "cat.png", "type": "image/png", "size": 9, "image": True} | (
        changes
    )


def _with_files(room: str, seq: int, *files: dict[str, Any]) -> MessageRow:
    return _message(room, seq, attachments=json.dumps(files))


def _attach(room: str, seq: int, target: MessageRow, *files: dict[str, Any]) -> EventRow:
    return _event(room, seq, "attachment", target, attachments=json.dumps(files))


async def _files(pool: asyncpg.Pool, row: MessageRow | EventRow) -> Any:
    """The attachments a row holds (a message's current ones, an update's own list)."""
    stored = await pool.fetchval("SELECT attachments FROM messages WHERE id = $1", row.id)
    return None if stored is None else json.loads(stored)


async def _state(pool: asyncpg.Pool, message: MessageRow) -> dict[str, Any]:
    record = await pool.fetchrow(
        "SELECT body, edited_body, edited_at, edit_seq, deleted_at, deleted_by, updated_seq"
        " FROM messages WHERE id = $1",
        message.id,
    )
    assert record is not None
    return dict(record)


async def _reactions(pool: asyncpg.Pool, message: MessageRow) -> set[tuple[str, str, bool, int]]:
    rows = await pool.fetch(
        "SELECT emoji, user_id, reaction_on, seq FROM message_reactions WHERE message_id = $1",
        message.id,
    )
    return {(row["emoji"], row["user_id"], row["reaction_on"], row["seq"]) for row in rows}


async def _everything(pool: asyncpg.Pool, room: str) -> list[Any]:
    """The room's rows, reactions and unread mentions, to compare before and after."""
    rows = await pool.fetch("SELECT * FROM messages WHERE room = $1 ORDER BY seq", room)
    reactions = await pool.fetch(
        "SELECT r.* FROM message_reactions r JOIN messages m ON m.id = r.message_id"
        " WHERE m.room = $1 ORDER BY r.message_id, r.emoji, r.user_id",
        room,
    )
    mentions = await pool.fetch(
        "SELECT * FROM unread_mentions WHERE room = $1 ORDER BY user_id, seq", room
    )
    return [
        [{k: v for k, v in dict(row).items() if k != "stored_at"} for row in rows],
        [dict(row) for row in reactions],
        [dict(row) for row in mentions],
    ]


async def test_an_edit_changes_the_text_and_an_older_one_arriving_late_changes_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1)
    first, second = _edit(room, 2, message, "fixed"), _edit(room, 3, message, "fixed again")
    outcome = await store.write([message, first])
    assert (outcome.inserted, outcome.duplicates) == (2, 0)
    state = await _state(pool, message)
    assert (state["body"], state["edited_body"], state["edit_seq"], state["updated_seq"]) == (
        "message 1",
        "fixed",
        2,
        2,
    )
    assert state["edited_at"] == first.edited_at

    await store.write([second])
    await store.write([first])  # a late duplicate of the older edit
    state = await _state(pool, message)
    assert (state["edited_body"], state["edit_seq"], state["updated_seq"]) == ("fixed again", 3, 3)
    assert state["edited_at"] == second.edited_at


async def test_within_a_batch_the_newest_edit_of_a_message_wins(
    pool: asyncpg.Pool, room: str
) -> None:
    message = _message(room, 1)
    # Out of seq order within the batch: the newest by seq wins, not the last written.
    await _store(pool).write(
        [message, _edit(room, 3, message, "newest"), _edit(room, 2, message, "older")]
    )
    state = await _state(pool, message)
    assert (state["edited_body"], state["edit_seq"], state["updated_seq"]) == ("newest", 3, 3)


async def test_reactions_are_added_and_taken_back_and_older_duplicates_change_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1)
    added = _react(room, 2, message, "👍", "bob", on=True)
    await store.write([message, added, _react(room, 3, message, ":tada:", "cleo", on=True)])
    assert await _reactions(pool, message) == {("👍", "bob", True, 2), (":tada:", "cleo", True, 3)}
    assert (await _state(pool, message))["updated_seq"] == 3

    taken_back = _react(room, 4, message, "👍", "bob", on=False)
    await store.write([taken_back])
    await store.write([added])  # the older "on" arrives again after the newer "off"
    assert await _reactions(pool, message) == {
        ("👍", "bob", False, 4),
        (":tada:", "cleo", True, 3),
    }
    again = _react(room, 5, message, "👍", "bob", on=True)
    await store.write([again])
    await store.write([taken_back])  # and the older "off" after the newer "on"
    assert ("👍", "bob", True, 5) in await _reactions(pool, message)
    assert (await _state(pool, message))["updated_seq"] == 5


async def test_within_a_batch_the_newest_reaction_of_a_person_wins(
    pool: asyncpg.Pool, room: str
) -> None:
    message = _message(room, 1)
    await _store(pool).write(
        [
            message,
            _react(room, 2, message, "👍", "bob", on=True),
            _react(room, 4, message, "👍", "bob", on=True),
            _react(room, 3, message, "👍", "bob", on=False),
        ]
    )
    assert await _reactions(pool, message) == {("👍", "bob", True, 4)}


async def test_a_delete_erases_the_message_its_edits_reactions_and_unread_mentions(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1, mentions=["bob"])
    other = _message(room, 2, mentions=["bob"])
    edit = _edit(room, 3, message, "secret, edited")
    await store.write([message, other, edit, _react(room, 4, message, "👍", "bob", on=True)])
    assert await pool.fetchval("SELECT count(*) FROM unread_mentions WHERE room = $1", room) == 2

    delete = _event(room, 5, "delete", message, user_id="mod")
    await store.write([delete])

    state = await _state(pool, message)
    assert (state["body"], state["edited_body"], state["edited_at"], state["edit_seq"]) == (
        None,
        None,
        None,
        None,
    )
    assert (state["deleted_at"], state["deleted_by"], state["updated_seq"]) == (
        delete.created_at,
        "mod",
        5,
    )
    assert await pool.fetchval("SELECT body FROM messages WHERE id = $1", edit.id) is None
    assert await _reactions(pool, message) == set()
    mentions = await pool.fetch("SELECT user_id, seq FROM unread_mentions WHERE room = $1", room)
    assert [(row["user_id"], row["seq"]) for row in mentions] == [("bob", 2)]
    assert (await _state(pool, other))["body"] == "message 2"


async def test_nothing_changes_a_deleted_message_and_a_late_edit_s_text_is_erased_too(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1)
    await store.write([message, _event(room, 2, "delete", message)])
    before = await _state(pool, message)

    late_edit = _edit(room, 3, message, "after the delete")
    await store.write([late_edit, _react(room, 4, message, "👍", "bob", on=True)])
    await store.write([_event(room, 5, "delete", message, user_id="someone else")])

    assert await _state(pool, message) == before
    assert await _reactions(pool, message) == set()
    assert await pool.fetchval("SELECT body FROM messages WHERE id = $1", late_edit.id) is None


async def test_a_delete_wins_within_a_batch_whatever_comes_after_it(
    pool: asyncpg.Pool, room: str
) -> None:
    message = _message(room, 1)
    edit_before = _edit(room, 2, message, "edited before")
    edit_after = _edit(room, 5, message, "edited after")
    await _store(pool).write(
        [
            message,
            edit_before,
            _react(room, 3, message, "👍", "bob", on=True),
            _event(room, 4, "delete", message),
            edit_after,
            _react(room, 6, message, "👍", "cleo", on=True),
        ]
    )
    state = await _state(pool, message)
    assert (state["body"], state["edited_body"], state["edit_seq"], state["updated_seq"]) == (
        None,
        None,
        None,
        4,
    )
    assert await _reactions(pool, message) == set()
    bodies = await pool.fetch(
        "SELECT body FROM messages WHERE id = ANY($1::uuid[])", [edit_before.id, edit_after.id]
    )
    assert [row["body"] for row in bodies] == [None, None]


async def test_an_event_whose_target_is_missing_or_elsewhere_is_stored_and_changes_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1)
    await store.write([message])
    other_room = f"{room}-x"
    elsewhere = _message(other_room, 1)  # stored, in another room
    await store.write([elsewhere])
    event_of_an_event = _edit(room, 2, message, "fixed")
    events: list[Row] = [
        event_of_an_event,
        _edit(room, 3, elsewhere, "nowhere"),
        _react(room, 4, elsewhere, "👍", "bob", on=True),
        _event(room, 5, "delete", elsewhere),
        _react(room, 6, _message(room, 9), "👍", "bob", on=True),  # never stored anywhere
    ]
    await store.write(events)
    # An event naming an event (not a message) changes nothing either.
    target_is_an_event = _message(room, 0)._replace(id=event_of_an_event.id)
    await store.write([_event(room, 7, "delete", target_is_an_event)])

    stored = await pool.fetch("SELECT seq, kind FROM messages WHERE room = $1 ORDER BY seq", room)
    assert [(row["seq"], row["kind"]) for row in stored] == [
        (1, "message"),
        (2, "edit"),
        (3, "edit"),
        (4, "reaction"),
        (5, "delete"),
        (6, "reaction"),
        (7, "delete"),
    ]
    assert await pool.fetchval("SELECT body FROM messages WHERE id = $1", event_of_an_event.id) == (
        "fixed"
    )
    assert (await _state(pool, message))["edited_body"] == "fixed"
    reactions = await _reactions(pool, elsewhere)
    untouched = await _state(pool, elsewhere)
    await pool.execute("DELETE FROM message_reactions WHERE message_id = $1", elsewhere.id)
    await pool.execute("DELETE FROM messages WHERE room = $1", other_room)
    assert reactions == set()
    assert untouched == {
        "body": "message 1",
        "edited_body": None,
        "edited_at": None,
        "edit_seq": None,
        "deleted_at": None,
        "deleted_by": None,
        "updated_seq": None,
    }


async def test_a_whole_batch_stored_again_changes_nothing(pool: asyncpg.Pool, room: str) -> None:
    store = _store(pool)
    first = _message(room, 1, mentions=["bob"])
    second = _message(room, 2, mentions=["bob"])
    batch: list[Row] = [
        first,
        second,
        _edit(room, 3, first, "fixed"),
        _react(room, 4, second, "👍", "bob", on=True),
        _react(room, 5, second, "👍", "cleo", on=True),
        _react(room, 6, second, "👍", "bob", on=False),
        _edit(room, 7, second, "second, fixed"),
        _event(room, 8, "delete", first),
    ]
    await store.write(batch)
    after_once = await _everything(pool, room)

    again = await store.write(batch)  # through the staging table: every row is stored
    assert (again.inserted, again.duplicates) == (0, len(batch))
    assert await _everything(pool, room) == after_once
    # And as its halves, in either order.
    await store.write(batch[4:])
    await store.write(batch[:4])
    assert await _everything(pool, room) == after_once


async def test_events_are_applied_when_a_refused_row_sends_the_batch_one_by_one(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1)
    refused = _edit(room, 3, message, "nul \x00 inside")
    reaction = _react(room, 4, message, "👍", "b", on=True)
    outcome = await store.write([message, _edit(room, 2, message, "fixed"), refused, reaction])
    assert [index for index, _ in outcome.refused] == [2]
    state = await _state(pool, message)
    assert (state["edited_body"], state["edit_seq"], state["updated_seq"]) == ("fixed", 2, 4)
    assert await _reactions(pool, message) == {("👍", "b", True, 4)}


async def test_events_never_move_the_room_s_newest_seq_nor_tell_authors_marks(
    pool: asyncpg.Pool, room: str
) -> None:
    noted: list[dict[tuple[str, str], int]] = []
    store = MessageStore(
        pool, activity_step=timedelta(0), note_author_marks=lambda m: noted.append(dict(m))
    )
    message = _message(room, 1)
    await store.write([message])
    active = await pool.fetchval("SELECT last_active_at FROM rooms WHERE id = $1", room)
    await store.write(
        [
            _edit(room, 2, message, "fixed")._replace(user_id="bob"),
            _react(room, 3, message, "👍", "bob", on=True),
            _event(room, 4, "delete", message, user_id="bob"),
        ]
    )
    room_row = await pool.fetchrow("SELECT last_seq, last_active_at FROM rooms WHERE id = $1", room)
    assert room_row is not None
    assert (room_row["last_seq"], room_row["last_active_at"]) == (1, active)
    assert noted == [{("ada", room): 1}, {}]


async def test_a_batch_of_messages_alone_runs_no_statement_for_events(
    pool: asyncpg.Pool, room: str, queries: list[str]
) -> None:
    store = _store(pool)
    message = _message(room, 1, mentions=["bob"])
    await store.write([message, _message(room, 2)])
    await store.write([message, _message(room, 3)])  # the staging path
    messages_only = list(queries)
    queries.clear()
    await store.write([_edit(room, 4, message, "fixed")])

    def touches_events(query: str) -> bool:
        return "message_reactions" in query or "edit_seq" in query or "deleted_at" in query

    assert not any(touches_events(query) for query in messages_only)
    assert any(touches_events(query) for query in queries)  # the check can see them
    # Nor do plain messages tie uploads; a message with files does.
    assert not any("uploads" in query for query in messages_only + queries)
    await store.write([_with_files(room, 5, _file(uuid.uuid4()))])
    assert any("uploads" in query for query in queries)


async def test_a_message_stored_again_after_its_delete_is_not_unread_again(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    message = _message(room, 1, mentions=["bob"])
    await store.write([message])
    await store.write([_event(room, 2, "delete", message)])
    # A late duplicate of the message, alone and with a refused row (each row on its own).
    await store.write([message, _message(room, 3)])
    await store.write([message, _message(room, 4, body="nul \x00")])
    assert await pool.fetchval("SELECT count(*) FROM unread_mentions WHERE room = $1", room) == 0


async def test_an_attachment_update_replaces_those_with_its_ids_and_keeps_the_others_in_order(
    pool: asyncpg.Pool, room: str
) -> None:
    first, second, third = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    message = _with_files(room, 1, _file(first), _file(second), _file(third, image=False))
    processed = _file(second, width=640, height=480, thumbnail=True)
    update = _attach(room, 2, message, processed)
    await _store(pool).write([message, update])
    assert await _files(pool, message) == [_file(first), processed, _file(third, image=False)]
    assert (await _state(pool, message))["updated_seq"] == 2
    assert await _files(pool, update) == [processed]  # the update's row keeps its own list


async def test_attachment_updates_arriving_late_or_twice_change_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    photo, drawing = uuid.uuid4(), uuid.uuid4()
    message = _with_files(room, 1, _file(photo), _file(drawing))
    await store.write([message])
    # The media step's update of both, then a newer one of the photo alone.
    older = _attach(
        room, 2, message, _file(photo, width=10, height=10), _file(drawing, image=False)
    )
    newer = _attach(room, 3, message, _file(photo, width=20, height=20, thumbnail=True))
    folded = [_file(photo, width=20, height=20, thumbnail=True), _file(drawing, image=False)]

    await store.write([newer])
    await store.write([older])  # the older one comes later: it still brings the drawing's
    assert await _files(pool, message) == folded
    assert (await _state(pool, message))["updated_seq"] == 3
    after = await _everything(pool, room)
    await store.write([older])
    await store.write([newer])
    await store.write([message, older, newer])
    assert await _everything(pool, room) == after


async def test_within_a_batch_attachment_updates_fold_in_seq_order_whatever_their_order(
    pool: asyncpg.Pool, room: str
) -> None:
    photo = uuid.uuid4()
    message = _with_files(room, 1, _file(photo))
    newest = _file(photo, width=3, height=3, thumbnail=True)
    await _store(pool).write(
        [
            message,
            _attach(room, 4, message, newest),
            _attach(room, 2, message, _file(photo, width=1, height=1)),
            _attach(room, 3, message, _file(photo, width=2, height=2)),
        ]
    )
    assert await _files(pool, message) == [newest]
    assert (await _state(pool, message))["updated_seq"] == 4


async def test_an_update_naming_none_of_the_message_s_files_changes_them_but_moves_updated_seq(
    pool: asyncpg.Pool, room: str
) -> None:
    photo = uuid.uuid4()
    message = _with_files(room, 1, _file(photo))
    plain = _message(room, 2)
    await _store(pool).write(
        [
            message,
            plain,
            _attach(room, 3, message, _file(uuid.uuid4(), width=1, height=1)),
            _attach(room, 4, plain, _file(photo, width=1, height=1)),
        ]
    )
    assert await _files(pool, message) == [_file(photo)]
    assert await _files(pool, plain) is None
    assert [(await _state(pool, row))["updated_seq"] for row in (message, plain)] == [3, 4]


async def test_a_delete_clears_the_attachments_and_an_update_of_a_deleted_message_changes_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    photo = uuid.uuid4()
    message = _with_files(room, 1, _file(photo))
    before_delete = _attach(room, 2, message, _file(photo, width=5, height=5))
    await store.write([message, before_delete])
    await store.write([_event(room, 3, "delete", message)])
    state = await _state(pool, message)
    assert (await _files(pool, message), state["updated_seq"]) == (None, 3)
    # A delete erases the files' names from the log, as it erases the words of edits.
    assert await _files(pool, before_delete) is None

    late = _attach(room, 4, message, _file(photo, width=6, height=6, thumbnail=True))
    await store.write([late])
    await store.write([before_delete])  # a late duplicate of the earlier one
    assert await _state(pool, message) == state
    assert await _files(pool, message) is None
    assert await _files(pool, late) is None


@pytest.mark.parametrize("delete_seq", [2, 3])
async def test_a_delete_and_an_attachment_update_in_one_batch_leave_no_attachments(
    pool: asyncpg.Pool, room: str, delete_seq: int
) -> None:
    photo = uuid.uuid4()
    message = _with_files(room, 1, _file(photo))
    update = _attach(room, 5 - delete_seq, message, _file(photo, width=1, height=1))
    await _store(pool).write([message, update, _event(room, delete_seq, "delete", message)])
    assert await _files(pool, message) is None
    assert await _files(pool, update) is None
    assert (await _state(pool, message))["updated_seq"] == delete_seq


async def test_an_attachment_update_of_a_missing_or_elsewhere_target_changes_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    photo = uuid.uuid4()
    other_room = f"{room}-x"
    elsewhere = _with_files(other_room, 1, _file(photo))
    await store.write([elsewhere])
    message = _with_files(room, 1, _file(photo))
    processed = _file(photo, width=1, height=1)
    updates: list[Row] = [
        message,
        _attach(room, 2, elsewhere, processed),
        _attach(room, 3, _message(room, 9), processed),  # never stored anywhere
    ]
    await store.write(updates)
    elsewhere_state = (await _files(pool, elsewhere), await _state(pool, elsewhere))
    await pool.execute("DELETE FROM messages WHERE room = $1", other_room)
    assert await _files(pool, message) == [_file(photo)]
    assert elsewhere_state[0] == [_file(photo)]
    assert elsewhere_state[1]["updated_seq"] is None
    kinds = await pool.fetch("SELECT seq, kind FROM messages WHERE room = $1 ORDER BY seq", room)
    assert [(row["seq"], row["kind"]) for row in kinds] == [
        (1, "message"),
        (2, "attachment"),
        (3, "attachment"),
    ]


async def test_attachment_updates_are_applied_when_a_refused_row_sends_the_batch_one_by_one(
    pool: asyncpg.Pool, room: str
) -> None:
    photo = uuid.uuid4()
    message = _with_files(room, 1, _file(photo))
    processed = _file(photo, width=1, height=1, thumbnail=True)
    outcome = await _store(pool).write(
        [message, _edit(room, 2, message, "nul \x00 inside"), _attach(room, 3, message, processed)]
    )
    assert [index for index, _ in outcome.refused] == [1]
    assert await _files(pool, message) == [processed]
    assert (await _state(pool, message))["updated_seq"] == 3
