"""Two gateways and an auth-service on a 3-primary Redis Cluster (real redis-server processes,
``redis+cluster://``), with rooms chosen so that every shard carries at least one.

What must hold (docs/architecture.md, G1 to G6) as on one Redis: every message is acknowledged
once, stored once, numbered without a seq given twice and increasing for each sender, and
delivered to every member on both gateways in seq order, also after one primary's process is
killed and restarted (it comes back with its nodes.conf, empty); presence, typing and the
revocation of a session reach the other gateway.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import pytest_asyncio
from redis.asyncio.cluster import RedisCluster

from chat_common.redis_client import create_redis
from chat_testing.cluster import RedisClusterGroup
from chat_testing.ports import free_port
from chat_testing.processes import ServiceProcess
from gateway_harness import PASSWORD, ChatClient, ChatSystem, auth_service, gateway_process
from redis_traffic import ResendingSender, assert_delivered_once_in_order

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

_SENDS_EACH = 30
_INTERVAL_S = 0.05


@dataclass
class _OnCluster:
    cluster: RedisClusterGroup
    auth_url: str
    gateways: list[ServiceProcess]

    async def rooms_on_every_shard(self, prefix: str) -> dict[int, str]:
        """A new room per primary, by the primary's port: the one that owns the room's slot."""
        redis = create_redis(
            self.cluster.url, client_name="test-slots", max_connections=2, pool_timeout_s=2
        )
        assert isinstance(redis, RedisCluster)
        try:
            await redis.initialize()
            rooms: dict[int, str] = {}
            while len(rooms) < len(self.cluster.ports):
                room = f"{prefix}-{uuid.uuid4().hex[:10]}"
                node = redis.get_node_from_key(f"room:{{{room}}}")
                assert node is not None
                rooms.setdefault(int(node.port), room)
            return rooms
        finally:
            await redis.aclose()


@pytest_asyncio.fixture(loop_scope="session", scope="module")
async def on_cluster(
    system: ChatSystem, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[_OnCluster]:
    cluster = RedisClusterGroup(tmp_path_factory.mktemp("redis-cluster"))
    await cluster.start()
    auth_port = free_port()
    # Signs with the system's key: the gateways check tokens at the system's JWKS.
    auth = auth_service(system.log_dir, auth_port, system.database_url, cluster.url)
    gateways = [
        gateway_process(system, name, CHAT_GATEWAY_REDIS_URL=cluster.url)
        for name in ("cluster-a", "cluster-b")
    ]
    try:
        await auth.start()
        for gateway in gateways:
            await gateway.start()
        yield _OnCluster(cluster, f"http://127.0.0.1:{auth_port}", gateways)
    finally:
        for process in (*gateways, auth):
            await process.stop()
        await cluster.stop()


def _events(client: ChatClient, kind: str) -> list[dict[str, Any]]:
    return [event for event in client.events if event["type"] == kind]


async def test_presence_and_typing_reach_the_other_gateway_on_a_cluster(
    system: ChatSystem, on_cluster: _OnCluster
) -> None:
    first, second = on_cluster.gateways
    for room in (await on_cluster.rooms_on_every_shard("presence")).values():
        (watcher_id, watcher_token), (user_id, user_token) = (
            await system.user("watcher"),
            await system.user("typer"),
        )
        watcher = await system.client(first, watcher_token)
        user = await system.client(second, user_token)
        try:
            await watcher.request("join", room=room)
            joined = await user.request("join", room=room)
            assert {u["id"] for u in joined["online"]} == {watcher_id, user_id}

            def states(client: ChatClient, user_id: str = user_id) -> list[str]:
                presence = _events(client, "presence")
                return [e["state"] for e in presence if e["user"]["id"] == user_id]

            await watcher.wait_for(lambda c: bool(states(c)))
            await user.request("typing", room=room)
            await watcher.wait_for(lambda c: bool(_events(c, "typing")))
            assert _events(watcher, "typing")[0]["user"]["id"] == user_id
            await user.close()
            try:
                await watcher.wait_for(lambda c: states(c) == ["online", "offline"], limit_s=30)
            except TimeoutError:
                raise AssertionError(f"presence seen: {_events(watcher, 'presence')}") from None
        finally:
            await watcher.close()
            await user.close()


async def test_a_logout_everywhere_on_a_cluster_closes_the_sockets_on_both_gateways(
    system: ChatSystem, on_cluster: _OnCluster
) -> None:
    _, name = await system.register("leaver")
    async with httpx.AsyncClient(base_url=on_cluster.auth_url, timeout=10.0) as auth:
        pair = await auth.post("/v1/token", json={"username": name, "password": PASSWORD})
        assert pair.status_code == 200, pair.text
        token = pair.json()["access_token"]
        sockets = [await system.client(gateway, token) for gateway in on_cluster.gateways]
        try:
            ended = await auth.post(
                "/v1/logout", json={"all": True}, headers={"Authorization": f"Bearer {token}"}
            )
            assert ended.status_code == 204
            for socket in sockets:
                assert await socket.wait_closed(limit_s=5) == (4001, "session revoked")
            again = await system.client(on_cluster.gateways[1], None)
            try:  # the mark, read from the user's slot, refuses the token from now on
                refused = await again.command("connect", token=token)
                assert refused["code"] == "unauthorized"
            finally:
                await again.close()
        finally:
            for socket in sockets:
                await socket.close()


async def test_every_shard_delivers_once_in_order_also_after_a_primary_restarts(
    system: ChatSystem, on_cluster: _OnCluster
) -> None:
    rooms = await on_cluster.rooms_on_every_shard("cluster")
    gateways = on_cluster.gateways
    senders: list[ResendingSender] = []
    receivers: list[tuple[str, ChatClient]] = []
    try:
        for room in rooms.values():
            for side in (0, 1):  # a sender on each gateway, a receiver on each
                _, token = await system.user("sender")
                client = await system.client(gateways[side], token)
                await client.request("join", room=room)
                senders.append(
                    ResendingSender(
                        client, room, f"{room}-{side}", sends=_SENDS_EACH, interval_s=_INTERVAL_S
                    )
                )
                _, token = await system.user("receiver")
                receiver = await system.client(gateways[side], token)
                await receiver.request("join", room=room)
                receivers.append((room, receiver))

        sending = [asyncio.create_task(sender.run()) for sender in senders]
        await asyncio.sleep(0.5)  # traffic flowing on every shard
        restarted = on_cluster.cluster.ports[0]
        restarted_at = time.monotonic()
        await on_cluster.cluster.restart(restarted)
        async with asyncio.timeout(120):
            await asyncio.gather(*sending)
        assert time.monotonic() > restarted_at

        await assert_delivered_once_in_order(system.database_url, senders, receivers)
    finally:
        for sender in senders:
            await sender.client.close()
        for _, receiver in receivers:
            await receiver.close()
