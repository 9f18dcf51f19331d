"""The person's channel on gateways wired as in production, on the in-memory broker: which
connections get a person's events, and when a gateway follows a person."""

from __future__ import annotations

from typing import Any

from memory_gateway import Chat, Client, MemoryGateway, eventually

ROOM = "lobby"


def _events(client: Client, kind: str) -> list[dict[str, Any]]:
    return client.events(kind)


async def _one(client: Client, kind: str) -> dict[str, Any]:
    """The newest event of ``kind``, once there is one."""

    def newest() -> dict[str, Any] | None:
        events = _events(client, kind)
        return events[-1] if events else None

    return await eventually(newest)


async def test_a_mention_reaches_only_the_connections_not_joined_to_its_room() -> None:
    async with MemoryGateway(Chat()) as a, MemoryGateway(a.chat, "gw-b") as b:
        in_room = await a.connect("bob")
        elsewhere = await a.connect("bob")
        phone = await b.connect("bob")
        ada = await a.connect("ada")
        await in_room.request("join", room=ROOM)
        message = {"id": "m1", "room": ROOM, "seq": 1, "body": "@bob look"}

        await a.ctx.person.tell_mention("bob", ROOM, message)

        for client in (elsewhere, phone):
            assert await _one(client, "mention") == {
                "type": "mention",
                "room": ROOM,
                "message": message,
            }
        await a.ctx.person.tell("bob", {"type": "read", "room": ROOM, "seq": 0})
        await _one(in_room, "read")  # told after the mention: the mention was not held back
        assert _events(in_room, "mention") == []
        assert _events(ada, "mention") == []


async def test_a_room_joined_on_one_gateway_reaches_every_connection_of_the_person() -> None:
    async with MemoryGateway(Chat()) as a, MemoryGateway(a.chat, "gw-b") as b:
        laptop = await a.connect("bob")
        phone = await b.connect("bob")
        ada = await b.connect("ada")

        await laptop.request("join", room=ROOM)

        for client in (laptop, phone):
            event = await _one(client, "rooms")
            assert [room["id"] for room in event["added"]] == [ROOM]
            assert event["removed"] == []
        await laptop.request("join", room=ROOM)  # joined already: nothing new to tell
        await laptop.request("leave", room=ROOM)
        removed = await eventually(lambda: [e for e in _events(phone, "rooms") if e["removed"]])
        assert removed[0]["removed"] == [ROOM]
        assert len(_events(phone, "rooms")) == 2
        assert _events(ada, "rooms") == []


async def test_read_is_told_to_every_device_clamped_to_the_newest_and_never_backwards() -> None:
    async with MemoryGateway(Chat()) as a, MemoryGateway(a.chat, "gw-b") as b:
        laptop = await a.connect("bob")
        phone = await b.connect("bob")
        await laptop.request("join", room=ROOM)
        for body in ("one", "two", "three"):
            await laptop.request("send", room=ROOM, body=body, client_msg_id=body)

        reply = await laptop.request("read", room=ROOM, seq=99)
        assert reply == {"type": "reply", "id": reply["id"]}
        assert await _one(phone, "read") == {"type": "read", "room": ROOM, "seq": 3}
        await laptop.request("read", room=ROOM, seq=1)  # lower: ignored, nothing told
        await laptop.request("read", room=ROOM, seq=3)  # the same: nothing told either
        bad = await laptop.request("read", room=ROOM, seq=-1)
        assert bad["code"] == "bad_request"
        a.chat.rooms.closed.add("secret")
        assert (await laptop.request("read", room="secret", seq=1))["code"] == "forbidden"
        assert len(_events(phone, "read")) == 1
        assert len(_events(laptop, "read")) == 1


async def test_a_gateway_follows_a_person_from_their_first_connection_to_their_last() -> None:
    async with MemoryGateway(Chat()) as gateway:
        first = await gateway.connect("bob")
        second = await gateway.connect("bob")
        assert gateway.broker.persons == {"bob"}
        await first.gone()
        assert gateway.broker.persons == {"bob"}
        await second.gone()
        assert gateway.broker.persons == set()

        # Followed again by a new connection, and still after the broker's connection is back.
        third = await gateway.connect("bob")
        gateway.broker.lose_connection()
        gateway.broker.reconnect()
        await gateway.ctx.person.tell("bob", {"type": "read", "room": ROOM, "seq": 0})
        await _one(third, "read")


async def test_a_dm_started_by_a_send_is_told_to_both_people() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
        await ada.request("send", room="dm:ada:bob", body="hi", client_msg_id="c1")
        for client in (ada, bob):
            event = await _one(client, "rooms")
            assert [room["id"] for room in event["added"]] == ["dm:ada:bob"]
        await ada.request("send", room="dm:ada:bob", body="again", client_msg_id="c2")
        await ada.request("ping")
        assert len(_events(bob, "rooms")) == 1
