"""MessageStore against the real Postgres: bulk writes, conflicts as duplicates, refused rows."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from chat_common.database import create_pool
from chat_worker.author_marks import Author
from chat_worker.rows import MessageRow
from chat_worker.store import MessageStore, advance_author_marks, prepare_connection

STEP = timedelta(minutes=1)
NOON = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=0, max_size=2, init=prepare_connection)
    yield created
    await created.close()


@pytest.fixture
async def room(pool: asyncpg.Pool) -> AsyncIterator[str]:
    name = f"store-{uuid.uuid4().hex[:12]}"
    yield name
    await pool.execute("DELETE FROM messages WHERE room = $1", name)


class NotedMarks(list[dict[Author, int]]):
    """What a store tells after each commit, one entry a write."""

    def __call__(self, marks: Mapping[Author, int]) -> None:
        self.append(dict(marks))


def _store(pool: asyncpg.Pool, noted: NotedMarks | None = None) -> MessageStore:
    return MessageStore(
        pool, activity_step=STEP, note_author_marks=NotedMarks() if noted is None else noted
    )


def _row(room: str, seq: int, body: str = "hi") -> MessageRow:
    return MessageRow(
        id=uuid.uuid4(),
        room=room,
        seq=seq,
        user_id="u1",
        user_name="alice",
        body=body,
        client_msg_id=f"c-{seq}",
        created_at=datetime(2026, 11, 25, 21, 0, tzinfo=UTC),
    )


async def _stored(pool: asyncpg.Pool, room: str) -> list[tuple[uuid.UUID, int, str]]:
    records = await pool.fetch(
        "SELECT id, seq, body FROM messages WHERE room = $1 ORDER BY seq", room
    )
    return [(record["id"], record["seq"], record["body"]) for record in records]


async def test_a_batch_is_stored_and_the_same_batch_again_changes_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    rows = [_row(room, seq) for seq in range(1, 501)]

    first = await store.write(rows)
    again = await store.write(rows)

    assert (first.inserted, first.duplicates, first.refused) == (500, 0, [])
    assert (again.inserted, again.duplicates, again.refused) == (0, 500, [])
    assert await _stored(pool, room) == [(row.id, row.seq, row.body) for row in rows]


async def test_a_known_id_or_a_known_room_seq_counts_as_already_stored(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    original = _row(room, 1)
    await store.write([original])

    same_id = original._replace(seq=2)
    same_seq = _row(room, 1, body="another message id for seq 1")
    twice_in_one_batch = _row(room, 3)
    outcome = await store.write([same_id, same_seq, twice_in_one_batch, twice_in_one_batch])

    assert (outcome.inserted, outcome.duplicates) == (1, 3)
    assert await _stored(pool, room) == [
        (original.id, 1, original.body),
        (twice_in_one_batch.id, 3, twice_in_one_batch.body),
    ]


async def test_a_batch_mixing_stored_and_new_rows_stores_each_new_one_once(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    rows = [_row(room, seq) for seq in range(1, 11)]
    await store.write(rows[3:5])
    await store.write(rows[9:])

    # The COPY of new rows gets as far as row 4 before it meets a stored one; what it wrote
    # before must not stay behind, nor be counted twice.
    outcome = await store.write(rows)

    assert (outcome.inserted, outcome.duplicates, outcome.refused) == (7, 3, [])
    assert await _stored(pool, room) == [(row.id, row.seq, row.body) for row in rows]


async def test_rows_the_database_refuses_are_set_aside_and_the_rest_is_stored(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    rows = [_row(room, 1), _row(room, 2, body="nul \x00 inside"), _row(room, 3)]

    outcome = await store.write(rows)

    assert (outcome.inserted, outcome.duplicates) == (2, 0)
    [(index, reason)] = outcome.refused
    assert index == 1
    assert "0x00" in reason
    assert [seq for _, seq, _ in await _stored(pool, room)] == [1, 3]


async def test_the_staging_table_is_empty_after_every_batch(database_url: str, room: str) -> None:
    # One connection: the one that wrote is the one inspected (the table is per connection).
    single = await create_pool(database_url, min_size=1, max_size=1, init=prepare_connection)
    try:
        store = _store(single)
        await store.write([_row(room, 1), _row(room, 2)])
        await store.write([_row(room, 2, body="refused \x00"), _row(room, 3)])
        async with single.acquire() as connection:
            assert await connection.fetchval("SELECT count(*) FROM message_staging") == 0
    finally:
        await single.close()


async def _activity(pool: asyncpg.Pool, room: str) -> datetime:
    at: datetime = await pool.fetchval("SELECT last_active_at FROM rooms WHERE id = $1", room)
    return at


async def test_a_room_is_as_active_as_its_newest_stored_message_give_or_take_a_step(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    await pool.execute(
        "INSERT INTO rooms (id, kind, created_at, last_active_at) VALUES ($1, 'public', $2, $2)",
        room,
        NOON,
    )
    try:
        later = [_row(room, seq)._replace(created_at=NOON + seq * STEP) for seq in (3, 1, 2)]
        await store.write(later)
        assert await _activity(pool, room) == NOON + 3 * STEP

        # Within a step of what is recorded: the row is left alone (a busy room is rewritten
        # once a step); older messages never move it back; a refused row does not count.
        await store.write([_row(room, 4)._replace(created_at=NOON + 3.5 * STEP)])
        await store.write([_row(room, 5)._replace(created_at=NOON)])
        refused = _row(room, 6, body="nul \x00")._replace(created_at=NOON + 9 * STEP)
        await store.write([refused, _row(room, 7)._replace(created_at=NOON + 5 * STEP)])
        assert await _activity(pool, room) == NOON + 5 * STEP
    finally:
        await pool.execute("DELETE FROM rooms WHERE id = $1", room)


async def test_a_room_s_last_seq_follows_what_is_stored_and_its_authors_marks_are_told_after(
    pool: asyncpg.Pool, room: str
) -> None:
    noted = NotedMarks()
    store = _store(pool, noted)
    await pool.execute("INSERT INTO rooms (id, kind) VALUES ($1, 'public')", room)
    try:
        bob = [_row(room, seq)._replace(user_id="bob") for seq in (2, 4)]
        await store.write([_row(room, 1), *bob, _row(room, 3)])
        assert await pool.fetchval("SELECT last_seq FROM rooms WHERE id = $1", room) == 4
        assert noted == [{("u1", room): 3, ("bob", room): 4}]
        # The batch's transaction moves no marker: that is left to advance_author_marks.
        assert await _markers(pool, room) == {}

        # A batch stored again (a redelivery), or an older one, moves last_seq nothing back; the
        # staging path and the row-by-row path tell the marks as the fast path does, but not
        # those of a refused row.
        await store.write([_row(room, 1), _row(room, 5)])
        refused = _row(room, 6, body="nul \x00")._replace(user_id="eve")
        await store.write([refused, _row(room, 7)._replace(user_id="bob")])
        assert await pool.fetchval("SELECT last_seq FROM rooms WHERE id = $1", room) == 7
        assert noted[1:] == [{("u1", room): 5}, {("bob", room): 7}]
    finally:
        await pool.execute("DELETE FROM rooms WHERE id = $1", room)


async def test_authors_markers_move_forward_only(pool: asyncpg.Pool, room: str) -> None:
    await pool.execute("INSERT INTO rooms (id, kind) VALUES ($1, 'public')", room)
    try:
        await advance_author_marks(pool, {("u1", room): 5, ("bob", room): 7})
        assert await _markers(pool, room) == {"u1": 5, "bob": 7}
        await pool.execute(
            "UPDATE read_markers SET seq = 9 WHERE user_id = 'bob' AND room = $1", room
        )
        await advance_author_marks(pool, {("u1", room): 3, ("bob", room): 8})
        assert await _markers(pool, room) == {"u1": 5, "bob": 9}
    finally:
        await pool.execute("DELETE FROM rooms WHERE id = $1", room)


async def test_the_people_a_message_mentions_have_it_unread_until_their_marker_passes_it(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    await pool.execute("INSERT INTO rooms (id, kind) VALUES ($1, 'public')", room)
    try:
        await pool.execute(
            "INSERT INTO read_markers (user_id, room, seq) VALUES ('cleo', $1, 2)", room
        )
        await store.write(
            [
                _row(room, 1)._replace(mentions=["bob", "cleo"]),  # cleo read it already
                _row(room, 2),
                _row(room, 3)._replace(mentions=["bob", "cleo"]),
            ]
        )
        assert await _unread_mentions(pool, room) == [("bob", 1), ("bob", 3), ("cleo", 3)]
        # A redelivery after bob read up to 3 records none of his again.
        await pool.execute("DELETE FROM unread_mentions WHERE user_id = 'bob' AND room = $1", room)
        await pool.execute(
            "INSERT INTO read_markers (user_id, room, seq) VALUES ('bob', $1, 3)", room
        )
        await store.write([_row(room, 3)._replace(mentions=["bob", "cleo"]), _row(room, 4)])
        assert await _unread_mentions(pool, room) == [("cleo", 3)]
    finally:
        await pool.execute("DELETE FROM unread_mentions WHERE room = $1", room)
        await pool.execute("DELETE FROM rooms WHERE id = $1", room)


async def _unread_mentions(pool: asyncpg.Pool, room: str) -> list[tuple[str, int]]:
    rows = await pool.fetch(
        "SELECT user_id, seq FROM unread_mentions WHERE room = $1 ORDER BY user_id, seq", room
    )
    return [(row["user_id"], row["seq"]) for row in rows]


async def _markers(pool: asyncpg.Pool, room: str) -> dict[str, int]:
    rows = await pool.fetch("SELECT user_id, seq FROM read_markers WHERE room = $1", room)
    return {row["user_id"]: row["seq"] for row in rows}


async def test_messages_of_a_room_without_a_row_are_stored_and_leave_no_marker(
    pool: asyncpg.Pool, room: str
) -> None:
    noted = NotedMarks()
    outcome = await _store(pool, noted).write([_row(room, 1), _row(room, 2)])
    assert (outcome.inserted, outcome.refused) == (2, [])
    await advance_author_marks(pool, noted[0])
    assert await _markers(pool, room) == {}


async def test_mentions_are_stored_as_an_array_and_none_as_null_by_every_path(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    straight = [_row(room, 1)._replace(mentions=["u2", "u3"]), _row(room, 2)]
    await store.write(straight)  # COPY straight into messages
    skipping = [straight[0], _row(room, 3)._replace(mentions=["u4"]), _row(room, 4)]
    await store.write(skipping)  # meets a stored row: through the staging table
    one_by_one = [
        _row(room, 5)._replace(mentions=["u5"]),
        _row(room, 6, body="nul \x00"),
        _row(room, 7),
    ]
    await store.write(one_by_one)  # a refused row: each row on its own
    stored = await pool.fetch("SELECT seq, mentions FROM messages WHERE room = $1", room)
    assert sorted((row["seq"], row["mentions"]) for row in stored) == [
        (1, ["u2", "u3"]),
        (2, None),
        (3, ["u4"]),
        (4, None),
        (5, ["u5"]),
        (7, None),
    ]


async def test_reply_to_is_stored_as_the_json_object_by_every_path(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    reply = '{"id":"m-1","user":{"id":"u2","name":"bob"},"excerpt":"the question"}'
    await store.write([_row(room, 1)._replace(reply_to=reply), _row(room, 2)])
    await store.write([_row(room, 2), _row(room, 3)._replace(reply_to=reply)])  # staging
    await store.write([_row(room, 4, body="nul \x00"), _row(room, 5)._replace(reply_to=reply)])
    stored = await pool.fetch("SELECT seq, reply_to FROM messages WHERE room = $1", room)
    answered = {"id": "m-1", "user": {"id": "u2", "name": "bob"}, "excerpt": "the question"}
    assert sorted(
        (row["seq"], None if row["reply_to"] is None else json.loads(row["reply_to"]))
        for row in stored
    ) == [(1, answered), (2, None), (3, answered), (5, answered)]


async def test_attachments_are_stored_as_the_json_array_by_every_path(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    photo = {"id": str(uuid.uuid4()), "name": "cat.png", "type": "image/png", "size": 9}
    files = json.dumps([{**photo, "image": True}, {**photo, "name": "notes.txt", "image": False}])
    await store.write([_row(room, 1)._replace(attachments=files, body=None), _row(room, 2)])
    await store.write([_row(room, 2), _row(room, 3)._replace(attachments=files)])  # staging
    await store.write([_row(room, 4, body="nul \x00"), _row(room, 5)._replace(attachments=files)])
    stored = await pool.fetch("SELECT seq, body, attachments FROM messages WHERE room = $1", room)
    expected = json.loads(files)
    assert sorted(
        (
            row["seq"],
            row["body"],
            None if row["attachments"] is None else json.loads(row["attachments"]),
        )
        for row in stored
    ) == [(1, None, expected), (2, "hi", None), (3, "hi", expected), (5, "hi", expected)]
