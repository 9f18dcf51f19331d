"""Readiness through a Redis outage: a gateway stays in the balancer for a blip of the Redis
every gateway shares, keeps its connected clients, refuses what needs Redis with a clear error,
and turns unready only once Redis has been away for ``READY_GRACE_S``."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from chat_testing.ports import free_port
from chat_testing.processes import redis_server
from gateway_harness import ChatSystem, gateway_process

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

_GRACE_S = 4.0


async def _readiness(client: httpx.AsyncClient) -> tuple[int, dict[str, Any]]:
    response = await client.get("/readyz")
    return response.status_code, response.json()["checks"]


async def _until(check: Callable[[], Any], limit_s: float, every_s: float = 0.2) -> Any:
    deadline = time.monotonic() + limit_s
    while True:
        outcome = await check()
        if outcome is not None or time.monotonic() > deadline:
            return outcome
        await asyncio.sleep(every_s)


async def test_a_redis_outage_shorter_than_the_grace_leaves_the_gateway_ready(
    system: ChatSystem, tmp_path_factory: pytest.TempPathFactory
) -> None:
    port = free_port()
    redis = redis_server(port, tmp_path_factory.mktemp("readiness-redis"))
    await redis.start()
    gateway = gateway_process(
        system,
        "readiness",
        CHAT_GATEWAY_REDIS_URL=f"redis://127.0.0.1:{port}/0",
        CHAT_GATEWAY_READY_GRACE_S=str(_GRACE_S),
    )
    await gateway.start()
    _, token = await system.user("ready")
    client = await system.client(gateway, token)
    room = f"ready-{uuid.uuid4().hex[:8]}"
    probes = httpx.AsyncClient(base_url=system.http_url(gateway), timeout=5)
    try:
        await client.request("join", room=room)
        assert (await _readiness(probes))[0] == 200

        await redis.kill()
        began = time.monotonic()
        status, checks = await _readiness(probes)
        # Within the grace: still ready, the failing checks reported as such.
        assert status == 200, checks
        assert checks["redis"] == "degraded"
        refused = await client.command("send", room=room, body="now?", client_msg_id="m1")
        assert (refused["type"], refused["code"]) == ("error", "unavailable")
        assert (await client.command("ping"))["type"] == "reply"  # the connection stays
        newcomer = await system.client(gateway, None)
        try:
            refused = await newcomer.command("connect", token=token)
            assert (refused["type"], refused["code"]) == ("error", "unavailable")
        finally:
            await newcomer.close()

        async def unready() -> dict[str, Any] | None:
            status, checks = await _readiness(probes)
            return checks if status == 503 else None

        checks = await _until(unready, limit_s=_GRACE_S + 10)
        assert checks is not None, "never unready while Redis stayed away"
        assert time.monotonic() - began >= _GRACE_S
        assert checks["redis"] == "failed"

        await redis.start()

        async def ready_again() -> dict[str, Any] | None:
            status, checks = await _readiness(probes)
            return checks if status == 200 and set(checks.values()) == {"ok"} else None

        assert await _until(ready_again, limit_s=30) is not None
        for _ in range(100):  # sending again once the room's counter is re-seeded
            reply = await client.command("send", room=room, body="now", client_msg_id="m2")
            if reply["type"] == "reply":
                break
            assert reply["code"] == "unavailable", reply
            await asyncio.sleep(0.2)
        assert reply["type"] == "reply"
    finally:
        await probes.aclose()
        await client.close()
        await gateway.stop()
        await redis.stop()
