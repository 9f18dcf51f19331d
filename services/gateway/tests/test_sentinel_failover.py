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

import asyncpg
import pytest
import pytest_asyncio

from chat_testing.processes import ServiceProcess
from chat_testing.sentinel import SentinelGroup
from gateway_harness import ChatClient, ChatSystem, gateway_process
from redis_traffic import ResendingSender

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

        acked = [(at, message) for sender in senders for at, message in sender.acked]
        assert len(acked) == _ROOMS * 2 * _SENDS_EACH
        for room in rooms:  # no seq given twice
            seqs = [m["seq"] for _, m in acked if m["room"] == room]
            assert len(seqs) == len(set(seqs)), f"{room}: a seq given twice"
        for sender in senders:  # one sender's messages, sent one after another, keep increasing
            own = [m["seq"] for _, m in sender.acked]
            assert own == sorted(own), f"{sender.name}: a seq went back: {own}"

        connection = await asyncpg.connect(system.database_url)
        try:
            async with asyncio.timeout(30):
                while True:
                    rows = await connection.fetch(
                        "SELECT id::text, room, seq FROM messages WHERE room = ANY($1::text[])",
                        rooms,
                    )
                    if len(rows) >= len(acked):
                        break
                    await asyncio.sleep(0.25)
        finally:
            await connection.close()
        stored = {(row["id"], row["room"], row["seq"]) for row in rows}
        assert len(rows) == len(stored) == len(acked)  # once each, nothing else
        assert stored == {(m["id"], m["room"], m["seq"]) for _, m in acked}

        for room, receiver in receivers:
            expected = sorted(m["seq"] for _, m in acked if m["room"] == room)

            def caught_up(client: ChatClient, room: str = room, count: int = len(expected)) -> bool:
                return len(client.messages(room)) >= count

            await receiver.wait_for(caught_up, limit_s=30)
            got = [m["seq"] for m in receiver.messages(room)]
            assert got == expected, f"{room}: received {got}"
        assert sum(sender.refused for sender in senders) > 0  # the failover was felt
    finally:
        for sender in senders:
            await sender.client.close()
        for _, receiver in receivers:
            await receiver.close()
