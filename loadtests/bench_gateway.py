"""Gateway benchmark: connections one gateway holds and their memory, then fan-out throughput.

Runs against the local stack of `make up` (auth-service on 8200, persistence worker, Postgres,
Redis, Kafka) and starts one gateway of its own with limits raised for load. Prints the figures
and writes docs/benchmarks/gateway.md. Loopback only; every loop is bounded in count and time.

    make bench-gateway ARGS="--connections 5000 --rate 300 --seconds 10"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import socket
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect

REPO = Path(__file__).resolve().parents[1]
AUTH = "http://127.0.0.1:8200"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def _token() -> str:
    # One user for every run: registrations are throttled per address, logins of the owner
    # are not, so a second run the same hour still starts.
    name = "bench-gateway"
    async with httpx.AsyncClient(base_url=AUTH, timeout=10) as http:
        credentials = {"username": name, "password": "bench-pass-1"}
        token = await http.post("/v1/token", json=credentials)
        if token.status_code == 401:  # the first run: register
            (await http.post("/v1/users", json=credentials)).raise_for_status()
            token = await http.post("/v1/token", json=credentials)
        token.raise_for_status()
        return str(token.json()["access_token"])


async def _start_gateway(port: int, ws_port: int, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "CHAT_GATEWAY_PORT": str(port),
        "CHAT_GATEWAY_WS_PORT": str(ws_port),
        "CHAT_GATEWAY_NODE_ID": f"bench-{port}",
        "CHAT_GATEWAY_MAX_CONNECTIONS_PER_USER": "100000",
        "CHAT_GATEWAY_MAX_CONNECTIONS_PER_IP": "100000",
        "CHAT_GATEWAY_SEND_RATE_PER_S": "100000",
        "CHAT_GATEWAY_SEND_BURST": "100000",
        "CHAT_GATEWAY_LOG_LEVEL": "warning",
    }
    process = subprocess.Popen(  # noqa: ASYNC220 - one process, started once
        [sys.executable, "-m", "chat_gateway"],
        env=env,
        cwd=REPO,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    async with httpx.AsyncClient() as http:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code == 200:
                    return process
            await asyncio.sleep(0.1)
    process.kill()
    raise RuntimeError(f"gateway did not start; see {log}")


class Member:
    def __init__(self, connection: ClientConnection) -> None:
        self.connection = connection
        self.latencies: list[float] = []
        self.received = 0
        self._reader: asyncio.Task[None] | None = None

    def listen(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for raw in self.connection:
                now = time.time()
                frame = msgspec.json.decode(raw)
                if frame.get("type") == "message":
                    ts = datetime.strptime(frame["message"]["ts"], "%Y-%m-%dT%H:%M:%S.%fZ")
                    self.latencies.append(now - ts.replace(tzinfo=UTC).timestamp())
                    self.received += 1

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
        with contextlib.suppress(Exception):
            await self.connection.close()


def _text(frame: dict[str, object]) -> str:
    return msgspec.json.encode(frame).decode()


async def _open(url: str, token: str, room: str) -> ClientConnection:
    connection = await connect(url, compression=None, max_size=None, open_timeout=30)
    await connection.send(_text({"type": "connect", "id": 1, "token": token}))
    await connection.recv()
    await connection.send(_text({"type": "join", "id": 2, "room": room}))
    await connection.recv()
    return connection


async def hold_connections(url: str, token: str, pid: int, count: int) -> dict[str, float]:
    before = _rss_kib(pid)
    started = time.perf_counter()
    connections: list[ClientConnection] = []
    room = f"bench-hold-{uuid.uuid4().hex[:8]}"
    for start in range(0, count, 100):
        connections += await asyncio.gather(
            *(_open(url, token, room) for _ in range(min(100, count - start)))
        )
    opened_s = time.perf_counter() - started
    await asyncio.sleep(2)
    after = _rss_kib(pid)
    for connection in connections:
        await connection.close()
    return {
        "connections": count,
        "open_seconds": round(opened_s, 1),
        "rss_before_mib": round(before / 1024, 1),
        "rss_after_mib": round(after / 1024, 1),
        "kib_per_connection": round((after - before) / count, 1),
    }


async def fan_out(
    url: str, token: str, rooms: int, members: int, rate: float, seconds: float
) -> dict[str, float]:
    names = [f"bench-fan-{uuid.uuid4().hex[:8]}" for _ in range(rooms)]
    audience: list[Member] = []
    for name in names:
        for _ in range(members):
            audience.append(Member(await _open(url, token, name)))
    for member in audience:
        member.listen()
    senders = [await _open(url, token, name) for name in names]
    total = int(rate * seconds)
    started = time.perf_counter()
    for n in range(total):
        sender = senders[n % rooms]
        await sender.send(
            _text(
                {
                    "type": "send",
                    "room": names[n % rooms],
                    "body": f"message {n} " + "x" * 80,
                    "client_msg_id": uuid.uuid4().hex,
                }
            )
        )
        delay = started + (n + 1) / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
    expected = total * members
    deadline = time.perf_counter() + 30
    while sum(m.received for m in audience) < expected and time.perf_counter() < deadline:
        await asyncio.sleep(0.1)
    elapsed = time.perf_counter() - started
    latencies = sorted(x for m in audience for x in m.latencies)
    delivered = len(latencies)
    for member in audience:
        await member.close()
    for sender in senders:
        await sender.close()
    quantiles = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "rooms": rooms,
        "members_per_room": members,
        "messages_sent": total,
        "deliveries_expected": expected,
        "deliveries": delivered,
        "deliveries_per_s": round(delivered / elapsed),
        "p50_ms": round(quantiles[49] * 1000, 1),
        "p99_ms": round(quantiles[98] * 1000, 1),
        "max_ms": round(latencies[-1] * 1000, 1) if latencies else 0.0,
    }


def _report(held: dict[str, float], flow: dict[str, float], command: str) -> str:
    rows = "\n".join(f"| {k} | {v} |" for k, v in {**held}.items())
    flow_rows = "\n".join(f"| {k} | {v} |" for k, v in flow.items())
    return f"""# Gateway benchmark

Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} ({os.cpu_count()} cores,
Python {platform.python_version()}); client, gateway, Redis, Kafka and Postgres share the machine.

