"""Persistence-worker benchmark: sustained rows per second, and produce → row-visible lag.

Runs against the local stack (Kafka on 9092, Postgres on 5432 with the migrations applied) and
starts one worker of its own, with its default settings (CHAT_WORKER_* variables override them;
the report names the batch settings it ran with), on a topic of its own with as many partitions
as chat.messages. Two phases:

1. drain: a backlog of ``--messages`` envelopes is produced first, then the worker is started;
   the rate is rows stored per second from the first row seen to the last.
2. lag: with the worker caught up, envelopes are produced at ``--rate`` per second for
   ``--seconds``; each message's lag runs from just before its send to the first poll of
   Postgres that sees its row. Rooms are written in seq order (one room, one partition, one
   transaction per batch, batch after batch), so ``max(seq)`` of a room tells which of its
   messages are visible.

Besides the rates it prints the worker's own CPU time per 1,000 rows of the drain (user + system,
from /proc): a figure the machine's other load moves much less than the rate. ``--profile FILE``
samples the worker with py-spy (the ``bench`` dependency group) during the drain and writes
collapsed stacks to FILE; ``--top`` prints the functions that took the most samples.

Prints the figures and writes them, with the command, to docs/benchmarks/persistence-worker.md.
Removes its rows and topics afterwards.

    make bench-worker ARGS='--messages 200000 --rate 2000 --seconds 15'
    make bench-worker ARGS='--no-report --profile /tmp/worker.txt'
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import logging
import os
import platform
import re
import shlex
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from chat_common.envelope import Author, Envelope, encode_envelope, format_ts
from chat_common.kafka_client import create_producer, ensure_topics
from chat_common.settings import LOCAL_DATABASE_URL, LOCAL_KAFKA_BOOTSTRAP, load_settings
from chat_worker.settings import PREFIX, WorkerSettings

REPO = Path(__file__).resolve().parents[1]
REPORT = REPO / "docs" / "benchmarks" / "persistence-worker.md"
# As chat.messages (deploy/local/kafka.sh).
PARTITIONS = 12
# Postgres is polled this often for visible rows: the lag figures are this coarse.
POLL_S = 0.005
# The drain is polled less often: its rate is counted over seconds, and each poll (a max(seq)
# lookup per room) costs about a millisecond of CPU that, on a 2-core machine, the measured
# worker and Postgres would otherwise have (a fifth of a core at POLL_S).
DRAIN_POLL_S = 0.05
# Bound on every wait: a stuck worker ends the run with an error instead of hanging.
WAIT_S = 300.0

_VISIBLE = """
SELECT r.room, coalesce((SELECT max(seq) FROM messages m WHERE m.room = r.room), 0)
FROM unnest($1::text[]) AS r(room)
"""


@dataclass(frozen=True)
class Figures:
    rows_per_s: float
    drain_s: float
    lags_s: list[float]
    batches: int
    mean_batch: float
    load_at_start: float
    # The worker's CPU time (user + system) per 1,000 rows, from the first row of the drain
    # to the last.
    cpu_ms_per_1000: float

    def lag_ms(self, quantile: float) -> float:
        ordered = sorted(self.lags_s)
        return ordered[min(len(ordered) - 1, int(quantile * len(ordered)))] * 1000


class Rooms:
    """Envelopes round-robin over rooms of this run's own; remembers when each was sent."""

    def __init__(self, count: int) -> None:
        prefix = f"bench-{uuid.uuid4().hex[:10]}"
        self.names = [f"{prefix}-{index}" for index in range(count)]
        self._seqs = dict.fromkeys(self.names, 0)
        self._turn = 0
        self.sent_at: dict[tuple[str, int], float] = {}

    def next(self) -> Envelope:
        room = self.names[self._turn % len(self.names)]
        self._turn += 1
        self._seqs[room] += 1
        seq = self._seqs[room]
        return Envelope(
            id=str(uuid.uuid4()),
            room=room,
            seq=seq,
            user=Author(id=f"u{seq % 50}", name=f"user {seq % 50}"),
            body=f"benchmark message {seq} " + "x" * 80,
            ts=format_ts(datetime.now(UTC)),
            client_msg_id=f"c-{seq}",
        )

    @property
    def total(self) -> int:
        return sum(self._seqs.values())


