"""The faults, each with the promise it is held to (docs/reliability.md "Faults").

A fault's ``inject`` does the damage and undoes it as production would (a killed process is
started again, as Kubernetes restarts it; a stopped dependency comes back) and returns the
moment the fault ended: the clock of the recovery times starts there. A killed process is
started again in the background (``Stage.repair``), so the clock starts at the kill and the
restart's time counts in the recovery. Anything it observed on
the way (how long a never-reading client was served) goes into ``notes``.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import msgspec
from websockets.asyncio.client import connect

from chaos.journal import Journal
from chaos.speaker import Speaker
from chaos.stage import Stage
from chat_testing.processes import ServiceProcess

# The bad path: latency each way, jitter on top, and the chance that a chunk read resets its
# connection instead (with steady traffic, each connection is reset every second or so).
LATENCY_S, JITTER_S, DROP_RATE = 0.05, 0.02, 0.02
# A note that says the fault's own promise was not kept (the checker judges the rest).
BROKEN = "broken"
# Speakers of 4,000-character messages that fill a never-reading client's path.
LOUD_SPEAKERS = 4


@dataclass
class Fault:
    name: str
    promise: str
    inject: Callable[[Stage, float, dict[str, str]], Awaitable[float]]
    notes: dict[str, str] = field(default_factory=dict)


async def _kill_gateway(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    gateway = stage.cluster.gateways[0]
    await gateway.kill()
    ended = time.monotonic()

    async def restart() -> None:
        await asyncio.sleep(2.0)  # a restart's delay: its clients have to go elsewhere first
        await gateway.start()

    stage.repair(restart())
    return ended


async def _drain_gateway(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    gateway = stage.cluster.gateways[1]
    gateway.signal(signal.SIGTERM)
    began = time.monotonic()

    async def restart() -> None:
        code = await gateway.wait_exit(30.0)
        notes["drained and exited"] = f"{time.monotonic() - began:.1f} s, exit code {code}"
        if code != 0:
            notes[BROKEN] = f"the drained gateway exited with {code}"
        await gateway.start()

    stage.repair(restart())
    return began


async def _kill_worker(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    worker = stage.cluster.system.worker
    await worker.kill()  # traffic never stops, so a batch is always on its way
    ended = time.monotonic()

    async def restart() -> None:
        await asyncio.sleep(1.0)
        await worker.start()

    stage.repair(restart())
    return ended


async def _restart_redis(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    redis = stage.cluster.system.redis
    await redis.kill()
    await asyncio.sleep(1.0)
    await redis.start()  # empty: no persistence, as a Redis that lost its memory
    return time.monotonic()


async def _stop_kafka(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    kafka = stage.cluster.kafka
    await kafka.stop()
    await asyncio.sleep(hold_s)
    began = time.monotonic()
    await kafka.start(limit_s=90)
    notes["broker start"] = f"{time.monotonic() - began:.1f} s"
    return time.monotonic()


async def _stop_postgres(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    proxy = stage.cluster.database_proxy
    await proxy.cut()
    await asyncio.sleep(hold_s)
    await proxy.restore()
    return time.monotonic()


def _bad_path(which: str) -> Callable[[Stage, float, dict[str, str]], Awaitable[float]]:
    async def inject(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
        proxy = stage.cluster.redis_proxy if which == "redis" else stage.cluster.kafka_proxy
        before = proxy.counters.resets
        proxy.latency_s, proxy.jitter_s, proxy.drop_rate = LATENCY_S, JITTER_S, DROP_RATE
        await asyncio.sleep(hold_s)
        proxy.latency_s, proxy.jitter_s, proxy.drop_rate = 0.0, 0.0, 0.0
        notes["connections reset"] = str(proxy.counters.resets - before)
        return time.monotonic()

    return inject


async def _herd(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    for speaker in stage.speakers:
        speaker.drop()
    return time.monotonic()


async def _never_reader(stage: Stage, hold_s: float, notes: dict[str, str]) -> float:
    """A client joins a room of its own with loud speakers and stops reading."""
    room = f"{stage.rooms[0]}-sink-{uuid.uuid4().hex[:6]}"
    stage.rooms.append(room)  # the checker reads it with the others
    sign = await stage.cluster.system.token_signer()
    gateway = stage.cluster.gateways[0]
    closed_before = await _slow_consumer_closes(stage, gateway)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    # A small receive window, so what the gateway sends piles up on its side.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    url = stage.cluster.urls[0]
    host, port = url.split("//")[1].split("/")[0].split(":")
    sock.connect((host, int(port)))
    sock.setblocking(False)
    stuck = await connect(
        url,
        sock=sock,
        additional_headers={"Origin": stage.cluster.origin},
        compression=None,
        max_size=None,
        max_queue=1,
    )
    hello = {"type": "connect", "id": 1, "token": sign(str(uuid.uuid4()), "stuck")}
    await stuck.send(msgspec.json.encode(hello).decode())
    await stuck.recv()
    await stuck.send(msgspec.json.encode({"type": "join", "id": 2, "room": room}).decode())
    await stuck.recv()
    began = time.monotonic()
    # From here it reads nothing: websockets stops reading the socket once one frame waits.
    # Loud speakers fill the room with long messages until the gateway gives up on it: past
    # its backlog bound, the kernel's send buffer (up to 4 MiB here) fills first.
    loud = []
    for n in range(LOUD_SPEAKERS):
        user_id = str(uuid.uuid4())
        loud.append(
            Speaker(
                Journal(user_id),
                _signed(sign, user_id),
                stage.cluster.urls,
                [room],
                origin=stage.cluster.origin,
                rate_per_s=100.0,
                seed=100 + n,
                first=n,
                body_chars=4000,
            )
        )
        stage.add(loud[-1])
    outcome = "still open"
    try:
        async with asyncio.timeout(max(hold_s, 60.0)):
            while await _slow_consumer_closes(stage, gateway) == closed_before:
                await asyncio.sleep(0.25)
        outcome = f"closed 4008 by the gateway after {time.monotonic() - began:.1f} s"
    except TimeoutError:
        pass
    finally:
        for speaker in loud:
            speaker.rate_per_s = 0.0
        await stuck.close()
    notes["never-reading client"] = outcome
    if outcome == "still open":
        notes[BROKEN] = "the gateway never closed the client that does not read"
    return time.monotonic()


async def _slow_consumer_closes(stage: Stage, gateway: ServiceProcess) -> float:
    """The gateway's count of connections it closed with 4008 (its /metrics)."""
    async with httpx.AsyncClient(timeout=5.0) as http:
        text = (await http.get(f"{stage.cluster.system.http_url(gateway)}/metrics")).text
    for line in text.splitlines():
        if line.startswith('chat_gateway_closes_total{code="4008"}'):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def _signed(sign: Callable[[str, str], str], user_id: str) -> Callable[[bool], Awaitable[str]]:
    async def token(renew: bool) -> str:
        return sign(user_id, "loud")

    return token


