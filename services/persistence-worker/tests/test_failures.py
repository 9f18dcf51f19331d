"""The worker under failure, against the real Kafka and Postgres: SIGKILLed again and again,
Postgres gone for ten seconds, SIGTERM during an outage or while one transaction of a batch is
stuck, a group member dying.

Each ends the same way: every produced message stored once, none missing, none doubled; and a
log mixing messages, edits, deletes, reactions and attachment updates ends in exactly the state
its fold gives.
"""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from chat_common.envelope import Envelope
from room_log import RoomLog, fold, stored_state
from worker_harness import (
    Conversation,
    MessageTable,
    PrivatePostgres,
    StartWorker,
    Topics,
    eventually,
)

pytestmark = pytest.mark.slow

WRITTEN = "chat_worker_records_written_total"
DB_RETRIES = "chat_worker_db_retries_total"
ASSIGNED = "chat_worker_assigned_partitions"
OUTAGE_S = 10.0


def _with_producer_retries(messages: list[Envelope]) -> list[Envelope]:
    """Every tenth message sent twice in a row, as a producer retry after a lost ack does."""
    sent: list[Envelope] = []
    for index, message in enumerate(messages):
        sent.append(message)
        if index % 10 == 0:
            sent.append(message)
    return sent


def _with_late_duplicates(entries: list[Envelope]) -> list[Envelope]:
    """After every 10th entry, the one sent 1,000 entries earlier sent again: an older record
    arriving after newer ones of its room (a retry from a gateway that lost its ack), often
    after a newer reaction of the same person, or after its message's delete."""
    sent: list[Envelope] = []
    for index, entry in enumerate(entries):
        sent.append(entry)
        if index % 10 == 0 and index >= 1000:
            sent.append(entries[index - 1000])
    return sent


KILLED_AGAIN_AND_AGAIN = pytest.mark.parametrize(
    "settings",
    [
        pytest.param({"batch_max_records": "50"}, id="small-batches"),
        # Each poll split into up to three transactions stored at once: a kill lands while
        # some groups of a poll are committed and others not, none of it committed in Kafka.
        pytest.param(
            {
                "batch_max_records": "300",
                "write_connections": "3",
                "write_group_min_records": "1",
            },
            id="parallel-groups",
        ),
    ],
)


@KILLED_AGAIN_AND_AGAIN
async def test_a_worker_killed_again_and_again_loses_nothing_and_doubles_nothing(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
    settings: dict[str, str],
) -> None:
    messages = conversation.messages(6000)
    # About 20 s of traffic; each restart waits out the killed member's 6 s session, so all
    # three kills land while records are still arriving.
    stream = asyncio.create_task(
        topics.produce_steadily(_with_producer_retries(messages), per_second=330)
    )
    for _ in range(3):
        before = await stored.count()
        worker = await start_worker(**settings)

        async def progressing(before: int = before) -> bool:
            return await stored.count() > before

        await eventually(progressing, "the restarted worker stores rows")
        worker.kill()
    await start_worker(**settings)
    await stream

    await stored.wait_for(len(messages))
    rows = await stored.rows()
    assert len(rows) == len(messages)
    assert set(rows) == conversation.rows_of(messages)


@KILLED_AGAIN_AND_AGAIN
async def test_a_log_of_every_kind_killed_again_and_again_ends_in_the_fold_s_state(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
    settings: dict[str, str],
) -> None:
    await stored.create_rooms()
    # 300 entries a room, so that people react and take reactions back on the same messages.
    rooms = conversation.rooms[:20]
    log = RoomLog(rooms)
    entries = log.entries(6000)
    await stored.create_uploads(log.uploads)
    stream = asyncio.create_task(
        topics.produce_steadily(
            _with_late_duplicates(_with_producer_retries(entries)), per_second=330
        )
    )
    for _ in range(3):
        before = await stored.count()
        worker = await start_worker(**settings)

        async def progressing(before: int = before) -> bool:
            return await stored.count() > before

        await eventually(progressing, "the restarted worker stores rows")
        worker.kill()
    last = await start_worker(**settings)
    await stream

    # Every record handled, the late duplicates at the end included.
    ends = {p: end or None for p, end in (await topics.end_offsets()).items()}

    async def all_committed() -> bool:
        return await topics.committed(last.group) == ends

    await eventually(all_committed, "every record is stored and committed")
    expected = fold(entries, rooms)
    state = await stored_state(stored.database_url, rooms)
    assert state.entries == expected.entries
    assert state.messages == expected.messages
    assert state.reactions == expected.reactions
    assert state.unread_mentions == expected.unread_mentions
    assert state.last_seqs == expected.last_seqs
    assert state.uploads == expected.uploads


