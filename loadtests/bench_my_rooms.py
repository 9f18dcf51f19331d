"""``GET /v1/me/rooms``'s statement for a person in many rooms: its plan and how long it takes.

Seeds, in the local stack's Postgres (migrations applied), one person who belongs to ``--rooms``
rooms of ``--messages`` messages each, with a read marker in half of them and a mention of the
person in every tenth message, beside ``--others`` other members per room; runs the statement
``--runs`` times and prints the median and the worst, then ``EXPLAIN (ANALYZE, BUFFERS)``.
Removes what it seeded afterwards.

    uv run --all-packages --locked --no-sync python loadtests/bench_my_rooms.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from chat_common.settings import LOCAL_DATABASE_URL
from chat_gateway.my_rooms import LISTED

# The gateway's default bound on the rooms listed (max_own_rooms_listed).
LIMIT = 1000


async def seed(connection: asyncpg.Connection, args: argparse.Namespace, run: str) -> str:
    person = str(uuid.uuid4())
    rooms = [f"{run}-{index}" for index in range(args.rooms)]
    start = datetime(2026, 1, 1, tzinfo=UTC)
    await connection.copy_records_to_table(
        "rooms",
        records=[
            (room, "public", start + timedelta(minutes=index), args.messages)
            for index, room in enumerate(rooms)
        ],
        columns=("id", "kind", "last_active_at", "last_seq"),
    )
    members = [(room, person, "member") for room in rooms]
    members += [(room, f"{run}-other-{n}", "member") for room in rooms for n in range(args.others)]
    await connection.copy_records_to_table(
        "room_members", records=members, columns=("room", "user_id", "role")
    )
    await connection.copy_records_to_table(
        "read_markers",
        records=[(person, room, args.messages // 2) for room in rooms[::2]],
        columns=("user_id", "room", "seq"),
    )
    await connection.copy_records_to_table(
        "messages",
        records=[
            (
                uuid.uuid4(),
                room,
                seq,
                "someone",
                "someone",
                f"message {seq}",
                f"c-{seq}",
                start,
                [person] if seq % 10 == 0 else None,
            )
            for room in rooms
            for seq in range(1, args.messages + 1)
        ],
        columns=(
            "id",
            "room",
            "seq",
            "user_id",
            "user_name",
            "body",
            "client_msg_id",
            "created_at",
            "mentions",
        ),
    )
    for table in ("rooms", "room_members", "read_markers", "messages"):
        await connection.execute(f"ANALYZE {table}")
    return person


async def main(args: argparse.Namespace) -> None:
    connection = await asyncpg.connect(args.database)
    run = f"bench-mine-{uuid.uuid4().hex[:8]}"
    try:
        started = time.perf_counter()
        person = await seed(connection, args, run)
        print(f"seeded {args.rooms} rooms x {args.messages} messages in", end=" ")
        print(f"{time.perf_counter() - started:.1f} s")
        statement = await connection.prepare(LISTED)
        timings = []
        for _ in range(args.runs):
            began = time.perf_counter()
            rows = await statement.fetch(person, LIMIT)
            timings.append((time.perf_counter() - began) * 1000)
        assert len(rows) == args.rooms
        print(
            f"{len(rows)} rooms listed: median {statistics.median(timings):.1f} ms,"
            f" worst {max(timings):.1f} ms over {args.runs} runs"
        )
        plan = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {LISTED}", person, LIMIT)
        print("\n".join(row[0] for row in plan))
    finally:
        await connection.execute("DELETE FROM messages WHERE room LIKE $1", f"{run}-%")
        await connection.execute("DELETE FROM rooms WHERE id LIKE $1", f"{run}-%")
        await connection.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rooms", type=int, default=1000)
    parser.add_argument("--messages", type=int, default=200, help="messages per room")
    parser.add_argument("--others", type=int, default=20, help="other members per room")
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--database", default=os.environ.get("CHAT_DATABASE", LOCAL_DATABASE_URL))
    asyncio.run(main(parser.parse_args()))
