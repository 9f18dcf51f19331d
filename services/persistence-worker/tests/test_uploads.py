"""A stored message's attachments tie their uploads to it (``uploads.message_id``) in the batch's
transaction, against the real Postgres: by every write path, once, and never an upload of
another room, person or message."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from chat_common.database import create_pool
from chat_worker.rows import MessageRow
from chat_worker.store import MessageStore, WriteOutcome, prepare_connection
from chat_worker.uploads import UnclaimedUpload

T0 = datetime(2026, 11, 25, 21, 0, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=0, max_size=2, init=prepare_connection)
    yield created
    await created.close()


@pytest.fixture
async def room(pool: asyncpg.Pool) -> AsyncIterator[str]:
    """A room of this test's own; its messages and uploads and those of ``{room}-x`` are
    deleted afterwards."""
    name = f"uploads-{uuid.uuid4().hex[:12]}"
    yield name
    rooms = [name, f"{name}-x"]
    await pool.execute("DELETE FROM uploads WHERE room = ANY($1::text[])", rooms)
    await pool.execute("DELETE FROM messages WHERE room = ANY($1::text[])", rooms)


def _store(pool: asyncpg.Pool) -> MessageStore:
    return MessageStore(
        pool, activity_step=timedelta(minutes=1), note_author_marks=lambda marks: None
    )


async def _upload(pool: asyncpg.Pool, room: str, user: str = "ada") -> uuid.UUID:
    """An upload the gateway handed out and claimed for a send."""
    upload = uuid.uuid4()
    await pool.execute(
        "INSERT INTO uploads (id, room, user_id, name, declared_type, size, client_msg_id,"
        " claimed_at, type, image) VALUES ($1, $2, $3, 'cat.png', 'image/png', 9, 'c-1', now(),"
        " 'image/png', true)",
        upload,
        room,
        user,
    )
    return upload


def _message(room: str, seq: int, *uploads: uuid.UUID, body: str | None = None) -> MessageRow:
    attachments = [
        {"id": str(upload), "name": "cat.png", "type": "image/png", "size": 9, "image": True}
        for upload in uploads
    ]
    return MessageRow(
        id=uuid.uuid4(),
        room=room,
        seq=seq,
        user_id="ada",
        user_name="ada",
        body=body,
        client_msg_id=f"c-{seq}",
        created_at=T0 + timedelta(seconds=seq),
        attachments=json.dumps(attachments) if attachments else None,
    )


async def _message_of(pool: asyncpg.Pool, *uploads: uuid.UUID) -> list[uuid.UUID | None]:
    records = await pool.fetch("SELECT id, message_id FROM uploads WHERE id = ANY($1)", uploads)
    held = {record["id"]: record["message_id"] for record in records}
    return [held.get(upload) for upload in uploads]


def _unclaimed(outcome: WriteOutcome) -> set[tuple[uuid.UUID, uuid.UUID, str]]:
    return {(u.message_id, u.upload_id, u.reason) for u in outcome.unclaimed}


async def test_a_stored_message_s_uploads_name_it_and_storing_it_again_changes_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    photo, notes, other = [await _upload(pool, room) for _ in range(3)]
    message = _message(room, 1, photo, notes)
    outcome = await store.write([message, _message(room, 2, body="plain")])
    assert (outcome.inserted, outcome.unclaimed) == (2, [])
    assert await _message_of(pool, photo, notes, other) == [message.id, message.id, None]
    stored = await pool.fetchval("SELECT attachments FROM messages WHERE id = $1", message.id)
    assert [item["id"] for item in json.loads(stored)] == [str(photo), str(notes)]

    again = await store.write([message])  # a redelivery: stored already, its uploads its own
    assert (again.inserted, again.duplicates, again.unclaimed) == (0, 1, [])
    assert await pool.fetchval("SELECT count(*) FROM messages WHERE room = $1", room) == 2
    assert await _message_of(pool, photo, notes, other) == [message.id, message.id, None]


async def test_uploads_of_another_room_person_or_message_and_missing_ones_are_left_alone(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    elsewhere = await _upload(pool, f"{room}-x")
    bobs = await _upload(pool, room, user="bob")
    taken = await _upload(pool, room)
    first = _message(room, 1, taken)
    await store.write([first])
    missing = uuid.uuid4()
    own = await _upload(pool, room)
    message = _message(room, 2, elsewhere, bobs, taken, missing, own)

    outcome = await store.write([message])

    # Stored with every attachment all the same: it is durable in Kafka and was acknowledged.
    assert outcome.inserted == 1
    stored = await pool.fetchval("SELECT attachments FROM messages WHERE id = $1", message.id)
    assert len(json.loads(stored)) == 5
    assert await _message_of(pool, elsewhere, bobs, taken, own) == [
        None,
        None,
        first.id,
        message.id,
    ]
    assert _unclaimed(outcome) == {
        (message.id, elsewhere, f"an upload of room '{room}-x'"),
        (message.id, bobs, "an upload of user 'bob'"),
        (message.id, taken, f"attached to message {first.id}"),
        (message.id, missing, "no such upload"),
    }
    # A redelivery, even twice in one batch, reports each once again, and still takes nothing.
    again = await store.write([message, message])
    assert (len(again.unclaimed), _unclaimed(again)) == (4, _unclaimed(outcome))
    assert await _message_of(pool, elsewhere, bobs, taken) == [None, None, first.id]


async def test_of_two_messages_of_a_batch_naming_one_upload_the_first_in_the_log_takes_it(
    pool: asyncpg.Pool, room: str
) -> None:
    shared = await _upload(pool, room)
    first, second = _message(room, 1, shared), _message(room, 2, shared)
    outcome = await _store(pool).write([second, first])
    assert await _message_of(pool, shared) == [first.id]
    assert outcome.unclaimed == [
        UnclaimedUpload(second.id, shared, f"attached to message {first.id}")
    ]


async def test_a_record_not_stored_because_its_seq_or_id_is_taken_ties_nothing(
    pool: asyncpg.Pool, room: str
) -> None:
    store = _store(pool)
    first = _message(room, 1, body="first of seq 1")
    await store.write([first])
    upload = await _upload(pool, room)
    # Other records with that seq, or with that id at another seq: not in the log.
    same_seq = _message(room, 1, upload)
    same_id = _message(room, 2, upload)._replace(id=first.id)
    outcome = await store.write([same_seq, same_id])
    assert (outcome.inserted, outcome.duplicates, outcome.unclaimed) == (0, 2, [])
    assert await _message_of(pool, upload) == [None]


async def test_uploads_are_tied_by_every_write_path(pool: asyncpg.Pool, room: str) -> None:
    store = _store(pool)
    uploads = [await _upload(pool, room) for _ in range(3)]
    straight = _message(room, 1, uploads[0])
    await store.write([straight])  # COPY straight into messages
    staged = _message(room, 2, uploads[1])
    await store.write([straight, staged])  # meets a stored row: through the staging table
    one_by_one = _message(room, 3, uploads[2])
    refused = _message(room, 4, body="nul \x00")
    outcome = await store.write([refused, one_by_one])  # a refused row: each row on its own
    assert [index for index, _ in outcome.refused] == [0]
    assert await _message_of(pool, *uploads) == [straight.id, staged.id, one_by_one.id]