FAULTS = [
    Fault(
        "SIGKILL a gateway",
        "Its clients reconnect to the other gateway and catch up; nothing acknowledged is lost or "
        "doubled; the gateway is restarted 2 s later.",
        _kill_gateway,
    ),
    Fault(
        "SIGKILL the worker mid-batch",
        "Clients notice nothing; every acknowledged entry is stored once when the restarted "
        "worker resumes from the last committed offsets.",
        _kill_worker,
    ),
    Fault(
        "Redis restarted empty",
        "Delivery resumes; each room's seq keeps increasing (counters re-seeded); catch-up "
        "fills what was missed.",
        _restart_redis,
    ),
    Fault(
        "Kafka stopped",
        "Sends are refused `unavailable`, never acknowledged without being durable; the "
        "client's resends with the same client_msg_id succeed once Kafka is back.",
        _stop_kafka,
    ),
    Fault(
        "Postgres stopped",
        "Sends are still acknowledged: Kafka makes them durable, and room decisions come from "
        "the gateway's cache, used past its expiry while Postgres is away. Edits, deletes and "
        "reactions read their target from Postgres and are refused `unavailable` until it is "
        "back. The worker stores everything then.",
        _stop_postgres,
    ),
    Fault(
        "A client that never reads",
        "The gateway closes it (4008 slow consumer) once its backlog passes the bound (256 KiB "
        "here, past a kernel send buffer of up to 4 MiB); everyone else keeps receiving.",
        _never_reader,
    ),
    Fault(
        "Latency and drops to Redis",
        "50 ms (+ up to 20 ms) each way, and one chunk in 50 resets its connection: slower, "
        "never wrong.",
        _bad_path("redis"),
    ),
    Fault(
        "Latency and drops to Kafka",
        "50 ms (+ up to 20 ms) each way, and one chunk in 50 resets its connection: slower, "
        "never wrong.",
        _bad_path("kafka"),
    ),
    Fault(
        "Every client reconnects at once",
        "A thundering herd against two gateways: every client is back, caught up, without a "
        "hole or a double.",
        _herd,
    ),
    Fault(
        "A gateway drained with SIGTERM",
        "Its clients are told to reconnect, move to the other gateway and lose nothing; "
        "commands in flight are answered or resent.",
        _drain_gateway,
    ),
]
