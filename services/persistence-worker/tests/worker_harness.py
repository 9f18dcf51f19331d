"""Test harness of the persistence worker: Kafka topics and rooms of each test's own, the worker
as a separate process (so a test can SIGKILL it), and a private Postgres a test may stop.

Each test uses unique topic, group and room names: the Kafka and Postgres servers are shared
with other tests running at the same time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client.parser import text_string_to_metric_families

from chat_common.envelope import Author, Envelope, encode_envelope, format_ts
from chat_common.kafka_client import create_producer, ensure_topics
from chat_testing.ports import free_port

# How long a test waits for something that should happen, before it fails saying what did not
# happen. A guard against hanging, not a speed requirement: speed is the benchmark's business.
WAIT_S = 90.0
# The broker's minimum; a SIGKILLed worker's partitions move after this long.
SESSION_TIMEOUT_MS = 6000
POSTGRES_BIN = Path("/usr/lib/postgresql/15/bin")


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


async def eventually(check: Callable[[], Awaitable[bool]], what: str | Callable[[], str]) -> None:
    """Wait until ``check`` passes; fail naming what did not happen."""
    deadline = asyncio.get_running_loop().time() + WAIT_S
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what if isinstance(what, str) else what()}: not within {WAIT_S:.0f}s")
        await asyncio.sleep(0.1)


# Kafka ----------------------------------------------------------------------------------------


class Topics:
    """A message topic (6 partitions) and a dead-letter topic of one test's own, and a producer
    that sends to them like the gateway does (idempotent, acks=all, keyed by room)."""

    partitions = 6

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.name = unique("test.worker.")
        self.dlq = f"{self.name}.dlq"
        self._producer = create_producer(bootstrap, client_id="test-gateway")

    async def create(self) -> None:
        await ensure_topics(self.bootstrap, {self.name: self.partitions, self.dlq: 1})
        await self._producer.start()

    async def delete(self) -> None:
        await self._producer.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="test-cleanup")
        await admin.start()
        try:
            await admin.delete_topics([self.name, self.dlq])
        finally:
            await admin.close()

    async def produce(self, envelopes: Sequence[Envelope]) -> list[Any]:
        """Send and wait for every ack; return each record's metadata."""
        return await self.produce_raw([(e.room.encode(), encode_envelope(e)) for e in envelopes])

    async def produce_raw(self, records: Sequence[tuple[bytes, bytes]]) -> list[Any]:
        deliveries = [
            await self._producer.send(self.name, value, key=key) for key, value in records
        ]
        return list(await asyncio.gather(*deliveries))

    async def produce_steadily(self, envelopes: Sequence[Envelope], per_second: int) -> None:
        """A stream of about ``per_second`` messages a second, sent every tenth of a second."""
        step = max(1, per_second // 10)
        for start in range(0, len(envelopes), step):
            await self.produce(envelopes[start : start + step])
            await asyncio.sleep(0.1)

    async def committed(self, group: str) -> dict[int, int | None]:
        """The offsets ``group`` has committed, per partition (without joining the group)."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=group, enable_auto_commit=False
        )
        await reader.start()
        try:
            return {
                partition: await reader.committed(TopicPartition(self.name, partition))
                for partition in range(self.partitions)
            }
        finally:
            await reader.stop()

    async def end_offsets(self) -> dict[int, int]:
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap)
        await reader.start()
        try:
            partitions = [TopicPartition(self.name, p) for p in range(self.partitions)]
            ends = await reader.end_offsets(partitions)
        finally:
            await reader.stop()
        return {tp.partition: offset for tp, offset in ends.items()}

    async def group_members(self, group: str) -> list[Any]:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, client_id="test-admin")
        await admin.start()
        try:
            [response] = await admin.describe_consumer_groups([group])
        finally:
            await admin.close()
        [(_error, _group, _state, _protocol_type, _protocol, members)] = response.groups
        return list(members)

    async def dead_letters(self, count: int) -> list[Any]:
        """The first ``count`` records of the dead-letter topic."""
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, auto_offset_reset="earliest")
        await reader.start()
        try:
            reader.assign([TopicPartition(self.dlq, 0)])
            records: list[Any] = []

            async def all_read() -> bool:
                fetched = await reader.getmany(timeout_ms=500)
                records.extend(r for batch in fetched.values() for r in batch)
                return len(records) >= count

            await eventually(all_read, f"{count} records in the dead-letter topic")
        finally:
            await reader.stop()
        return records


# Messages and their rows ----------------------------------------------------------------------


class Conversation:
    """Envelopes as the gateway would produce them, in rooms no other test uses."""

    def __init__(self, room_count: int) -> None:
        prefix = unique("w")
        self.rooms = [f"{prefix}-{index}" for index in range(room_count)]
        self._seqs = dict.fromkeys(self.rooms, 0)
        self._turn = itertools.cycle(self.rooms)

    def messages(self, count: int) -> list[Envelope]:
        return [self._next() for _ in range(count)]

    @staticmethod
    def rows_of(envelopes: Sequence[Envelope]) -> set[tuple[object, ...]]:
        """The rows the worker must store for ``envelopes``, as MessageTable.rows reads them."""
        return {
            (
                uuid.UUID(e.id),
                e.room,
                e.seq,
                e.user.id,
                e.user.name,
                e.body,
                e.client_msg_id,
                e.ts,
            )
            for e in envelopes
        }

    def _next(self) -> Envelope:
        room = next(self._turn)
        self._seqs[room] += 1
        seq = self._seqs[room]
        return Envelope(
            id=str(uuid.uuid4()),
            room=room,
            seq=seq,
            user=Author(id=f"u{seq % 7}", name=f"user {seq % 7}"),
            body=f"message {seq} in {room}: héllo\nwörld ✓",
            ts=format_ts(datetime.now(UTC)),
            client_msg_id=f"c-{room}-{seq}",
        )


class MessageTable:
    """Reads the rows of one test's rooms (never the whole shared table)."""

    def __init__(self, database_url: str, rooms: Sequence[str]) -> None:
        self.database_url = database_url
        self.rooms = list(rooms)

    async def count(self) -> int:
        connection = await self._connect()
        try:
            count: int = await connection.fetchval(
                "SELECT count(*) FROM messages WHERE room = ANY($1::text[])", self.rooms
            )
        finally:
            await connection.close()
        return count

    async def rows(self) -> list[tuple[object, ...]]:
        connection = await self._connect()
        try:
            records = await connection.fetch(
                "SELECT id, room, seq, user_id, user_name, body, client_msg_id, created_at"
                " FROM messages WHERE room = ANY($1::text[]) ORDER BY room, seq",
                self.rooms,
            )
        finally:
            await connection.close()
        return [(*record[:7], format_ts(record["created_at"])) for record in records]

    async def create_rooms(self) -> None:
        """Rows in ``rooms`` for these rooms, so that their newest seq is kept."""
        connection = await self._connect()
        try:
            await connection.executemany(
                "INSERT INTO rooms (id, kind) VALUES ($1, 'public')", [(r,) for r in self.rooms]
            )
        finally:
            await connection.close()

    async def create_uploads(self, uploads: Sequence[tuple[uuid.UUID, str, str]]) -> None:
        """Upload rows (id, room, user id) as the gateway makes and claims them."""
        connection = await self._connect()
        try:
            await connection.executemany(
                "INSERT INTO uploads (id, room, user_id, name, declared_type, size, claimed_at)"
                " VALUES ($1, $2, $3, 'photo.png', 'image/png', 1024, now())",
                uploads,
            )
        finally:
            await connection.close()

    async def wait_for(self, expected: int) -> None:
        seen = 0

        async def reached() -> bool:
            nonlocal seen
            seen = await self.count()
            return seen >= expected

        await eventually(reached, lambda: f"{expected} rows stored (found {seen})")

    async def delete(self) -> None:
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            connection = await self._connect()
            try:
                await connection.execute(
                    "DELETE FROM message_reactions WHERE message_id IN"
                    " (SELECT id FROM messages WHERE room = ANY($1::text[]))",
                    self.rooms,
                )
                await connection.execute(
                    "DELETE FROM unread_mentions WHERE room = ANY($1::text[])", self.rooms
                )
                await connection.execute(
                    "DELETE FROM uploads WHERE room = ANY($1::text[])", self.rooms
                )
                await connection.execute(
                    "DELETE FROM messages WHERE room = ANY($1::text[])", self.rooms
                )
                await connection.execute("DELETE FROM rooms WHERE id = ANY($1::text[])", self.rooms)
            finally:
                await connection.close()

    async def _connect(self) -> asyncpg.Connection:
        return await asyncpg.connect(self.database_url, timeout=5)


# The worker process ---------------------------------------------------------------------------


class WorkerProcess:
    """``python -m chat_worker`` configured through its environment, as in production."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.port = int(env["CHAT_WORKER_METRICS_PORT"])
        self.group = env["CHAT_WORKER_GROUP_ID"]
        self.log_path = log_path
        self._log: IO[bytes] = log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "chat_worker"],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    @property
    def running(self) -> bool:
        return self._process.poll() is None

    async def get(self, path: str) -> httpx.Response:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as client:
            return await client.get(path, timeout=5)

    async def wait_serving(self) -> None:
        async def serving() -> bool:
            if not self.running:
                pytest.fail(f"the worker exited:\n{self.log_tail()}")
            try:
                return (await self.get("/healthz")).status_code == 200
            except httpx.TransportError:
                return False

        await eventually(serving, "the worker answers /healthz")

    async def metric(self, name: str, **labels: str) -> float:
        """The current value of one sample; 0 when the worker has not recorded it."""
        text = (await self.get("/metrics")).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and labels.items() <= sample.labels.items():
                    return float(sample.value)
        return 0.0

    async def metric_sum(self, name: str) -> float:
        text = (await self.get("/metrics")).text
        return sum(
            sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
            if sample.name == name
        )

    def kill(self) -> None:
        """SIGKILL: no batch finished, no offset committed, no goodbye to the group."""
        if self.running:
            self._process.send_signal(signal.SIGKILL)
        self._process.wait()
        self._log.close()

    async def terminate(self) -> int:
        """SIGTERM, then the exit code once the worker has shut down by itself."""
        self._process.send_signal(signal.SIGTERM)

        async def exited() -> bool:
            return not self.running

        await eventually(exited, "the worker exits after SIGTERM")
        self._log.close()
        return self._process.returncode

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


StartWorker = Callable[..., Awaitable[WorkerProcess]]


# A private Postgres -----------------------------------------------------------------------------


class PrivatePostgres:
    """A throwaway PostgreSQL 15 cluster that a test may stop and start (never the shared one)."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="chat-worker-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    async def create(self) -> None:
        shutil.chown(self.root, "postgres", "postgres")
        await self._as_postgres(
            "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync",
            "--encoding=UTF8", "--locale=C.UTF-8",
        )  # fmt: skip
        await self.start()
        await _run(
            str(Path(sys.executable).with_name("chat-migrate")),
            "upgrade",
            "head",
            env={**os.environ, "CHAT_DATABASE_URL": self.url},
        )

    def table(self, rooms: Sequence[str]) -> MessageTable:
        return MessageTable(self.url, rooms)

    async def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        await self._as_postgres(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options,
            "-w", "-t", "30", "start",
        )  # fmt: skip

    async def stop(self, mode: str = "fast") -> None:
        await self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    async def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            await self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    async def _as_postgres(self, program: str, *args: str) -> None:
        await _run("runuser", "-u", "postgres", "--", str(POSTGRES_BIN / program), *args)


async def _run(*argv: str, env: dict[str, str] | None = None) -> None:
    process = await asyncio.create_subprocess_exec(
        *argv, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    output, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{argv[0]} {argv[1:]} failed:\n{output.decode(errors='replace')}")