async def test_postgres_down_for_ten_seconds_the_worker_waits_then_catches_up(
    topics: Topics,
    conversation: Conversation,
    private_postgres: PrivatePostgres,
    start_worker: StartWorker,
) -> None:
    table = private_postgres.table(conversation.rooms)
    worker = await start_worker(database_url=private_postgres.url, retry_max_ms="1000")
    messages = conversation.messages(4000)
    stream = asyncio.create_task(topics.produce_steadily(messages, per_second=250))
    await table.wait_for(1)

    await private_postgres.stop()
    try:

        async def retrying() -> bool:
            return await worker.metric(DB_RETRIES) > 0

        await eventually(retrying, "the worker retries while Postgres is down")
        ready = await worker.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["postgres"] != "ok"
        assert ready.json()["checks"]["kafka"] == "ok"
        await asyncio.sleep(OUTAGE_S)
    finally:
        await private_postgres.start()
    await stream

    await table.wait_for(len(messages))
    rows = await table.rows()
    assert len(rows) == len(messages)
    assert set(rows) == conversation.rows_of(messages)

    async def ready_again() -> bool:
        return (await worker.get("/readyz")).status_code == 200

    await eventually(ready_again, "the worker is ready again")


async def test_sigterm_during_an_outage_gives_up_the_batch_and_commits_nothing_unstored(
    topics: Topics,
    conversation: Conversation,
    private_postgres: PrivatePostgres,
    start_worker: StartWorker,
) -> None:
    table = private_postgres.table(conversation.rooms)
    worker = await start_worker(database_url=private_postgres.url)
    first = conversation.messages(600)
    await topics.produce(first)
    await table.wait_for(len(first))
    stored_ends = await topics.end_offsets()
    expected = {p: end or None for p, end in stored_ends.items()}

    async def all_committed() -> bool:
        return await topics.committed(worker.group) == expected

    await eventually(all_committed, "the stored records are committed")

    await private_postgres.stop()
    second = conversation.messages(600)
    await topics.produce(second)

    async def retrying() -> bool:
        return await worker.metric(DB_RETRIES) > 0

    await eventually(retrying, "the worker retries while Postgres is down")
    assert await worker.terminate() == 0
    # The batch that could not be stored was given up: its offsets are not committed.
    assert await topics.committed(worker.group) == expected

    await private_postgres.start()
    await start_worker(database_url=private_postgres.url)
    await table.wait_for(len(first) + len(second))
    rows = await table.rows()
    assert len(rows) == len(first) + len(second)
    assert set(rows) == conversation.rows_of(first + second)


async def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_dies(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    messages = conversation.messages(6000)
    first = await start_worker()
    stream = asyncio.create_task(topics.produce_steadily(messages, per_second=500))
    await stored.wait_for(1)

    # The second member joins mid-stream: the first gives up half its partitions.
    second = await start_worker()

    async def shared() -> bool:
        owned = [await first.metric(ASSIGNED), await second.metric(ASSIGNED)]
        return owned == [topics.partitions // 2] * 2

    await eventually(shared, "each worker owns half the partitions")

    async def both_writing() -> bool:
        return await first.metric(WRITTEN) > 0 and await second.metric(WRITTEN) > 0

    await eventually(both_writing, "both workers store rows")

    first.kill()

    async def took_over() -> bool:
        return await second.metric(ASSIGNED) == topics.partitions

    await eventually(took_over, "the survivor owns every partition")
    await stream
    await stored.wait_for(len(messages))
    rows = await stored.rows()
    assert len(rows) == len(messages)
    assert set(rows) == conversation.rows_of(messages)

    # Through both rebalances the group's offsets keep moving: all of it ends up committed.
    expected = {p: end or None for p, end in (await topics.end_offsets()).items()}

    async def all_committed() -> bool:
        return await topics.committed(second.group) == expected

    await eventually(all_committed, "the survivor commits every partition to its end")


async def test_sigterm_while_one_transaction_of_a_batch_is_stuck_loses_and_doubles_nothing(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    settings = {"write_connections": "3", "write_group_min_records": "1"}
    worker = await start_worker(database_timeout_s="2", **settings)
    first = conversation.messages(600)
    await topics.produce(first)
    await stored.wait_for(len(first))

    # Another session holds one message's (room, seq) in an open transaction: the group with
    # that room's partition waits on it, the other groups of the batch store their rows.
    second = conversation.messages(600)
    stuck = second[0]
    blocker = await asyncpg.connect(stored.database_url)
    holding = blocker.transaction()
    await holding.start()
    try:
        await blocker.execute(
            "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
            " created_at) VALUES ($1, $2, $3, 'u', 'u', 'held', 'held', now())",
            uuid.uuid4(),
            stuck.room,
            stuck.seq,
        )
        sent = await topics.produce(second)
        await stored.wait_for(len(first) + 1)
        assert await worker.terminate() == 0
        committed = await topics.committed(worker.group)
    finally:
        await holding.rollback()
        await blocker.close()

    # The stuck record's partition is not committed past it, whatever else was stored.
    partition = sent[0].partition
    assert (committed[partition] or 0) <= sent[0].offset

    await start_worker(**settings)
    await stored.wait_for(len(first) + len(second))
    rows = await stored.rows()
    assert len(rows) == len(first) + len(second)
    assert set(rows) == conversation.rows_of(first + second)
