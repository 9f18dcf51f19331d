"""The worker as a process against the real Kafka and Postgres: every message stored exactly
once, poison records set aside while the stream goes on, a clean stop on SIGTERM."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import msgspec

from chat_common.envelope import EVENT_SCHEMA_VERSION, Attachment, Envelope, encode_envelope
from chat_worker.rows import to_row
from chat_worker.store import COLUMNS
from worker_harness import Conversation, MessageTable, StartWorker, Topics, eventually

WRITTEN = "chat_worker_records_written_total"
DUPLICATE = "chat_worker_records_duplicate_total"


async def test_ten_thousand_messages_over_many_rooms_become_ten_thousand_rows(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    messages = conversation.messages(10_000)
    await topics.produce(messages)
    worker = await start_worker(batch_max_records="1000")

    await stored.wait_for(10_000)
    rows = await stored.rows()
    assert len(rows) == 10_000
    assert set(rows) == conversation.rows_of(messages)

    async def all_counted() -> bool:
        return await worker.metric(WRITTEN) >= 10_000

    await eventually(all_counted, "the worker counts 10,000 rows written")
    assert await worker.metric(WRITTEN) == 10_000
    assert await worker.metric(DUPLICATE) == 0
    # Batches are bounded by count (1000 here), so 10,000 records take at least ten.
    assert await worker.metric("chat_worker_batch_records_count") >= 10
    assert await worker.metric("chat_worker_batch_records_sum") == 10_000

    async def caught_up() -> bool:
        assigned = await worker.metric("chat_worker_assigned_partitions")
        return (
            assigned == topics.partitions
            and await worker.metric_sum("chat_worker_consumer_lag") == 0
        )

    await eventually(caught_up, "every partition assigned and its lag at zero")
    ready = await worker.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"postgres": "ok", "kafka": "ok"}


async def test_records_produced_twice_are_stored_once(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    messages = conversation.messages(1000)
    # A producer retry after a lost ack: the same record twice, mostly in the same batch.
    await topics.produce(messages)
    await topics.produce(messages)
    worker = await start_worker()

    async def counted(records: int) -> bool:
        return await worker.metric(WRITTEN) + await worker.metric(DUPLICATE) >= records

    await eventually(lambda: counted(2000), "2000 records handled")
    # And once more after they are stored: now every copy conflicts with a stored row.
    await topics.produce(messages)
    await eventually(lambda: counted(3000), "3000 records handled")

    assert await worker.metric(WRITTEN) == 1000
    assert await worker.metric(DUPLICATE) == 2000
    rows = await stored.rows()
    assert len(rows) == 1000
    assert set(rows) == conversation.rows_of(messages)


async def test_a_message_id_or_room_seq_seen_before_is_already_stored(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    [first] = conversation.messages(1)
    same_id = msgspec.structs.replace(first, seq=first.seq + 1000, body="same id, other seq")
    same_seq = msgspec.structs.replace(first, id=str(uuid.uuid4()))
    await topics.produce([first, same_id, same_seq])
    worker = await start_worker()

    async def counted() -> bool:
        return await worker.metric(WRITTEN) + await worker.metric(DUPLICATE) >= 3

    await eventually(counted, "3 records handled")
    assert await stored.rows() == sorted(conversation.rows_of([first]))
    assert await worker.metric(DUPLICATE) == 2


async def test_poison_records_go_to_the_dead_letter_topic_and_the_stream_goes_on(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    before = conversation.messages(500)
    [template] = conversation.messages(1)
    poison = [
        (b"\xff\x00 not JSON", "not JSON"),
        (encode_envelope(msgspec.structs.replace(template, seq=0)), "seq"),
        (encode_envelope(msgspec.structs.replace(template, id="m-17")), "not a UUID"),
        # Valid on the wire, but Postgres text cannot hold NUL: the database refuses it.
        (encode_envelope(msgspec.structs.replace(template, body="a\x00b")), "refused"),
    ]
    after = conversation.messages(500)
    # Keyed by a room like the rest: the poison sits between valid records of its partition.
    room = template.room.encode()
    await topics.produce(before)
    metadata = await topics.produce_raw([(room, value) for value, _ in poison])
    await topics.produce(after)
    worker = await start_worker()

    await stored.wait_for(len(before) + len(after))
    assert set(await stored.rows()) == conversation.rows_of(before + after)

    letters = await topics.dead_letters(len(poison))
    assert len(letters) == len(poison)
    for letter, (value, reason), sent in zip(letters, poison, metadata, strict=True):
        headers = {key: data.decode() for key, data in letter.headers}
        assert letter.value == value
        assert letter.key == room
        assert reason in headers["dlq.reason"]
        assert headers["dlq.source.topic"] == topics.name
        assert headers["dlq.source.partition"] == str(sent.partition)
        assert headers["dlq.source.offset"] == str(sent.offset)
    assert await worker.metric("chat_worker_dlq_records_total") == len(poison)


async def test_a_message_with_attachments_is_stored_once_tied_to_its_uploads_and_updated(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
    database_url: str,
) -> None:
    [template] = conversation.messages(1)
    photo, notes, bobs = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    connection = await asyncpg.connect(database_url)
    try:
        await connection.executemany(
            "INSERT INTO uploads (id, room, user_id, name, declared_type, size)"
            " VALUES ($1, $2, $3, 'f', 'image/png', 9)",
            [
                (photo, template.room, template.user.id),
                (notes, template.room, template.user.id),
                (bobs, template.room, "bob"),
            ],
        )

        def file(upload: uuid.UUID, side: int = 0) -> Attachment:
            """Once the media step has processed it: ``side`` pixels wide and high."""
            attachment = Attachment(
                id=str(upload), name="cat.png", type="image/png", size=9, image=True
            )
            if not side:
                return attachment
            return msgspec.structs.replace(attachment, width=side, height=side, thumbnail=True)

        message = msgspec.structs.replace(
            template, v=EVENT_SCHEMA_VERSION, attachments=(file(photo), file(notes), file(bobs))
        )
        update = Envelope(
            v=EVENT_SCHEMA_VERSION,
            id=str(uuid.uuid4()),
            room=template.room,
            seq=template.seq + 1,
            user=template.user,
            ts=template.ts,
            client_msg_id="media-1",
            kind="attachment",
            target=message.id,
            attachments=(file(photo, 4),),
        )
        # A version-1 reader would store it without its files: refused as version 1.
        as_version_1 = encode_envelope(
            msgspec.structs.replace(message, id=str(uuid.uuid4()), seq=template.seq + 2)
        ).replace(b'"v":2', b'"v":1', 1)
        # Produced twice (a producer retry), the update again later (a late duplicate).
        await topics.produce([message, message, update])
        await topics.produce_raw([(template.room.encode(), as_version_1)])
        await topics.produce([update, message])
        worker = await start_worker()

        [letter] = await topics.dead_letters(1)
        assert letter.value == as_version_1
        reason = dict(letter.headers)["dlq.reason"].decode()
        assert "a message with attachments is version 2" in reason

        async def all_handled() -> bool:
            return await worker.metric(WRITTEN) + await worker.metric(DUPLICATE) >= 5

        await eventually(all_handled, "5 records handled")
        rows = await connection.fetch(
            "SELECT id, kind, attachments FROM messages WHERE room = $1 ORDER BY seq",
            template.room,
        )
        assert [(str(row["id"]), row["kind"]) for row in rows] == [
            (message.id, "message"),
            (update.id, "attachment"),
        ]
        expected = [file(photo, 4), file(notes), file(bobs)]
        assert msgspec.json.decode(rows[0]["attachments"]) == msgspec.to_builtins(expected)
        assert msgspec.json.decode(rows[1]["attachments"]) == msgspec.to_builtins(
            list(update.attachments or ())
        )
        tied = await connection.fetch(
            "SELECT id, message_id FROM uploads WHERE room = $1", template.room
        )
        message_id = uuid.UUID(message.id)
        assert {row["id"]: row["message_id"] for row in tied} == {
            photo: message_id,
            notes: message_id,
            bobs: None,
        }
        # Bob's upload, once for each time the message was stored or found stored.
        assert await worker.metric("chat_worker_uploads_unclaimed_total") >= 1
        assert f"upload_id={bobs} reason=an upload of user 'bob'" in worker.log_tail(200)
    finally:
        await connection.close()


async def test_on_sigterm_the_authors_read_markers_of_what_is_stored_are_written(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
    database_url: str,
) -> None:
    connection = await asyncpg.connect(database_url)
    rooms = conversation.rooms

    async def markers() -> dict[tuple[str, str], int]:
        rows = await connection.fetch(
            "SELECT user_id, room, seq FROM read_markers WHERE room = ANY($1::text[])", rooms
        )
        return {(row["user_id"], row["room"]): row["seq"] for row in rows}

    try:
        await connection.execute(
            "INSERT INTO rooms (id, kind) SELECT unnest($1::text[]), 'public'", rooms
        )
        messages = conversation.messages(700)
        await topics.produce(messages)
        # An hour between flushes (and far fewer marks than fill the worker's map): only the
        # stop writes them.
        worker = await start_worker(author_marks_flush_s="3600")
        await stored.wait_for(len(messages))
        assert await markers() == {}

        assert await worker.terminate() == 0
        newest: dict[tuple[str, str], int] = {}
        for message in messages:
            key = (message.user.id, message.room)
            newest[key] = max(newest.get(key, 0), message.seq)
        assert await markers() == newest
    finally:
        await connection.execute("DELETE FROM rooms WHERE id = ANY($1::text[])", rooms)
        await connection.close()


async def test_sigterm_commits_what_is_stored_and_leaves_the_group(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    messages = conversation.messages(2000)
    await topics.produce(messages)
    worker = await start_worker()
    await stored.wait_for(2000)

    assert await worker.terminate() == 0
    # Every stored record is committed, and the group is empty at once (no session timeout).
    ends = await topics.end_offsets()
    committed = await topics.committed(worker.group)
    assert {p: committed[p] for p in ends if ends[p]} == {p: e for p, e in ends.items() if e}
    assert await topics.group_members(worker.group) == []

    # So the next worker of the group finds nothing to read again.
    successor = await start_worker()

    async def caught_up() -> bool:
        return await successor.metric("chat_worker_assigned_partitions") == topics.partitions

    await eventually(caught_up, "the successor owns every partition")
    await topics.produce(conversation.messages(10))
    await stored.wait_for(2010)

    async def counted() -> bool:
        return await successor.metric(WRITTEN) >= 10

    await eventually(counted, "the successor counts its 10 rows")
    assert await successor.metric(WRITTEN) == 10
    assert await successor.metric(DUPLICATE) == 0


# Every poll split into as many transactions as it has partitions, up to three at once.
PARALLEL = {"write_connections": "3", "write_group_min_records": "1"}


async def test_partitions_stored_in_parallel_transactions_store_every_row_once(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    messages = conversation.messages(6000)
    # A fifth is stored already (as after a crash), spread over every room and partition, so
    # most transactions meet stored rows among new ones.
    already = messages[::5]
    connection = await asyncpg.connect(stored.database_url)
    try:
        rows = [to_row(message) for message in already]
        await connection.copy_records_to_table("messages", records=rows, columns=COLUMNS)
    finally:
        await connection.close()
    await topics.produce(messages)
    # About 1000 records buffered per partition: a poll of 3000 spans several partitions.
    worker = await start_worker(batch_max_records="3000", **PARALLEL)

    async def counted() -> bool:
        return await worker.metric(WRITTEN) + await worker.metric(DUPLICATE) >= len(messages)

    await eventually(counted, f"{len(messages)} records handled")
    assert await worker.metric(WRITTEN) == len(messages) - len(already)
    assert await worker.metric(DUPLICATE) == len(already)
    rows_now = await stored.rows()
    assert len(rows_now) == len(messages)
    assert set(rows_now) == conversation.rows_of(messages)

    # The new rows came in more transactions than there were polls: the groups of a poll were
    # stored in transactions of their own.
    connection = await asyncpg.connect(stored.database_url)
    try:
        transactions = await connection.fetchval(
            "SELECT count(DISTINCT xmin::text) FROM messages"
            " WHERE room = ANY($1::text[]) AND id <> ALL($2::uuid[])",
            stored.rooms,
            [uuid.UUID(message.id) for message in already],
        )
    finally:
        await connection.close()
    assert transactions > await worker.metric("chat_worker_batch_records_count")


async def test_each_room_becomes_visible_in_seq_order_while_groups_are_stored_in_parallel(
    topics: Topics,
    conversation: Conversation,
    stored: MessageTable,
    start_worker: StartWorker,
) -> None:
    messages = conversation.messages(6000)
    await start_worker(batch_max_records="400", **PARALLEL)
    stream = asyncio.create_task(topics.produce_steadily(messages, per_second=2000))
    connection = await asyncpg.connect(stored.database_url)
    holes: list[tuple[str, int, int]] = []
    try:

        async def all_stored() -> bool:
            visible = await connection.fetch(
                "SELECT room, count(*) AS rows, max(seq) AS top FROM messages"
                " WHERE room = ANY($1::text[]) GROUP BY room",
                stored.rooms,
            )
            # A room's rows are 1..top at every moment, never with a later seq before an
            # earlier one (G2: history and catch-up read rooms in seq order).
            holes.extend((r["room"], r["rows"], r["top"]) for r in visible if r["rows"] != r["top"])
            total: int = sum(r["rows"] for r in visible)
            return total >= len(messages)

        await eventually(all_stored, f"{len(messages)} rows stored")
    finally:
        await connection.close()
        await stream
    assert holes == []
    assert set(await stored.rows()) == conversation.rows_of(messages)


async def test_the_worker_runs_on_uvloop_and_says_which_loop_at_start(
    start_worker: StartWorker,
) -> None:
    worker = await start_worker()
    assert "event loop loop=uvloop.Loop" in worker.log_tail()
