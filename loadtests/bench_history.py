"""What history's page of current state costs in Postgres: the statement ``store.MessageStore``
runs for a page (``HISTORY_PAGE``), against the page of messages alone as it was before edits,
deletes and reactions existed, on a room of ``--messages`` plain messages and on one where every
message carries reactions and is a reply.

The rooms are written in a transaction that is rolled back at the end: the database is left as it
was. Each statement runs ``--pages`` times (after one unmeasured run); the figures are the
median and 95th percentile in milliseconds, printed.

    uv run --all-packages python loadtests/bench_history.py --messages 20000 --pages 300
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

import asyncpg

from chat_gateway.store import HISTORY_PAGE
from chat_testing import stack

# The page as the gateway read it before messages had a state (for comparison).
_MESSAGES_ALONE = (
    "SELECT id, room, seq, user_id, user_name, body, client_msg_id, created_at, mentions"
    " FROM messages WHERE room = $1 AND ($2::bigint IS NULL OR seq < $2)"
    " ORDER BY seq DESC LIMIT $3"
)


def _reply_to(answered: uuid.UUID) -> str:
    return json.dumps({"id": str(answered), "user": {"id": "b", "name": "B"}, "excerpt": "x"})


async def _fill(connection: asyncpg.Connection, room: str, count: int, *, busy: bool) -> None:
    ids = [uuid.uuid4() for _ in range(count)]
    await connection.executemany(
        "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
        " created_at, reply_to, updated_seq) VALUES ($1, $2, $3, 'bench', 'Bench', $4, $5,"
        " now(), $6::jsonb, $7)",
        [
            (
                ids[n],
                room,
                n + 1,
                f"message {n}",
                f"c{n}",
                json.dumps(
                    {"id": str(ids[n - 1]), "user": {"id": "b", "name": "B"}, "excerpt": "x"}
                )
                if busy and n
                else None,
                n + 1 if busy else None,
            )
            for n in range(count)
        ],
    )
    if busy:
        await connection.executemany(
            "INSERT INTO message_reactions VALUES ($1, $2, $3, true, $4)",
            [
                (ids[n], emoji, f"user-{k}", n + 1)
                for n in range(count)
                for k, emoji in enumerate(["👍", "🎉", "❤️"])
            ],
        )
    await connection.execute("ANALYZE messages")


async def _time(
    connection: asyncpg.Connection, statement: str, room: str, pages: int
) -> tuple[float, float]:
    await connection.fetch(statement, room, None, 51)
    took = []
    for _ in range(pages):
        started = time.perf_counter()
        await connection.fetch(statement, room, None, 51)
        took.append((time.perf_counter() - started) * 1000)
    took.sort()
    return statistics.median(took), took[int(len(took) * 0.95) - 1]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--pages", type=int, default=300)
    args = parser.parse_args()
    connection = await asyncpg.connect(stack.database_url())
    transaction = connection.transaction()
    await transaction.start()
    try:
        plain, busy = f"bench-plain-{uuid.uuid4().hex[:8]}", f"bench-busy-{uuid.uuid4().hex[:8]}"
        await _fill(connection, plain, args.messages, busy=False)
        await _fill(connection, busy, args.messages, busy=True)
        print(f"a page of 50 of {args.messages} messages, {args.pages} pages, ms (median, p95)")
        for label, statement, room in (
            ("plain room, messages alone (before)", _MESSAGES_ALONE, plain),
            ("plain room, current state", HISTORY_PAGE, plain),
            ("replies with 3 reactions each, current state", HISTORY_PAGE, busy),
        ):
            median, p95 = await _time(connection, statement, room, args.pages)
            print(f"  {label:48} {median:6.3f} {p95:6.3f}")
    finally:
        await transaction.rollback()
        await connection.close()


if __name__ == "__main__":
    asyncio.run(main())
