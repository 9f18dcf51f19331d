"""Two gateways on a Redis Sentinel group (a primary, a replica, three Sentinels, all real
redis-server processes) while the primary is SIGKILLed under traffic and a replica promoted.

What must hold (docs/architecture.md, G1 to G4): sending resumes on the new primary; nothing
acknowledged is lost or stored twice; no seq is given twice, and each sender's seqs keep
increasing (a replica promoted without the newest increments of a counter would break both,
which is why the gateway waits for a replica to hold each seq); every member receives each room
in seq order and, once caught up, all of it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from chat_testing.processes import ServiceProcess
from chat_testing.sentinel import SentinelGroup
from gateway_harness import ChatClient, ChatSystem, gateway_process
from redis_traffic import ResendingSender, assert_delivered_once_in_order

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]

_ROOMS = 3
_SENDS_EACH = 40
_INTERVAL_S = 0.05


@pytest_asyncio.fixture(loop_scope="session")
async def sentinel_gateways(
    system: ChatSystem, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[SentinelGroup, list[ServiceProcess]]]:
    group = SentinelGroup(tmp_path_factory.mktemp("sentinel"))
    await group.start()
    gateways = [
        gateway_process(system, name, CHAT_GATEWAY_REDIS_URL=group.url)
        for name in ("sentinel-a", "sentinel-b")
    ]
    try:
        for gateway in gateways:
            await gateway.start()
        yield group, gateways
    finally:
        for gateway in gateways:
            await gateway.stop()
        await group.stop()


async def test_a_sentinel_failover_under_traffic_loses_doubles_and_reorders_nothing(
    system: ChatSystem, sentinel_gateways: tuple[SentinelGroup, list[ServiceProcess]]
) -> None:
    group, gateways = sentinel_gateways
    rooms = [f"sentinel-{uuid.uuid4().hex[:10]}" for _ in range(_ROOMS)]
    senders: list[ResendingSender] = []
    receivers: list[tuple[str, ChatClient]] = []
    try:
        for index, room in enumerate(rooms):
            for side in (0, 1):  # a sender on each gateway, a receiver on the other
                _, token = await system.user(f"s{index}{side}")
                client = await system.client(gateways[side], token)
                await client.request("join", room=room)
                senders.append(
                    ResendingSender(
                        client, room, f"{room}-{side}", sends=_SENDS_EACH, interval_s=_INTERVAL_S
                    )
                )
                _, token = await system.user(f"r{index}{side}")
                receiver = await system.client(gateways[1 - side], token)
                await receiver.request("join", room=room)
                receivers.append((room, receiver))

        sending = [asyncio.create_task(sender.run()) for sender in senders]
        await asyncio.sleep(1.0)  # traffic flowing
        old_primary = await group.primary_port()
        new_primary = await group.fail_over()
        assert new_primary != old_primary
        async with asyncio.timeout(90):
            await asyncio.gather(*sending)

        await assert_delivered_once_in_order(system.database_url, senders, receivers)
        assert sum(sender.refused for sender in senders) > 0  # the failover was felt
    finally:
        for sender in senders:
            await sender.client.close()
        for _, receiver in receivers:
            await receiver.close()