async def _visible(connection: asyncpg.Connection, rooms: Sequence[str]) -> dict[str, int]:
    return {row["room"]: row[1] for row in await connection.fetch(_VISIBLE, list(rooms))}


async def _send(
    producer: AIOKafkaProducer, topic: str, rooms: Rooms, count: int
) -> list[asyncio.Future[Any]]:
    deliveries = []
    for _ in range(count):
        envelope = rooms.next()
        rooms.sent_at[(envelope.room, envelope.seq)] = time.perf_counter()
        deliveries.append(
            await producer.send(topic, encode_envelope(envelope), key=envelope.room.encode())
        )
    return deliveries


async def drain(
    producer: AIOKafkaProducer,
    connection: asyncpg.Connection,
    topic: str,
    rooms: Rooms,
    messages: int,
    start_worker: asyncio.Future[None],
    on_first_row: Callable[[], None],
) -> tuple[float, float]:
    """Produce a backlog, start the worker, time it from the first row seen to the last."""
    for start in range(0, messages, 10_000):
        await asyncio.gather(*await _send(producer, topic, rooms, min(10_000, messages - start)))
    start_worker.set_result(None)
    deadline = time.perf_counter() + WAIT_S
    first: tuple[float, int] | None = None
    while True:
        stored = sum((await _visible(connection, rooms.names)).values())
        now = time.perf_counter()
        if first is None and stored > 0:
            first = (now, stored)
            on_first_row()
        if stored >= messages and first is not None:
            elapsed = now - first[0]
            return (messages - first[1]) / elapsed if elapsed > 0 else float("inf"), elapsed
        if now > deadline:
            raise RuntimeError(f"only {stored} of {messages} rows after {WAIT_S:.0f}s")
        await asyncio.sleep(DRAIN_POLL_S)


