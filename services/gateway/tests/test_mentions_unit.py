"""Mentions without servers: which ``@names`` a body offers (pure logic), and the send path on
the in-memory gateway: looked up only for a body with an ``@``, carried by the ack, the live
event, the log record and history, and handed back once, by the send that made it durable."""

from __future__ import annotations

import msgspec
import pytest

from chat_gateway import protocol
from chat_gateway.mentions import in_order_of, mentioned_names
from memory_gateway import Chat, MemoryGateway, eventually

ROOM = "lobby"


@pytest.mark.parametrize(
    ("body", "names"),
    [
        ("no one here", []),
        ("hi @alice", ["alice"]),
        ("@alice hi", ["alice"]),
        ("@Alice, @BOB!", ["alice", "bob"]),
        ("(@alice) and [@bob]: @carol's", ["alice", "bob", "carol"]),
        ("first line\n@alice", ["alice"]),
        ("mail bob@example.com or café@bob", []),  # inside a word: an address, not a mention
        ("@alice@bob", ["alice"]),
        ("@@alice", []),
        ("@ alice", []),
        ("@al is too short, @" + "x" * 33 + " too long", []),
        ("thanks @alice.", ["alice.", "alice"]),  # the trailing dot may be punctuation
        ("ask @j.doe-2 or @a_b", ["j.doe-2", "a_b"]),
        ("@bob @alice @bob", ["bob", "alice"]),
    ],
)
def test_the_names_a_body_offers(body: str, names: list[str]) -> None:
    assert mentioned_names(body, 20) == names


def test_a_body_offers_at_most_the_limit_of_names() -> None:
    body = " ".join(f"@user{n:02d}" for n in range(30))
    assert mentioned_names(body, 20) == [f"user{n:02d}" for n in range(20)]


def test_ids_come_in_the_order_the_body_names_them() -> None:
    found = {"bob": "id-b", "alice": "id-a"}
    assert in_order_of(["alice", "nobody", "bob"], found) == ("id-a", "id-b")


async def test_a_body_without_an_at_sign_is_sent_without_a_lookup_or_a_mentions_field() -> None:
    chat = Chat()
    chat.members.members[ROOM] = {"bob": "bob"}
    async with MemoryGateway(chat) as gateway:
        ada = await gateway.connect("ada")
        await ada.request("join", room=ROOM)
        reply = await ada.request("send", room=ROOM, body="hello bob", client_msg_id="m1")
        assert "mentions" not in reply["message"]
        assert chat.members.lookups == 0
        assert chat.log.records[0].mentions is msgspec.UNSET
        # An @ that names nobody costs one lookup and still adds no field.
        reply = await ada.request("send", room=ROOM, body="a@b and @zed", client_msg_id="m2")
        assert "mentions" not in reply["message"]
        assert chat.members.lookups == 1


async def test_members_named_are_in_the_ack_the_live_event_and_history_the_author_not() -> None:
    chat = Chat()
    chat.members.members[ROOM] = {"ada": "ada", "bob": "bob", "cleo": "cleo"}
    async with MemoryGateway(chat) as gateway:
        ada, bob = await gateway.connect("ada"), await gateway.connect("bob")
        await bob.request("join", room=ROOM)
        body = "@cleo @dan, @Bob and me, @ada: see mail@bob.org"
        reply = await ada.request("send", room=ROOM, body=body, client_msg_id="m1")
        assert reply["message"]["mentions"] == ["cleo", "bob"]
        live = await eventually(lambda: bob.messages(ROOM) or None)
        assert live[0]["mentions"] == ["cleo", "bob"]
        assert chat.log.records[0].mentions == ("cleo", "bob")
        history = await bob.request("history", room=ROOM)
        assert history["messages"][0]["mentions"] == ["cleo", "bob"]


async def test_the_sender_hands_back_whom_a_message_mentions_once() -> None:
    chat = Chat()
    chat.members.members[ROOM] = {"bob": "bob"}
    async with MemoryGateway(chat) as gateway:
        claims = await chat.verify(chat.token("ada"))
        send = protocol.Send(room=ROOM, body="@bob look", client_msg_id="m1")
        first = await gateway.ctx.sender.send(claims, "s1", send)
        again = await gateway.ctx.sender.send(claims, "s1", send)
        assert first.mentions == ("bob",)
        assert again.mentions == ()  # a resend answered with the first result tells nobody
        assert msgspec.json.decode(again.message)["mentions"] == ["bob"]
        plain = protocol.Send(room=ROOM, body="no one", client_msg_id="m2")
        assert (await gateway.ctx.sender.send(claims, "s1", plain)).mentions == ()


async def test_a_durable_mention_is_told_to_the_people_named_on_every_gateway() -> None:
    chat = Chat()
    chat.members.members[ROOM] = {"bob": "bob", "cleo": "cleo"}
    async with MemoryGateway(chat) as a, MemoryGateway(chat, "gw-b") as b:
        ada = await a.connect("ada")
        bob_elsewhere = await b.connect("bob")  # joined to no room: told of the mention
        cleo_in_room = await a.connect("cleo")
        await cleo_in_room.request("join", room=ROOM)  # has the message itself: not told
        reply = await ada.request("send", room=ROOM, body="@bob @cleo look", client_msg_id="m1")

        told = await eventually(lambda: bob_elsewhere.events("mention") or None)
        assert told == [{"type": "mention", "room": ROOM, "message": reply["message"]}]
        await eventually(lambda: cleo_in_room.messages(ROOM) or None)
        assert cleo_in_room.events("mention") == []
        assert ada.events("mention") == []
