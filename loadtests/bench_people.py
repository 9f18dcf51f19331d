"""The person's room list at deployment size: ``GET /v1/me/rooms`` for people in 1,000 rooms and
for people in a few dozen, over the seed of ``loadtests/seed_people.py`` (100,000 people,
10,000,000 messages; seeded first when the database does not hold it yet).

Two modes, both on by default:

- **HTTP**: starts a Redis, an auth service and a gateway of its own on free ports against the
  seeded database (Kafka is the local stack's, on a topic of the run's own), logs the chosen
  people in with the seed's password, then times ``--requests`` requests per group of people,
  one at a time and ``--concurrency`` at a time, over one keep-alive connection each.
  ``--endpoint /v1/rooms`` measures the existing room list instead (own rooms and the first
  directory page) where a gateway has no ``/v1/me/rooms`` yet.
- **SQL** (``--sql``; ``--no-http`` for it alone): the statement the endpoint runs
  (``chat_gateway.my_rooms.LISTED``), straight through asyncpg, timed the same way, with EXPLAIN
  (ANALYZE, BUFFERS) for a person in 1,000 rooms.

Each request is timed from just before it is sent to its last byte read. One request per person
is made before timing starts (connections, prepared statements, the pages of their rooms in
Postgres's cache): the figures are those of a warm system. Prints the figures; writes them
into docs/benchmarks.md (between the ``bench:people`` markers), the CSV to
docs/benchmarks/people.csv and the plans to docs/benchmarks/people-explain.txt unless
``--no-report``.

    make bench-people
    make bench-people ARGS='--endpoint /v1/rooms --sql --requests 300'
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import shlex
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka.admin import AIOKafkaAdminClient

import seed_people
from chat_common.kafka_client import ensure_topics
from chat_common.settings import LOCAL_KAFKA_BOOTSTRAP
from chat_gateway.my_rooms import LISTED
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess, python_module, redis_server
from gateway_harness import auth_service

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs" / "benchmarks.md"
CSV = REPO / "docs" / "benchmarks" / "people.csv"
EXPLAIN = REPO / "docs" / "benchmarks" / "people-explain.txt"
BEGIN, END = "<!-- bench:people:begin -->", "<!-- bench:people:end -->"
# The gateway's own bound on the list (settings.max_own_rooms_listed).
LIST_LIMIT = 1000
# People with at least this many rooms are the heavy group; the few group have between
# FEW_ROOMS[0] and FEW_ROOMS[1].
HEAVY_ROOMS = 1000
FEW_ROOMS = (10, 60)
# Logins are Argon2id checks; the auth service's per-address failure budget is lifted, as the
# other benchmarks lift it, since every login comes from 127.0.0.1.
LIFTED_AUTH_LIMITS = {"CHAT_AUTH_LOGIN_FAILURES_PER_IP": "1000000"}


@dataclass(frozen=True)
class Person:
    user_id: str
    username: str
    rooms: int


@dataclass
class Timing:
    """One measured series: which way, which people, how many at once."""

    mode: str
    group: str
    concurrency: int
    seconds: list[float] = field(default_factory=list)
    returned: list[int] = field(default_factory=list)

    def quantile(self, q: float) -> float:
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000

    def row(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "people": self.group,
            "concurrency": self.concurrency,
            "requests": len(self.seconds),
            "p50_ms": round(self.quantile(0.50), 2),
            "p95_ms": round(self.quantile(0.95), 2),
            "p99_ms": round(self.quantile(0.99), 2),
            "max_ms": round(max(self.seconds) * 1000, 2),
            "rooms_mean": round(statistics.fmean(self.returned), 1),
            "rooms_max": max(self.returned),
        }


async def choose_people(database_url: str, count: int) -> dict[str, list[Person]]:
    """``count`` people in 1,000 rooms or more, and ``count`` in a few dozen, always the same."""
    connection = await asyncpg.connect(database_url)
    try:
        rows = await connection.fetch(
            """
            WITH per_person AS (SELECT user_id, count(*) AS n FROM room_members GROUP BY user_id)
            (SELECT 'heavy' AS grp, p.user_id, u.username, p.n FROM per_person p
             JOIN users u ON u.id = p.user_id::uuid
             WHERE p.n >= $2 ORDER BY md5(p.user_id) LIMIT $1)
            UNION ALL
            (SELECT 'few', p.user_id, u.username, p.n FROM per_person p
             JOIN users u ON u.id = p.user_id::uuid
             WHERE p.n BETWEEN $3 AND $4 ORDER BY md5(p.user_id) LIMIT $1)
            """,
            count,
            HEAVY_ROOMS,
            *FEW_ROOMS,
        )
    finally:
        await connection.close()
    people: dict[str, list[Person]] = {"heavy": [], "few": []}
    for row in rows:
        people[row["grp"]].append(Person(row["user_id"], row["username"], row["n"]))
    if not people["heavy"] or not people["few"]:
        raise RuntimeError("the seed has no people in 1,000 rooms or none in a few dozen")
    return people


async def measure(
    mode: str,
    group: str,
    people: Sequence[Any],
    requests: int,
    concurrency: int,
    ask: Callable[[Any], Awaitable[int]],
) -> Timing:
    """``requests`` requests over ``people`` in turn, ``concurrency`` at a time; ``ask`` makes
    one and returns how many rooms came back."""
    timing = Timing(mode, group, concurrency)
    for person in people:  # warm: one request per person, not timed
        await ask(person)
    turn = iter(range(requests))

    async def client() -> None:
        for n in turn:
            person = people[n % len(people)]
            started = time.perf_counter()
            rooms = await ask(person)
            timing.seconds.append(time.perf_counter() - started)
            timing.returned.append(rooms)

    await asyncio.gather(*(client() for _ in range(concurrency)))
    return timing


# --- HTTP -------------------------------------------------------------------------------------


@dataclass
class Services:
    """A Redis, an auth service and a gateway of the run's own, against the seeded database."""

    database_url: str
    kafka: str
    log_dir: Path
    run: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: list[ServiceProcess] = field(default_factory=list)
    auth_url: str = ""
    gateway_url: str = ""

    @property
    def topic(self) -> str:
        return f"bench.people.{self.run}"

    async def start(self) -> None:
        await ensure_topics(self.kafka, {self.topic: 1})
        redis_port, auth_port, http_port = free_port(), free_port(), free_port()
        redis_url = f"redis://127.0.0.1:{redis_port}/0"
        self.auth_url = f"http://127.0.0.1:{auth_port}"
        self.gateway_url = f"http://127.0.0.1:{http_port}"
        gateway_env = {
            "CHAT_GATEWAY_PORT": str(http_port),
            "CHAT_GATEWAY_WS_PORT": str(free_port()),
            "CHAT_GATEWAY_NODE_ID": f"bench-people-{self.run}",
            "CHAT_GATEWAY_REDIS_URL": redis_url,
            "CHAT_GATEWAY_KAFKA_BOOTSTRAP": self.kafka,
            "CHAT_GATEWAY_KAFKA_TOPIC": self.topic,
            "CHAT_GATEWAY_PERSISTENCE_GROUP": f"bench-people-{self.run}",
            "CHAT_GATEWAY_DATABASE_URL": self.database_url,
            "CHAT_GATEWAY_JWKS_URL": f"{self.auth_url}/.well-known/jwks.json",
            "CHAT_GATEWAY_LOG_LEVEL": "warning",
        }
        for process in (
            redis_server(redis_port, self.log_dir),
            auth_service(
                self.log_dir, auth_port, self.database_url, redis_url, **LIFTED_AUTH_LIMITS
            ),
            ServiceProcess(
                "gateway",
                python_module("chat_gateway"),
                gateway_env,
                self.log_dir,
                ready_url=f"{self.gateway_url}/readyz",
            ),
        ):
            self.processes.append(process)
            await process.start()

    async def stop(self) -> None:
        for process in reversed(self.processes):
            await process.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka, client_id="bench-people")
        await admin.start()
        try:
            await admin.delete_topics([self.topic])
        finally:
            await admin.close()

    async def tokens(self, people: Sequence[Person]) -> list[str]:
        """An access token per person, by logging in with the seed's password."""
        async with httpx.AsyncClient(base_url=self.auth_url, timeout=60) as auth:

            async def login(person: Person) -> str:
                answer = await auth.post(
                    "/v1/token",
                    json={"username": person.username, "password": seed_people.SEEDED_PASSWORD},
                )
                answer.raise_for_status()
                return str(answer.json()["access_token"])

            return list(await asyncio.gather(*(login(person) for person in people)))


