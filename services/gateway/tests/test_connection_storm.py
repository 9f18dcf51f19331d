"""A connection storm: what a restarted gateway or a balancer failover sends to one gateway.

Thousands of clients connect and join at once. Each ends in a working session or is refused
with a clear, retryable answer (HTTP 503 at the upgrade, close 1013, or ``unavailable``) that
the web app answers by reconnecting after a backoff. Presence counts exactly the working
sessions, and once they close, presence and the per-user connection entries are gone.
How long it took and how many were refused is printed, never asserted.
"""

from __future__ import annotations

import asyncio
import collections
import resource
import time
import uuid
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from websockets.exceptions import ConnectionClosed, InvalidStatus

from gateway_harness import ORIGIN, ChatClient, ChatSystem, gateway_process

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

CLIENTS = 5000
# Twenty people per room: every join and leave still tells the room (presence events).
ROOMS = 250
# The storm gateway's turns: at least one round of them must end in working sessions.
TURNS = 64
RETRYABLE = ("refused: 503 at the upgrade", "refused: close 1013", "refused: unavailable")


def _raise_file_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= needed, "raise the hard fd limit"


async def _answer(client: ChatClient, kind: str, **fields: Any) -> dict[str, Any] | None:
    """The command's reply or error frame, or None when the server closed the connection."""
    command = asyncio.ensure_future(client.command(kind, limit_s=60.0, **fields))
    client.closed.add_done_callback(lambda _: command.cancel())
    try:
        return await command
    except ConnectionClosed:  # closed before the command went out
        await client.wait_closed()
        return None
    except asyncio.CancelledError:
        if not client.closed.done():
            raise
        return None


async def _attempt(url: str, token: str, room: str, keep: dict[str, ChatClient]) -> str:
    """Connect and join once, like a client; what came of it."""
    try:
        client = await ChatClient.open(url, origin=ORIGIN, open_timeout=60, proxy=None)
    except InvalidStatus as refused:
        if refused.response.status_code == 503:
            return "refused: 503 at the upgrade"
        return f"handshake: {refused!r}"
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
            return "refused: close 1013" if code == 1013 else f"{kind}: closed {code} {reason}"
        if frame["type"] != "reply":
            await client.close()
            return "refused: unavailable" if frame["code"] == "unavailable" else f"{kind}: {frame}"
    keep[token] = client
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


async def test_a_storm_of_connects_ends_in_sessions_or_clear_refusals_and_leaves_nothing_behind(
    system: ChatSystem,
) -> None:
    _raise_file_limit(CLIENTS * 2 + 1000)  # the gateway inherits the limit: it holds as many
    gateway = gateway_process(
        system,
        "gateway-storm",
        # Every client comes from this host, and refused ones linger while they close.
        CHAT_GATEWAY_MAX_CONNECTIONS_PER_IP="1000000",
        # One process plays every client here: the last ones send `connect` long after their
        # handshake, which thousands of separate clients would not.
        CHAT_GATEWAY_CONNECT_TIMEOUT_S="30",
        # Entries that outlive the test: only the cleanup of each session can remove them.
        CHAT_GATEWAY_PRESENCE_TTL_S="900",
        CHAT_GATEWAY_PRESENCE_SWEEP_S="300",
    )
    await gateway.start()
    run = uuid.uuid4().hex[:8]
    rooms = [f"room-storm-{run}-{n}" for n in range(ROOMS)]
    sign = await system.token_signer()
    users = [(f"storm-{run}-{n}", rooms[n % ROOMS]) for n in range(CLIENTS)]
    tokens = [sign(user, user) for user, _ in users]
    keep: dict[str, ChatClient] = {}
    redis = Redis.from_url(system.redis_url)
    url = system.ws_url(gateway)
    try:
        started = time.monotonic()
        outcomes = await asyncio.gather(
            *(
                _attempt(url, token, room, keep)
                for token, (_, room) in zip(tokens, users, strict=True)
            )
        )
        elapsed = time.monotonic() - started
        tally = collections.Counter(outcomes)
        print(f"\n{CLIENTS} simultaneous connects + joins in {elapsed:.1f} s: {dict(tally)}")
        failures = {outcome: n for outcome, n in tally.items() if outcome not in RETRYABLE}
        assert failures.keys() == {"working"}, failures
        assert tally["working"] >= TURNS

        joined = collections.Counter(
            room for token, (_, room) in zip(tokens, users, strict=True) if token in keep
        )
        async with redis.pipeline(transaction=False) as pipe:
            for room in rooms:
                pipe.zcard(f"presence:{room}")
            online = dict(zip(rooms, await pipe.execute(), strict=True))
        assert online == {room: joined[room] for room in rooms}

        started = time.monotonic()
        await asyncio.gather(*(client.close() for client in keep.values()))
        async with httpx.AsyncClient(base_url=system.http_url(gateway), timeout=10) as http:
            while await _connections(http) > 0:
                assert time.monotonic() - started < 60, "sessions were not released"
                await asyncio.sleep(0.2)
        while leftovers := await _leftovers(redis, run):  # cleanups queue after the closes
            assert time.monotonic() - started < 60, f"{len(leftovers)} left, e.g. {leftovers[0]}"
            await asyncio.sleep(0.5)
        print(f"{len(keep)} sessions closed and cleaned up in {time.monotonic() - started:.1f} s")
    finally:
        await asyncio.gather(*(client.close() for client in keep.values()))
        await redis.aclose()
        await gateway.stop()