Command: `{command}`

## Connections held by one gateway

Each connection is authenticated and has joined a room; resident memory of the gateway process
before and after.

| figure | value |
|---|---|
{rows}

## Fan-out

Messages sent at a fixed rate into rooms whose members all sit on this gateway; latency is from
the message's `ts` (taken by the gateway when it accepts the send, before the Kafka produce) to
its arrival at each member, so it includes the durable Kafka write.

| figure | value |
|---|---|
{flow_rows}
"""


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--rooms", type=int, default=20)
    parser.add_argument("--members", type=int, default=50)
    parser.add_argument("--rate", type=float, default=300.0, help="messages per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--report", type=Path, default=REPO / "docs/benchmarks/gateway.md")
    args = parser.parse_args()
    port, ws_port = _free_port(), _free_port()
    log = REPO / ".run/logs/bench-gateway.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    gateway = await _start_gateway(port, ws_port, log)
    try:
        token = await _token()
        url = f"ws://127.0.0.1:{ws_port}/ws"
        held = await hold_connections(url, token, gateway.pid, args.connections)
        print("connections:", held)
        flow = await fan_out(url, token, args.rooms, args.members, args.rate, args.seconds)
        print("fan-out:", flow)
    finally:
        gateway.terminate()
        gateway.wait(timeout=30)
    command = " ".join(["uv run python loadtests/bench_gateway.py", *sys.argv[1:]])
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(_report(held, flow, command))
    print(f"report written to {args.report}")


if __name__ == "__main__":
    asyncio.run(main())