async def http_timings(
    services: Services,
    people: dict[str, list[Person]],
    endpoint: str,
    requests: int,
    concurrencies: Sequence[int],
) -> list[Timing]:
    timings = []
    for group, members in people.items():
        tokens = await services.tokens(members)
        for concurrency in concurrencies:
            async with httpx.AsyncClient(
                base_url=services.gateway_url,
                timeout=30,
                limits=httpx.Limits(max_connections=concurrency),
            ) as http:

                async def ask(token: str) -> int:
                    answer = await http.get(endpoint, headers={"Authorization": f"Bearer {token}"})
                    if answer.status_code == 404 and "/me/" in endpoint:
                        raise SystemExit(
                            f"this gateway has no GET {endpoint} yet: measure the existing list"
                            " with --endpoint /v1/rooms, or the statement alone with --sql"
                            " --no-http"
                        )
                    answer.raise_for_status()
                    rooms = answer.json()["rooms"]
                    # /v1/rooms follows the person's rooms with a directory page: count theirs.
                    return sum(1 for room in rooms if room.get("member", True))

                timing = await measure(
                    f"HTTP GET {endpoint}", group, tokens, requests, concurrency, ask
                )
            print(_line(timing), flush=True)
            timings.append(timing)
    return timings


# --- SQL --------------------------------------------------------------------------------------


