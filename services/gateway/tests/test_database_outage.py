"""Postgres unreachable for a while (a restart): the gateway's background work survives it.

The shared Postgres cannot be stopped, so the gateway under test reaches it through a proxy
that this test cuts and restores; while cut, new connections are answered as a restarting
Postgres answers them ("the database system is starting up").
"""

from __future__ import annotations

import asyncio
import contextlib
import struct
import uuid
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from redis.asyncio import Redis

from chat_common.envelope import Author, Envelope, format_ts
from chat_gateway.frames import frame_of, to_payload
from chat_testing.ports import free_port
from gateway_harness import ChatSystem, gateway_process

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

_SSL_REQUEST = 80877103
_GSS_REQUEST = 80877104
_STARTING_UP = b"SFATAL\0VFATAL\0C57P03\0Mthe database system is starting up\0\0"


class PostgresProxy:
    """Forwards TCP connections to Postgres until cut; restored, it forwards again."""

    def __init__(self, target: str) -> None:
        parts = urlsplit(target)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 5432
        self.port = free_port()
        credentials, at, _ = parts.netloc.rpartition("@")
        self.url = urlunsplit(parts._replace(netloc=f"{credentials}{at}127.0.0.1:{self.port}"))
        self.up = True
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)

    def cut(self) -> None:
        self.up = False
        for writer in list(self._open):
            writer.close()

    def restore(self) -> None:
        self.up = True

    async def stop(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            if not self.up:
                await _answer_starting_up(reader, writer)
                return
            up_reader, up_writer = await asyncio.open_connection(self._host, self._port)
            self._open |= {writer, up_writer}
            await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            self._open.discard(writer)
            writer.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()


async def _answer_starting_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        length, code = struct.unpack("!II", await reader.readexactly(8))
        await reader.readexactly(length - 8)
        if code not in (_SSL_REQUEST, _GSS_REQUEST):
            break  # the startup message: refuse it
        writer.write(b"N")  # no encryption; the client goes on in plain text
    writer.write(b"E" + struct.pack("!I", len(_STARTING_UP) + 4) + _STARTING_UP)
    await writer.drain()


def _envelope(room: str, seq: int, author: Author) -> Envelope:
    return Envelope(
        id=str(uuid.uuid4()),
        room=room,
        seq=seq,
        user=author,
        body=f"m{seq}",
        ts=format_ts(datetime.now(UTC)),
        client_msg_id=f"q{seq}",
    )


async def _failures(http: httpx.AsyncClient, task: str) -> float:
    wanted = f'chat_gateway_task_failures_total{{task="{task}"}} '
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith(wanted):
            return float(line.split()[-1])
    return 0.0


async def test_held_frames_are_delivered_once_postgres_is_back(system: ChatSystem) -> None:
    proxy = PostgresProxy(system.database_url)
    await proxy.start()
    gateway = gateway_process(
        system,
        "gateway-pg-outage",
        CHAT_GATEWAY_DATABASE_URL=proxy.url,
        CHAT_GATEWAY_HOLE_DEADLINE_S="0.5",
    )
    redis = Redis.from_url(system.redis_url)
    database = await asyncpg.connect(system.database_url)
    room = f"room-{uuid.uuid4().hex[:12]}"
    client = None
    try:
        await gateway.start()
        _, token = await system.user("quiet")
        client = await system.client(gateway, token)
        await client.request("join", room=room)
        first = await client.request("send", room=room, body="m1", client_msg_id="q1")
        await client.wait_for(lambda c: len(c.messages(room)) == 1)

        proxy.cut()
        # Seq 2 reached Postgres but its publish was lost (the sender's gateway died after the
        # Kafka ack); seq 3 was published. Only Postgres can fill the hole before seq 3.
        author = Author(id=first["message"]["user"]["id"], name=first["message"]["user"]["name"])
        lost, held = _envelope(room, 2, author), _envelope(room, 3, author)
        await database.execute(
            "INSERT INTO messages (id, room, seq, user_id, user_name, body, client_msg_id,"
            " created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, now())",
            uuid.UUID(lost.id),
            room,
            2,
            author.id,
            author.name,
            lost.body,
            lost.client_msg_id,
        )
        await redis.set(f"seq:{room}", 3)
        payload = to_payload(frame_of(held))
        await redis.zadd(f"recent:{room}", {payload: 3})
        await redis.publish(f"room:{room}", payload)

        await asyncio.sleep(2.0)  # the window was searched, then Postgres asked, and failed
        assert [m["seq"] for m in client.messages(room)] == [1]
        proxy.restore()
        await client.wait_for(lambda c: len(c.messages(room)) == 3, limit_s=20)
        assert [m["body"] for m in client.messages(room)] == ["m1", "m2", "m3"]
        async with httpx.AsyncClient(base_url=system.http_url(gateway)) as http:
            assert await _failures(http, "hole-filler") >= 1
        await gateway.wait_ready(10)
    finally:
        if client is not None:
            await client.close()
        await database.close()
        await redis.aclose()
        await gateway.stop()
        with contextlib.suppress(OSError):
            await proxy.stop()
