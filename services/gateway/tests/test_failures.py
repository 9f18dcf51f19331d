"""Failures of one process at a time: nothing acknowledged is lost or doubled for anyone."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from chat_testing.processes import ServiceProcess
from gateway_harness import ChatClient, ChatSystem, ProtocolError

pytestmark = [pytest.mark.asyncio(loop_scope="session"), pytest.mark.slow]


async def _all_stored(system: ChatSystem, room: str, count: int) -> bool:
    connection = await asyncpg.connect(system.database_url)
    try:
        stored = await connection.fetchval("SELECT count(*) FROM messages WHERE room = $1", room)
    finally:
        await connection.close()
    return bool(stored == count)


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


class Participant:
    """A user who keeps one connection, reconnects when it drops, and catches up with since."""

    def __init__(self, system: ChatSystem, token: str, room: str, gateway: ServiceProcess) -> None:
        self.system, self.token, self.room, self.gateway = system, token, room, gateway
        self.client: ChatClient | None = None
        self.seen: dict[int, dict[str, Any]] = {}
        self.duplicates = 0
        self._switching = asyncio.Lock()

    async def connect(self, gateway: ServiceProcess) -> None:
        """Move to ``gateway`` unless already connected there; one move at a time, and what the
        old connection received is kept before it is closed."""
        async with self._switching:
            current = self.client
            if current is not None and self.gateway is gateway and not current.closed.done():
                return
            if current is not None:
                self.collect()
                await current.close()
            self.gateway = gateway
            self.client = await self.system.client(gateway, self.token)
            since = max(self.seen) if self.seen else None
            joined = await self.client.request("join", room=self.room, since=since)
            assert joined["recovered"] is True
            self._take(joined["messages"])

    def collect(self) -> None:
        if self.client is not None:
            self._take(self.client.messages(self.room))
            self.client.events.clear()

    def _take(self, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            if message["seq"] in self.seen:
                self.duplicates += 1
            self.seen[message["seq"]] = message


async def _send_until(
    participant: Participant, count: int, acked: list[dict[str, Any]], alive: list[ServiceProcess]
) -> None:
    """Send ``count`` messages, reconnecting to a live gateway and retrying after a failure."""
    for n in range(count):
        client_msg_id = f"{participant.token[-8:]}-{n}"
        while True:
            try:
                assert participant.client is not None
                reply = await participant.client.command(
                    "send",
                    room=participant.room,
                    body=f"n{n}",
                    client_msg_id=client_msg_id,
                    limit_s=5.0,
                )
                if reply["type"] == "reply":
                    acked.append(reply["message"])
                    break
            except (ProtocolError, TimeoutError, ConnectionError, OSError):
                pass
            except Exception as exc:  # the connection died under us
                if "ConnectionClosed" not in type(exc).__name__:
                    raise
            participant.collect()
            await asyncio.sleep(0.1)
            with contextlib.suppress(Exception):
                await participant.connect(alive[0])
        await asyncio.sleep(0.02)


async def test_sigkill_of_a_gateway_loses_and_doubles_nothing_after_catch_up(
    system: ChatSystem,
) -> None:
    room = _room()
    doomed, survivor = system.gateways
    users = [await system.user("steady") for _ in range(4)]
    people = [
        Participant(system, token, room, doomed if i % 2 == 0 else survivor)
        for i, (_, token) in enumerate(users)
    ]
    for person in people:
        await person.connect(person.gateway)
    acked: list[dict[str, Any]] = []
    alive = [survivor]
    senders = [asyncio.create_task(_send_until(p, 30, acked, alive)) for p in people]
    await asyncio.sleep(0.6)
    await doomed.kill()
    try:
        for person in people:
            if person.gateway is doomed:
                await person.connect(survivor)
        await asyncio.gather(*senders)
        expected = {m["seq"]: m for m in acked}
        for person in people:
            assert person.client is not None
            await person.client.wait_for(
                lambda c, p=person: (
                    len(set(p.seen) | {m["seq"] for m in c.messages(room)}) >= len(expected)
                ),
                limit_s=20,
            )
            person.collect()
            missing = set(expected) - set(person.seen)
            assert not missing, f"missing seqs {sorted(missing)}"
            assert person.duplicates == 0
            assert {s: person.seen[s]["id"] for s in expected} == {
                s: m["id"] for s, m in expected.items()
            }
    finally:
        for person in people:
            if person.client is not None:
                await person.client.close()
        await doomed.start()


async def test_delivery_resumes_after_a_redis_restart_and_catch_up_fills_the_gap(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, a_token), (_, b_token) = await system.user("a"), await system.user("b")
    sender = await system.client(system.gateways[0], a_token)
    receiver = await system.client(system.gateways[1], b_token)
    try:
        await sender.request("join", room=room)
        await receiver.request("join", room=room)
        await sender.request("send", room=room, body="before", client_msg_id="r0")
        await receiver.wait_for(lambda c: len(c.messages(room)) == 1)

        await system.redis.kill()
        await system.redis.start()
        # The seq counter and window are gone; sends work again once the gateways reconnect
        # and the counter is re-seeded from Postgres (seq never goes backwards).
        acked = []
        for n in range(1, 6):
            for _ in range(100):
                reply = await sender.command(
                    "send", room=room, body=f"after {n}", client_msg_id=f"r{n}"
                )
                if reply["type"] == "reply":
                    acked.append(reply["message"])
                    break
                assert reply["code"] == "unavailable", reply
                await asyncio.sleep(0.2)
        assert [m["seq"] for m in acked] == [2, 3, 4, 5, 6]
        await receiver.wait_for(lambda c: len(c.messages(room)) == 6, limit_s=20)
        assert [m["seq"] for m in receiver.messages(room)] == [1, 2, 3, 4, 5, 6]
    finally:
        await sender.close()
        await receiver.close()
        for gateway in system.gateways:
            await gateway.wait_ready()


async def test_after_redis_lost_its_counters_a_new_member_gets_only_new_messages(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, a_token), (_, b_token) = await system.user("a"), await system.user("b")
    sender = await system.client(system.gateways[0], a_token)
    try:
        await sender.request("join", room=room)
        for n in range(5):
            await sender.request("send", room=room, body=f"old {n}", client_msg_id=f"o{n}")
    finally:
        await sender.close()
    async with httpx.AsyncClient(base_url=system.http_url(system.gateways[0])) as http:
        for _ in range(100):  # let the worker store them: Redis is about to forget everything
            stored = await http.get(
                f"/v1/rooms/{room}/messages", headers={"Authorization": f"Bearer {a_token}"}
            )
            if len(stored.json()["messages"]) == 5 and await _all_stored(system, room, 5):
                break
            await asyncio.sleep(0.2)
    await system.redis.kill()
    await system.redis.start()
    for gateway in system.gateways:
        await gateway.wait_ready()

    newcomer = await system.client(system.gateways[1], b_token)
    sender = await system.client(system.gateways[0], a_token)
    try:
        joined = await newcomer.request("join", room=room)
        assert joined["last_seq"] == 5
        reply = await sender.command("send", room=room, body="new", client_msg_id="n1")
        assert reply["type"] == "reply", reply
        assert reply["message"]["seq"] == 6
        await newcomer.wait_for(lambda c: len(c.messages(room)) >= 1)
        await asyncio.sleep(0.5)
        assert [m["body"] for m in newcomer.messages(room)] == ["new"]
    finally:
        await newcomer.close()
        await sender.close()


async def test_a_persons_channel_is_followed_again_after_a_redis_restart(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, a_token) = await system.user("a")
    b_id, b_name = await system.register("b")
    b_token = await system.login(b_name)
    sender = await system.client(system.gateways[0], a_token)
    # b is a member of the room but this connection, on the other gateway, has joined nothing:
    # what reaches it of the room comes on b's own channel only.
    b_elsewhere = await system.client(system.gateways[1], b_token)
    try:
        await sender.request("join", room=room)
        async with httpx.AsyncClient(base_url=system.http_url(system.gateways[1])) as http:
            member = await http.put(
                f"/v1/me/rooms/{room}", headers={"Authorization": f"Bearer {b_token}"}
            )
            assert member.status_code == 201, member.text

        await system.redis.kill()
        await system.redis.start()

        def mentioned(client: ChatClient) -> bool:
            return any(event["type"] == "mention" for event in client.events)

        # Mention b until it is told: sends are `unavailable` until the gateways reconnect,
        # and b's gateway follows b's channel again once its pub/sub connection is back.
        for n in range(100):
            reply = await sender.command(
                "send", room=room, body=f"@{b_name} are you there? {n}", client_msg_id=f"p{n}"
            )
            assert reply["type"] == "reply" or reply["code"] == "unavailable", reply
            if reply["type"] == "reply":
                assert reply["message"]["mentions"] == [b_id]
                with contextlib.suppress(TimeoutError):
                    await b_elsewhere.wait_for(mentioned, limit_s=0.5)
            if mentioned(b_elsewhere):
                break
            await asyncio.sleep(0.2)
        told = [event for event in b_elsewhere.events if event["type"] == "mention"]
        assert told
        assert told[0]["room"] == room
    finally:
        await sender.close()
        await b_elsewhere.close()
        for gateway in system.gateways:
            await gateway.wait_ready()