async def sql_timings(
    pool: asyncpg.Pool,
    people: dict[str, list[Person]],
    mode: str,
    requests: int,
    concurrencies: Sequence[int],
) -> list[Timing]:
    async def ask(person: Person) -> int:
        return len(await pool.fetch(LISTED, person.user_id, LIST_LIMIT))

    timings = []
    for group, members in people.items():
        for concurrency in concurrencies:
            timing = await measure(mode, group, members, requests, concurrency, ask)
            print(_line(timing), flush=True)
            timings.append(timing)
    return timings


async def explain(pool: asyncpg.Pool, person: Person) -> str:
    rows = await pool.fetch("EXPLAIN (ANALYZE, BUFFERS) " + LISTED, person.user_id, LIST_LIMIT)
    return "\n".join(row[0] for row in rows)


async def sql_mode(
    database_url: str, people: dict[str, list[Person]], requests: int, concurrencies: Sequence[int]
) -> tuple[list[Timing], dict[str, str]]:
    """The endpoint's statement alone, and its plan for a person in 1,000 rooms."""
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=max(concurrencies))
    try:
        timings = await sql_timings(pool, people, "SQL", requests, concurrencies)
        plans = {"the endpoint's statement": await explain(pool, people["heavy"][0])}
    finally:
        await pool.close()
    return timings, plans


# --- the report -------------------------------------------------------------------------------


def _line(timing: Timing) -> str:
    row = timing.row()
    return (
        f"{row['mode']}: {row['people']} x{row['concurrency']}: {row['requests']} requests,"
        f" p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms, p99 {row['p99_ms']} ms,"
        f" max {row['max_ms']} ms; rooms {row['rooms_mean']} on average, {row['rooms_max']} max"
    )