async def lag(
    producer: AIOKafkaProducer,
    connection: asyncpg.Connection,
    topic: str,
    rooms: Rooms,
    rate: int,
    seconds: float,
) -> list[float]:
    """Produce at ``rate`` per second; return each message's produce → visible lag in s."""
    already = await _visible(connection, rooms.names)
    rooms.sent_at.clear()
    first_new = {room: already.get(room, 0) + 1 for room in rooms.names}
    lags: list[float] = []
    seen = dict(already)

    async def produce() -> None:
        tick = 0.01
        started = time.perf_counter()
        sent = 0
        pending = []
        while (elapsed := time.perf_counter() - started) < seconds:
            due = int(elapsed * rate) - sent
            if due > 0:
                pending += await _send(producer, topic, rooms, due)
                sent += due
            await asyncio.sleep(tick)
        await asyncio.gather(*pending)

    producing = asyncio.create_task(produce())
    deadline = time.perf_counter() + seconds + WAIT_S
    while True:
        visible = await _visible(connection, rooms.names)
        now = time.perf_counter()
        for room, top in visible.items():
            for seq in range(max(seen.get(room, 0) + 1, first_new[room]), top + 1):
                lags.append(now - rooms.sent_at[(room, seq)])
            seen[room] = max(seen.get(room, 0), top)
        if producing.done() and len(lags) == len(rooms.sent_at):
            await producing
            return lags
        if now > deadline:
            raise RuntimeError(f"only {len(lags)} of {len(rooms.sent_at)} rows visible")
        await asyncio.sleep(POLL_S)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(
            [sys.executable, "-m", "chat_worker"], env=env, stdout=output, stderr=output
        )


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (fields 14 and 15 of /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    # --nonblocking: the worker is never paused for a sample, so it runs at its own speed.
    command = [
        str(Path(sys.executable).with_name("py-spy")),
        "record", "--pid", str(pid), "--rate", "200", "--nonblocking",
        "--format", "raw", "--output", str(output),
    ]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


def _stop_profiler(profiler: subprocess.Popen[bytes]) -> None:
    profiler.send_signal(signal.SIGINT)  # py-spy writes its file on Ctrl-C
    profiler.wait(timeout=60)


_LINE = re.compile(r":\d+\)$")


def top_costs(collapsed: Path, count: int) -> str:
    """The functions with the most samples in py-spy's collapsed stacks: self, then inclusive."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        frames = [_LINE.sub(")", frame) for frame in stack.split(";")]
        total += int(samples)
        own[frames[-1]] += int(samples)
        for frame in set(frames):
            inclusive[frame] += int(samples)
    lines = [f"{total} samples"]
    for title, counter in (("self", own), ("inclusive", inclusive)):
        lines.append(f"top {count} by {title} samples:")
        lines += [
            f"  {100 * samples / total:5.1f}%  {frame}"
            for frame, samples in counter.most_common(count)
        ]
    return "\n".join(lines)


async def _metrics(port: int) -> dict[str, float]:
    async with httpx.AsyncClient() as client:
        text = (await client.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def _machine() -> str:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown CPU",
    )
    memory_kib = int(Path("/proc/meminfo").read_text().split()[1])
    memory_gib = memory_kib / 1024 / 1024
    return f"{os.cpu_count()} cores ({cpu}), {memory_gib:.0f} GiB RAM, {platform.system()}"


async def run(args: argparse.Namespace) -> Figures:
    load_at_start = os.getloadavg()[0]
    topic = f"bench.worker.{uuid.uuid4().hex[:10]}"
    dlq = f"{topic}.dlq"
    await ensure_topics(args.kafka, {topic: PARTITIONS, dlq: 1})
    rooms = Rooms(args.rooms)
    port = _free_port()
    env = {
        **os.environ,
        "CHAT_WORKER_KAFKA_BOOTSTRAP": args.kafka,
        "CHAT_WORKER_TOPIC": topic,
        "CHAT_WORKER_DLQ_TOPIC": dlq,
        "CHAT_WORKER_GROUP_ID": f"bench-{uuid.uuid4().hex[:10]}",
        "CHAT_WORKER_DATABASE_URL": args.database,
        "CHAT_WORKER_METRICS_PORT": str(port),
        "CHAT_WORKER_LOG_LEVEL": "warning",
    }
    log = REPO / ".run" / "logs" / "bench-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    producer = create_producer(args.kafka, client_id="bench-producer")
    connection = await asyncpg.connect(args.database)
    worker: subprocess.Popen[bytes] | None = None
    profiler: subprocess.Popen[bytes] | None = None
    cpu_at_first_row = 0.0

    def first_row() -> None:
        nonlocal cpu_at_first_row
        assert worker is not None
        cpu_at_first_row = _cpu_s(worker.pid)

    # The rooms exist, as every room a gateway lets anyone post in does, so the worker's
    # per-batch updates of each room's row (activity, newest seq) and of its authors' read
    # markers are part of what is measured.
    await connection.execute(
        "INSERT INTO rooms (id, kind) SELECT unnest($1::text[]), 'public'", rooms.names
    )
    await producer.start()
    try:
        go = asyncio.get_running_loop().create_future()
        draining = asyncio.create_task(
            drain(producer, connection, topic, rooms, args.messages, go, first_row)
        )
        await go
        worker = _start_worker(env, log)
        if args.profile:
            profiler = _start_profiler(worker.pid, args.profile)
        rows_per_s, drain_s = await draining
        drain_cpu_s = _cpu_s(worker.pid) - cpu_at_first_row
        if profiler is not None:
            _stop_profiler(profiler)
        lags = await lag(producer, connection, topic, rooms, args.rate, args.seconds)
        metrics = await _metrics(port)
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        await connection.execute("DELETE FROM messages WHERE room = ANY($1::text[])", rooms.names)
        # Their read markers go with them (ON DELETE CASCADE).
        await connection.execute("DELETE FROM rooms WHERE id = ANY($1::text[])", rooms.names)
        await connection.close()
        await producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=args.kafka, client_id="bench-cleanup")
        await admin.start()
        try:
            await admin.delete_topics([topic, dlq])
        finally:
            await admin.close()
    batches = metrics["chat_worker_batch_records_count"]
    return Figures(
        rows_per_s=rows_per_s,
        drain_s=drain_s,
        lags_s=lags,
        batches=int(batches),
        mean_batch=metrics["chat_worker_batch_records_sum"] / batches,
        load_at_start=load_at_start,
        cpu_ms_per_1000=drain_cpu_s * 1000 / (rows_per_s * drain_s / 1000),
    )


def _report(args: argparse.Namespace, figures: Figures, command: str) -> str:
    # The worker's settings as it read them: its defaults, unless CHAT_WORKER_* says otherwise.
    worker = load_settings(WorkerSettings, PREFIX)
    rows = [
        (
            f"sustained rows per second (drain of a {args.messages:,}-message backlog)",
            f"**{figures.rows_per_s:,.0f}** rows/s over {figures.drain_s:.1f} s",
        ),
        ("worker CPU time per 1,000 rows of the drain", f"{figures.cpu_ms_per_1000:.0f} ms"),
        (
            f"produce → row visible, p50 (at {args.rate:,} messages/s for {args.seconds:.0f} s)",
            f"**{figures.lag_ms(0.50):.0f} ms**",
        ),
        ("produce → row visible, p99", f"**{figures.lag_ms(0.99):.0f} ms**"),
        ("produce → row visible, max", f"{max(figures.lags_s) * 1000:.0f} ms"),
        ("lag samples", f"{len(figures.lags_s):,}"),
        (
            "batches stored over both phases, mean records per batch",
            f"{figures.batches:,}, {figures.mean_batch:.0f}",
        ),
    ]
    table = "\n".join(f"| {name} | {value} |" for name, value in rows)
    setup = textwrap.fill(
        f"Measured {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} on {_machine()}, with"
        " Kafka 3.9 (one KRaft broker), PostgreSQL 15 and the worker on the same machine, as the"
        " local stack runs them (`make infra`; its Postgres runs with `synchronous_commit ="
        f" off`). One worker on uvloop (batches of up to {worker.batch_max_records:,} records,"
        " one offset commit each; a batch's partitions stored in up to"
        f" {worker.write_connections} parallel transactions of at least"
        f" {worker.write_group_min_records:,} records) on a topic of {PARTITIONS} partitions,"
        f" {args.rooms} rooms. Load average when the run began: {figures.load_at_start:.2f}"
        " (the machine is shared; the figures move with its load).",
        width=96,
        break_on_hyphens=False,
    )
    return f"""# Persistence worker benchmark

{setup}

```
make bench-worker   # runs: {command}
```

| figure | value |
|---|---|
{table}

How it is measured: the drain rate counts rows from the first one seen in Postgres to the last
(Postgres polled every {DRAIN_POLL_S * 1000:.0f} ms), so start-up and the group join are left
out. Lag runs from just before the producer's `send` to the first poll of Postgres (every
{POLL_S * 1000:.0f} ms) that sees the row; it includes the Kafka acknowledgement, the fetch, the
batch's transactions and up to one poll interval. The benchmark, the broker, Postgres and the
worker share the machine's cores.
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=200_000, help="drain backlog size")
    parser.add_argument("--rooms", type=int, default=200)
    parser.add_argument("--rate", type=int, default=2000, help="messages/s in the lag phase")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the lag phase")
    parser.add_argument("--kafka", default=os.environ.get("CHAT_KAFKA", LOCAL_KAFKA_BOOTSTRAP))
    parser.add_argument(
        "--database", default=os.environ.get("CHAT_DATABASE_URL", LOCAL_DATABASE_URL)
    )
    parser.add_argument("--no-report", action="store_true", help="print only, write no report")
    parser.add_argument("--profile", type=Path, help="py-spy collapsed stacks of the drain, here")
    parser.add_argument("--top", type=int, default=25, help="functions listed from the profile")
    args = parser.parse_args()
    # A new topic's first sends may meet a partition leader not elected yet; aiokafka retries
    # them and would warn on every one.
    logging.getLogger("aiokafka").setLevel(logging.ERROR)
    command = shlex.join(["python", "loadtests/bench_worker.py", *sys.argv[1:]])
    figures = asyncio.run(run(args))
    print(
        f"sustained: {figures.rows_per_s:,.0f} rows/s over {figures.drain_s:.1f} s;"
        f" produce -> row visible at {args.rate}/s: p50 {figures.lag_ms(0.5):.0f} ms,"
        f" p99 {figures.lag_ms(0.99):.0f} ms, max {max(figures.lags_s) * 1000:.0f} ms;"
        f" {figures.batches} batches of {figures.mean_batch:.0f} records on average;"
        f" worker CPU {figures.cpu_ms_per_1000:.0f} ms per 1,000 rows;"
        f" load average {figures.load_at_start:.2f}"
    )
    if args.profile:
        print(top_costs(args.profile, args.top))
    if not args.no_report:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(_report(args, figures, command))
        print(f"report: {REPORT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
