"""Message search at deployment size: ``MessageSearch.newest`` (the statements behind
``GET /v1/search``, first page of 20) for a person in 1,000 rooms and a person in 15, over the
seed of ``loadtests/seed_people.py`` (10,000,000 messages; seeded first when the database does
not hold it yet, then migrated to head, which builds the search index).

Per person and query: ``--repeat`` searches one after another with the plan the gateway chooses
(p50/p99), and a few with each plan forced (INDEX: every match from the GIN index, sorted;
MERGE: the rooms read newest first), each bounded by ``--forced-timeout-ms``. The queries: a
common word of the seed's vocabulary, a rare word, a word no message has, two common words, a
prefix (``websearch_to_tsquery`` has no prefix syntax: ``relea:*`` looks for the word
``relea``), the common word's second page, and the common and rare words with ``room=`` (the
person's most active room).

The rare word is planted for the run: the current text (``edited_body``, as an edit leaves it) of
``--rare`` old messages in the person's rooms gets the word, and is put back at the end.

Prints a table; writes it into docs/benchmarks.md (between the ``bench:search`` markers) unless
``--no-report``.

    make bench-search
    make bench-search ARGS='--repeat 50 --no-report'
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import platform
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import asyncpg

import seed_people
from chat_common.errors import ChatError
from chat_gateway.search import MessageSearch, SearchLimits, SearchPlan
from chat_gateway.settings import GatewaySettings

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
BEGIN, END = "<!-- bench:search:begin -->", "<!-- bench:search:end -->"
COMMON, TWO_WORDS, NO_MATCH, PREFIX = "release", "cache monday", "zebra", "relea:*"
RARE = "quetzal"
PAGE = 20
# Who searches (``me`` in the hits' reactions): the seed's reactions are none, so any id.
SEARCHER = "searcher"


@dataclass(frozen=True)
class Person:
    label: str
    user_id: str
    rooms: list[str]


@dataclass(frozen=True)
class Case:
    person: Person
    name: str
    query: str
    rooms: list[str]
    second_page: bool = False


@dataclass
class Result:
    case: Case
    chosen: SearchPlan | None
    hits: int
    auto_ms: list[float]
    forced_ms: dict[SearchPlan, str]


async def choose_people(connection: asyncpg.Connection, search: MessageSearch) -> list[Person]:
    heavy = await connection.fetchval(
        "SELECT user_id FROM room_members GROUP BY user_id HAVING count(*) >= 1000"
        " ORDER BY user_id LIMIT 1"
    )
    few = await connection.fetchval(
        "SELECT user_id FROM room_members GROUP BY user_id HAVING count(*) = 15"
        " ORDER BY user_id LIMIT 1"
    )
    people = []
    for label, user_id in (("1,000 rooms", heavy), ("15 rooms", few)):
        rooms = await search.rooms_of(user_id, 1000)
        people.append(Person(label, user_id, rooms))
    return people


async def plant(
    connection: asyncpg.Connection, people: list[Person], count: int
) -> tuple[list[str], dict[str, str]]:
    """``count`` old messages of each person's rooms get the rare word in their current text;
    also, per person, a room that has one."""
    ids: list[str] = []
    rare_rooms: dict[str, str] = {}
    for person in people:
        rows = await connection.fetch(
            "SELECT id FROM messages WHERE room = ANY($1::text[]) AND kind = 'message'"
            " AND deleted_at IS NULL AND edited_body IS NULL"
            " ORDER BY hashtext(id::text) LIMIT $2",
            person.rooms,
            count,
        )
        ids += [str(row["id"]) for row in rows]
        rare_rooms[person.user_id] = await connection.fetchval(
            "SELECT room FROM messages WHERE id = $1", rows[0]["id"]
        )
    await connection.execute(
        "UPDATE messages SET edited_body = body || ' ' || $2 WHERE id = ANY($1::uuid[])",
        ids,
        RARE,
    )
    return ids, rare_rooms


async def unplant(connection: asyncpg.Connection, ids: list[str]) -> None:
    await connection.execute(
        "UPDATE messages SET edited_body = NULL WHERE id = ANY($1::uuid[])", ids
    )


def cases(people: list[Person], rare_rooms: dict[str, str]) -> list[Case]:
    found = []
    for person in people:
        found += [
            Case(person, "common word", COMMON, person.rooms),
            Case(person, "rare word", RARE, person.rooms),
            Case(person, "no match", NO_MATCH, person.rooms),
            Case(person, "two words", TWO_WORDS, person.rooms),
            Case(person, "prefix (a word)", PREFIX, person.rooms),
            Case(person, "common, page 2", COMMON, person.rooms, second_page=True),
            Case(person, "room=, common", COMMON, person.rooms[:1]),
            Case(person, "room=, rare", RARE, [rare_rooms[person.user_id]]),
        ]
    return found


async def timed(search: MessageSearch, case: Case, plan: SearchPlan | None) -> tuple[float, int]:
    before = None
    if case.second_page:
        first = await search.newest(case.rooms, case.query, None, PAGE, plan, viewer=SEARCHER)
        before = first[-1].cursor if first else None
    started = time.perf_counter()
    hits = await search.newest(case.rooms, case.query, before, PAGE, plan, viewer=SEARCHER)
    return (time.perf_counter() - started) * 1000, len(hits)


async def measure(
    search: MessageSearch, bounded: MessageSearch, case: Case, repeat: int, forced: int
) -> Result:
    auto: list[float] = []
    hits = 0
    for _ in range(repeat):
        elapsed, hits = await timed(search, case, None)
        auto.append(elapsed)
    chosen = await search.chosen_plan(case.rooms, case.query, PAGE)
    forced_ms: dict[SearchPlan, str] = {}
    for plan in SearchPlan:
        runs = []
        for _ in range(forced):
            try:
                runs.append((await timed(bounded, case, plan))[0])
            except ChatError:
                runs = []
                break
        forced_ms[plan] = f"{statistics.median(runs):,.0f}" if runs else "> timeout"
    return Result(case, chosen, hits, auto, forced_ms)


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def table(results: list[Result], repeat: int, forced: int) -> str:
    lines = [
        "| person | query | hits | plan | p50 ms | p99 ms | INDEX ms | MERGE ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for result in results:
        case = result.case
        lines.append(
            f"| {case.person.label} | {case.name} (`{case.query}`) | {result.hits}"
            f" | {result.chosen.value if result.chosen else '?'}"
            f" | {quantile(result.auto_ms, 0.5):.1f} | **{quantile(result.auto_ms, 0.99):.1f}**"
            f" | {result.forced_ms[SearchPlan.INDEX]} | {result.forced_ms[SearchPlan.MERGE]} |"
        )
    lines.append("")
    lines.append(
        f"p50/p99 over {repeat} searches one after another with the chosen plan; INDEX and"
        f" MERGE: the median of {forced} with that plan forced."
    )
    return "\n".join(lines)


def publish(body: str) -> None:
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        raise RuntimeError(f"{DOCS} has no {BEGIN} ... {END}")
    before, rest = text.split(BEGIN, 1)
    DOCS.write_text(f"{before}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}")


async def run(args: argparse.Namespace, database_url: str) -> tuple[list[Result], str]:
    settings = GatewaySettings()
    limits = SearchLimits.of(settings)
    # Forced plans: the merge never gives up for the index, both bounded in time.
    bounded_limits = dataclasses.replace(
        limits, timeout_ms=args.forced_timeout_ms, merge_rows_max=10**12
    )
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=2)
    assert pool is not None
    search, bounded = MessageSearch(pool, limits), MessageSearch(pool, bounded_limits)
    async with pool.acquire() as connection:
        index = await connection.fetchval(
            "SELECT pg_size_pretty(pg_relation_size('messages_search'))"
        )
        people = await choose_people(connection, search)  # type: ignore[arg-type]
        planted, rare_rooms = await plant(connection, people, args.rare)  # type: ignore[arg-type]
    try:
        results = []
        for case in cases(people, rare_rooms):
            await timed(search, case, None)  # warm: the rooms' pages, prepared statements
            result = await measure(search, bounded, case, args.repeat, args.forced)
            print(
                f"{case.person.label:>12} | {case.name:<16} | hits {result.hits:>2}"
                f" | {result.chosen.value if result.chosen else '?':>5}"
                f" | p50 {quantile(result.auto_ms, 0.5):7.1f} ms"
                f" | p99 {quantile(result.auto_ms, 0.99):7.1f} ms"
                f" | index {result.forced_ms[SearchPlan.INDEX]:>9}"
                f" | merge {result.forced_ms[SearchPlan.MERGE]:>9}",
                flush=True,
            )
            results.append(result)
    finally:
        async with pool.acquire() as connection:
            await unplant(connection, planted)  # type: ignore[arg-type]
        await pool.close()
    return results, index


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    seed_people.shape_arguments(parser)
    parser.add_argument("--repeat", type=int, default=100, help="searches per case, chosen plan")
    parser.add_argument("--forced", type=int, default=3, help="searches per case and forced plan")
    parser.add_argument("--forced-timeout-ms", type=int, default=10_000)
    parser.add_argument(
        "--rare", type=int, default=30, help="messages per person with the rare word"
    )
    parser.add_argument("--no-report", dest="report", action="store_false")
    args = parser.parse_args(argv)
    command = shlex.join(["python", "loadtests/bench_search.py", *sys.argv[1:]])
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()
    database_url = seed_people.seeded_database(args)
    seed_people.migrate(database_url)
    results, index = asyncio.run(run(args, database_url))
    load = " and ".join(
        ", ".join(f"{x:.2f}" for x in pair) for pair in (load_start, os.getloadavg())
    )
    body = "\n\n".join(
        [
            f"Run of {started} UTC on {platform.node()} ({os.cpu_count()} cores); load average"
            f" (1, 5, 15 min) {load} at the start and the end; the index `messages_search`"
            f" {index}.",
            f"```\n{command}\n```",
            table(results, args.repeat, args.forced),
        ]
    )
    print("\n" + body)
    if args.report:
        publish(body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