def _table(timings: list[Timing], people: dict[str, list[Person]]) -> str:
    label = {
        "heavy": f"{len(people['heavy'])} people in ≥ {HEAVY_ROOMS:,} rooms",
        "few": f"{len(people['few'])} people in {FEW_ROOMS[0]} to {FEW_ROOMS[1]} rooms",
    }
    lines = [
        "| how | people | at once | requests | p50 ms | p95 ms | p99 ms | max ms | rooms |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for timing in timings:
        row = timing.row()
        lines.append(
            f"| {row['mode']} | {label[timing.group]} | {row['concurrency']} | {row['requests']:,}"
            f" | {row['p50_ms']:.1f} | {row['p95_ms']:.1f} | **{row['p99_ms']:.1f}**"
            f" | {row['max_ms']:.1f} | {row['rooms_mean']:,.0f} (max {row['rooms_max']:,}) |"
        )
    return "\n".join(lines)


def _plan_summary(plan: str) -> str:
    """The plan's last lines: planning and execution time."""
    return "; ".join(
        line.strip()
        for line in plan.splitlines()
        if line.startswith(("Planning Time", "Execution Time"))
    )


def report(
    *,
    command: str,
    started: str,
    loads: tuple[tuple[float, ...], tuple[float, ...]],
    recorded: dict[str, Any],
    timings: list[Timing],
    people: dict[str, list[Person]],
    plans: dict[str, str],
) -> str:
    held = recorded["figures"]
    rows = held["rows"]
    stages = dict(recorded["stages"])
    machine = f"{os.cpu_count()} cores, Python {platform.python_version()}"
    load = " and ".join(", ".join(f"{x:.2f}" for x in pair) for pair in loads)
    parts = [
        f"Run of {started} UTC on {platform.node()} ({machine}); load average (1, 5, 15 min)"
        f" {load} at the start and the end. The seed: {rows['users']:,} people,"
        f" {rows['rooms']:,} rooms, {rows['room_members']:,} memberships,"
        f" {rows['read_markers']:,} read markers, {rows['messages']:,} messages"
        f" ({held['messages_with_mentions']:,} with mentions);"
        f" {held['database_bytes'] / 2**30:.1f} GiB, seeded in {stages['total'] / 60:.1f} minutes.",
        f"```\n{command}\n```",
        _table(timings, people),
    ]
    for name, plan in plans.items():
        parts.append(
            f"EXPLAIN (ANALYZE, BUFFERS), a person in 1,000 rooms, {name}: {_plan_summary(plan)}."
        )
    if plans:
        parts.append(
            "The whole plans: [benchmarks/people-explain.txt](benchmarks/people-explain.txt);"
            " the figures: [benchmarks/people.csv](benchmarks/people.csv)."
        )
    else:
        parts.append("The figures: [benchmarks/people.csv](benchmarks/people.csv).")
    return "\n\n".join(parts)


def publish(body: str) -> None:
    """Puts ``body`` between the markers of docs/benchmarks.md."""
    text = DOCS.read_text()
    if BEGIN not in text or END not in text:
        raise RuntimeError(f"{DOCS} has no {BEGIN} ... {END}")
    before, rest = text.split(BEGIN, 1)
    DOCS.write_text(f"{before}{BEGIN}\n{body}\n{END}{rest.split(END, 1)[1]}")


def write_csv(timings: list[Timing]) -> None:
    rows = [timing.row() for timing in timings]
    with CSV.open("w", newline="") as out:
        writer = csv.DictWriter(out, list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


# --- main -------------------------------------------------------------------------------------


async def run(args: argparse.Namespace, database_url: str) -> tuple[list[Timing], dict[str, Any]]:
    people = await choose_people(database_url, args.people)
    for group, members in people.items():
        print(
            f"{group}: {len(members)} people, {min(p.rooms for p in members)} to "
            f"{max(p.rooms for p in members)} rooms each"
        )
    concurrencies = [1, args.concurrency] if args.concurrency > 1 else [1]
    timings: list[Timing] = []
    plans: dict[str, str] = {}
    if args.http:
        log_dir = REPO / ".run" / "bench-people"
        log_dir.mkdir(parents=True, exist_ok=True)
        services = Services(database_url, args.kafka, log_dir)
        try:
            await services.start()
            timings += await http_timings(
                services, people, args.endpoint, args.requests, concurrencies
            )
        finally:
            await services.stop()
    if args.sql:
        found, plans = await sql_mode(database_url, people, args.requests, concurrencies)
        timings += found
        for name, plan in plans.items():
            print(
                f"\nEXPLAIN (ANALYZE, BUFFERS), {people['heavy'][0].rooms} rooms, {name}:\n{plan}"
            )
    return timings, {"people": people, "plans": plans}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    seed_people.shape_arguments(parser)
    parser.add_argument("--endpoint", default="/v1/me/rooms", help="or /v1/rooms")
    parser.add_argument("--no-http", dest="http", action="store_false", help="SQL mode alone")
    parser.add_argument("--sql", action="store_true", help="time the statement with asyncpg too")
    parser.add_argument("--people", type=int, default=20, help="people per group")
    parser.add_argument("--requests", type=int, default=500, help="per group and concurrency")
    parser.add_argument("--concurrency", type=int, default=8, help="requests at once (and 1)")
    parser.add_argument("--kafka", default=os.environ.get("CHAT_KAFKA", LOCAL_KAFKA_BOOTSTRAP))
    parser.add_argument("--no-report", dest="report", action="store_false")
    args = parser.parse_args(argv)
    if not args.http and not args.sql:
        parser.error("--no-http measures nothing without --sql")
    command = shlex.join(["python", "loadtests/bench_people.py", *sys.argv[1:]])
    started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    load_start = os.getloadavg()
    database_url = seed_people.seeded_database(args)
    timings, found = asyncio.run(run(args, database_url))
    state = asyncio.run(seed_people.seed_state(database_url))
    assert state is not None
    recorded = {"figures": json.loads(state["figures"]), "stages": json.loads(state["stages"])}
    seed_people.print_figures(recorded)
    if args.report:
        body = report(
            command=command,
            started=started,
            loads=(load_start, os.getloadavg()),
            recorded=recorded,
            timings=timings,
            people=found["people"],
            plans=found["plans"],
        )
        publish(body)
        write_csv(timings)
        written = [DOCS, CSV]
        if found["plans"]:
            EXPLAIN.write_text(
                "\n\n".join(f"-- {name}\n{plan}" for name, plan in found["plans"].items()) + "\n"
            )
            written.append(EXPLAIN)
        print("written: " + ", ".join(str(path.relative_to(REPO)) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
