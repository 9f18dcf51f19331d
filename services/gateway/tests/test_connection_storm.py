"""A connection storm: what a restarted gateway or a balancer failover sends to one gateway.

Thousands of clients connect and join at once; each ends in a working session or is refused
with a clear retryable answer (close 1013 or ``unavailable``) and retries as a client should.
When they all leave, presence and the per-user connection entries are gone from Redis.
"""

from __future__ import annotations

import asyncio
import collections
import random
import resource
import time
import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from gateway_harness import ORIGIN, ChatClient, ChatSystem, gateway_process

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

CLIENTS = 5000
# Twenty people per room: every join and leave still tells the room (presence events).
ROOMS = 250
ATTEMPTS = 8
RETRYABLE_CLOSE = 1013


def _raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed, "raise the hard fd limit"


class Tally:
    def __init__(self) -> None:
        self.outcomes: collections.Counter[str] = collections.Counter()
        self.failures: list[str] = []


async def _answer(client: ChatClient, kind: str, **fields: Any) -> dict[str, Any] | None:
    """The command's reply or error frame, or None when the server closed the connection."""
    command = asyncio.ensure_future(client.command(kind, limit_s=60.0, **fields))
    client.closed.add_done_callback(lambda _: command.cancel())
    try:
        return await command
    except asyncio.CancelledError:
        if not client.closed.done():
            raise
        return None


async def _session(url: str, token: str, room: str, tally: Tally, keep: list[ChatClient]) -> bool:
    """Connect and join like a client: retry a retryable refusal after a jittered backoff."""
    for attempt in range(ATTEMPTS):
        outcome = await _attempt(url, token, room, keep)
        tally.outcomes[outcome] += 1
        if outcome == "working":
            return True
        if not outcome.startswith("retryable"):
            tally.failures.append(outcome)
            return False
        await asyncio.sleep(random.uniform(0, min(8.0, 0.5 * 2**attempt)))
    return False


async def _attempt(url: str, token: str, room: str, keep: list[ChatClient]) -> str:
    try:
        client = await ChatClient.open(url, origin=ORIGIN, open_timeout=60, proxy=None)
    except Exception as exc:  # the handshake itself failed: never acceptable
        return f"handshake: {exc!r}"
    for kind, fields in (("connect", {"token": token}), ("join", {"room": room})):
        try:
            frame = await _answer(client, kind, **fields)
        except TimeoutError:
            await client.close()
            return f"{kind}: no answer"
        if frame is None:
            code, reason = client.closed.result()
            await client.close()
            if code == RETRYABLE_CLOSE:
                return "retryable close"
            return f"{kind}: closed {code} {reason}"
        if frame["type"] != "reply":
            await client.close()
            if frame["code"] == "unavailable":
                return f"retryable {kind}"
            return f"{kind}: {frame}"
    keep.append(client)
    return "working"


async def _leftovers(redis: Redis, run: str) -> list[str]:
    """Presence and connection keys of this run's users and rooms (both are named after it)."""
    keys = [key async for key in redis.scan_iter(match=f"*storm-{run}-*", count=1000)]
    return sorted(key.decode() for key in keys if key.startswith((b"conns:", b"presence")))


async def _connections(http: httpx.AsyncClient) -> float:
    for line in (await http.get("/metrics")).text.splitlines():
        if line.startswith("chat_gateway_connections "):
            return float(line.split()[1])
    raise AssertionError("no chat_gateway_connections metric")


async def test_a_storm_of_connects_ends_in_working_sessions_and_leaves_no_presence_behind(
    system: ChatSystem,
) -> None:
    _raise_file_limit(CLIENTS * 2 + 1000)  # the gateway inherits the limit: it holds as many
    gateway = gateway_process(
        system,
        "gateway-storm",
        CHAT_GATEWAY_MAX_CONNECTIONS_PER_IP=str(CLIENTS * 2),
        # One process plays every client here: the last ones send `connect` long after their
        # handshake, which thousands of separate clients would not.
        CHAT_GATEWAY_CONNECT_TIMEOUT_S="30",
        # Production's presence timing: the suite's short one heartbeats every 2 s.
        CHAT_GATEWAY_PRESENCE_TTL_S="60",
        CHAT_GATEWAY_PRESENCE_SWEEP_S="15",
    )
    await gateway.start()
    run = uuid.uuid4().hex[:8]
    rooms = [f"room-storm-{run}-{n}" for n in range(ROOMS)]
    sign = await system.token_signer()
    users = [(f"storm-{run}-{n}", rooms[n % ROOMS]) for n in range(CLIENTS)]
    tokens = [sign(user, user) for user, _ in users]
    tally = Tally()
    keep: list[ChatClient] = []
    redis = Redis.from_url(system.redis_url)
    url = system.ws_url(gateway)
    try:
        started = time.monotonic()
        working = await asyncio.gather(
            *(
                _session(url, token, room, tally, keep)
                for token, (_, room) in zip(tokens, users, strict=True)
            )
        )
        elapsed = time.monotonic() - started
        print(f"\n{CLIENTS} connects + joins in {elapsed:.1f} s: {dict(tally.outcomes)}")
        assert not tally.failures, collections.Counter(tally.failures).most_common(5)
        assert all(working)
        online = await redis.zcard(f"presence:{rooms[0]}")
        assert online == CLIENTS // ROOMS

        started = time.monotonic()
        await asyncio.gather(*(client.close() for client in keep))
        async with httpx.AsyncClient(base_url=system.http_url(gateway), timeout=10) as http:
            while await _connections(http) > 0:
                assert time.monotonic() - started < 60, "sessions were not released"
                await asyncio.sleep(0.2)
        print(f"{CLIENTS} closes released in {time.monotonic() - started:.1f} s")
        assert await _leftovers(redis, run) == []
    finally:
        await asyncio.gather(*(client.close() for client in keep))
        await redis.aclose()
        await gateway.stop()
