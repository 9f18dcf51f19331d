"""Authors' read markers written together, later, against the real Postgres: on the flusher's
timer, early when full, on stop, one row per author and room, nothing of a failed batch, and
kept through an outage."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from prometheus_client import CollectorRegistry

from chat_common.database import create_pool
from chat_worker.author_marks import Author, AuthorMarks
from chat_worker.marks_flusher import AuthorMarksFlusher
from chat_worker.metrics import WorkerMetrics
from chat_worker.rows import MessageRow
from chat_worker.store import MessageStore, advance_author_marks, prepare_connection
from worker_harness import PrivatePostgres, eventually

# Short, so that the timer's flushes come while a test waits; an hour where only a stop (or a
# full set of marks) may flush.
SOON_S = 0.2
NEVER_S = 3600.0

# Makes a message with this body fail its transaction at COMMIT, after every statement of the
# batch has run (a private Postgres only).
_REFUSE_AT_COMMIT = """
CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused at commit'; END $$;
CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON messages
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW WHEN (NEW.body = 'refused at commit')
EXECUTE FUNCTION refuse_at_commit();
"""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=0, max_size=2, init=prepare_connection)
    yield created
    await created.close()


@pytest.fixture
async def room(pool: asyncpg.Pool) -> AsyncIterator[str]:
    name = await _new_room(pool)
    yield name
    await pool.execute("DELETE FROM messages WHERE room = $1", name)
    await pool.execute("DELETE FROM rooms WHERE id = $1", name)  # its markers go with it


@pytest.fixture
async def private_pool(private_postgres: PrivatePostgres) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(
        private_postgres.url, min_size=0, max_size=2, init=prepare_connection, command_timeout=5
    )
    yield created
    created.terminate()  # its server may be stopped


async def _new_room(pool: asyncpg.Pool) -> str:
    name = f"marks-{uuid.uuid4().hex[:12]}"
    await pool.execute("INSERT INTO rooms (id, kind) VALUES ($1, 'public')", name)
    return name


def _rows(room: str, *written: tuple[str, int], body: str = "hi") -> list[MessageRow]:
    return [
        MessageRow(
            id=uuid.uuid4(),
            room=room,
            seq=seq,
            user_id=author,
            user_name=author,
            body=body,
            client_msg_id=f"c-{seq}",
            created_at=datetime(2026, 11, 25, 21, 0, tzinfo=UTC),
        )
        for author, seq in written
    ]


class Marked:
    """A store and a flusher wired as the service wires them; ``written`` is what each flush
    wrote."""

    def __init__(self, pool: asyncpg.Pool, interval_s: float, max_entries: int = 1000) -> None:
        self.pool = pool
        self.registry = CollectorRegistry()
        self.metrics = WorkerMetrics(self.registry)
        self.written: list[dict[Author, int]] = []
        self.flusher = AuthorMarksFlusher(
            self._advance, AuthorMarks(max_entries), interval_s, self.metrics
        )
        self.store = MessageStore(
            pool, activity_step=timedelta(minutes=1), note_author_marks=self.flusher.note
        )

    async def markers(self, room: str) -> dict[str, int]:
        rows = await self.pool.fetch("SELECT user_id, seq FROM read_markers WHERE room = $1", room)
        return {row["user_id"]: row["seq"] for row in rows}

    async def wait_for_markers(self, room: str, expected: dict[str, int]) -> None:
        async def arrived() -> bool:
            return await self.markers(room) == expected

        await eventually(arrived, f"the markers of {room} reach {expected}")

    async def _advance(self, marks: Mapping[Author, int]) -> None:
        self.written.append(dict(marks))
        await advance_author_marks(self.pool, marks)


async def test_the_marks_of_stored_batches_arrive_on_the_flusher_s_timer(
    pool: asyncpg.Pool, room: str
) -> None:
    marked = Marked(pool, SOON_S)
    await marked.store.write(_rows(room, ("ann", 1), ("bob", 2), ("ann", 3)))
    assert await marked.markers(room) == {}  # not in the batch's transaction

    running = asyncio.create_task(marked.flusher.run())
    try:
        await marked.wait_for_markers(room, {"ann": 3, "bob": 2})
        await marked.store.write(_rows(room, ("bob", 4)))
        await marked.wait_for_markers(room, {"ann": 3, "bob": 4})
        assert not running.done()
    finally:
        marked.flusher.stop()
        await running


async def test_many_batches_of_one_author_and_room_are_one_row_at_the_highest_seq(
    pool: asyncpg.Pool, room: str
) -> None:
    marked = Marked(pool, NEVER_S)
    seqs = list(range(1, 31))
    for batch in (seqs[10:20], seqs[20:], seqs[:10]):  # the newest is not the last one
        for seq in batch:
            await marked.store.write(_rows(room, ("ann", seq), ("bob", 100 + seq)))

    await marked.flusher.flush()

    assert marked.written == [{("ann", room): 30, ("bob", room): 130}]
    assert await marked.markers(room) == {"ann": 30, "bob": 130}


async def test_a_full_set_of_marks_is_flushed_before_its_time(
    pool: asyncpg.Pool, room: str
) -> None:
    marked = Marked(pool, NEVER_S, max_entries=2)
    running = asyncio.create_task(marked.flusher.run())
    try:
        await marked.store.write(_rows(room, ("ann", 1)))
        await marked.store.write(_rows(room, ("bob", 2)))
        await marked.wait_for_markers(room, {"ann": 1, "bob": 2})
    finally:
        marked.flusher.stop()
        await running


async def test_stopping_flushes_what_is_pending(pool: asyncpg.Pool, room: str) -> None:
    marked = Marked(pool, NEVER_S)
    running = asyncio.create_task(marked.flusher.run())
    await marked.store.write(_rows(room, ("ann", 1), ("bob", 2)))
    await marked.store.write(_rows(room, ("ann", 3)))

    marked.flusher.stop()
    await running

    assert await marked.markers(room) == {"ann": 3, "bob": 2}


async def test_a_batch_whose_transaction_failed_adds_no_mark(
    private_pool: asyncpg.Pool,
) -> None:
    await private_pool.execute(_REFUSE_AT_COMMIT)
    room = await _new_room(private_pool)
    marked = Marked(private_pool, NEVER_S)
    await marked.store.write(_rows(room, ("ann", 1)))

    with pytest.raises(asyncpg.RaiseError, match="refused at commit"):
        await marked.store.write(_rows(room, ("ann", 2), ("bob", 3), body="refused at commit"))
    await marked.flusher.flush()

    assert await marked.markers(room) == {"ann": 1}
    assert await private_pool.fetchval("SELECT max(seq) FROM messages") == 1


async def test_marks_a_flush_could_not_write_are_written_by_a_later_one(
    private_postgres: PrivatePostgres, private_pool: asyncpg.Pool
) -> None:
    room = await _new_room(private_pool)
    marked = Marked(private_pool, SOON_S)
    await marked.store.write(_rows(room, ("ann", 1), ("bob", 2)))
    await private_postgres.stop()
    running = asyncio.create_task(marked.flusher.run())
    try:

        async def failing() -> bool:
            failures = marked.registry.get_sample_value(
                "chat_worker_author_mark_flush_failures_total"
            )
            return (failures or 0) >= 2

        await eventually(failing, "flushes fail while Postgres is down")
        # A batch stored meanwhile: its marks join those kept, the higher seq winning.
        marked.flusher.note({("ann", room): 3, ("cleo", room): 3})
        assert not running.done()
    finally:
        await private_postgres.start()
    try:
        await marked.wait_for_markers(room, {"ann": 3, "bob": 2, "cleo": 3})
    finally:
        marked.flusher.stop()
        await running


async def test_a_connection_an_outage_left_busy_is_an_outage_and_the_marks_wait() -> None:
    # asyncpg answers InternalClientError ("another operation is in progress") on a pooled
    # connection whose operation a lost server interrupted (its issues 784 and 1069). It is no
    # InterfaceError; taken for a bug, it ended the flusher and the worker with it.
    written: list[dict[Author, int]] = []
    busy_left = 1

    async def advance(marks: Mapping[Author, int]) -> None:
        nonlocal busy_left
        if busy_left:
            busy_left -= 1
            raise asyncpg.InternalClientError(
                "cannot perform operation: another operation is in progress"
            )
        written.append(dict(marks))

    registry = CollectorRegistry()
    flusher = AuthorMarksFlusher(advance, AuthorMarks(1000), SOON_S, WorkerMetrics(registry))
    flusher.note({("ann", "lobby"): 4})
    await flusher.flush()
    assert registry.get_sample_value("chat_worker_author_mark_flush_failures_total") == 1
    await flusher.flush()
    assert written == [{("ann", "lobby"): 4}]
