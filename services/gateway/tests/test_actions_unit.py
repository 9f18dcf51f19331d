"""Edits, deletes, reactions and replies on a gateway wired as in production over the in-memory
broker, store and log: what each command makes, each refusal, and history's current state."""

from __future__ import annotations

import asyncio
from typing import Any

from fakes import MemoryLog
from memory_broker import MemoryBackend
from memory_gateway import Chat, Client, MemoryGateway

ROOM = "lobby"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


async def _joined(gateway: MemoryGateway, *people: str) -> list[Client]:
    clients = [await gateway.connect(person) for person in people]
    for client in clients:
        await client.request("join", room=ROOM)
    return clients


async def _sent(client: Client, body: str, room: str = ROOM, **fields: Any) -> dict[str, Any]:
    reply = await client.request("send", room=room, body=body, client_msg_id=body, **fields)
    assert reply["type"] == "reply", reply
    message: dict[str, Any] = reply["message"]
    return message


async def _act(
    client: Client, kind: str, message: dict[str, Any], cmid: str, **fields: Any
) -> dict[str, Any]:
    return await client.request(
        kind, room=message["room"], message_id=message["id"], client_msg_id=cmid, **fields
    )


def _refusal(frame: dict[str, Any]) -> tuple[str, str]:
    assert frame["type"] == "error", frame
    return frame["code"], frame["message"]


async def test_each_action_is_an_event_in_the_log_acked_and_delivered_in_seq_order() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _joined(gateway, "ada", "bob")
        message = await _sent(ada, "hello @bob")
        edit = (await _act(ada, "edit", message, "e1", body="hello there"))["message"]
        react = (await _act(bob, "react", message, "r1", emoji="👍"))["message"]
        unreact = (await _act(bob, "react", message, "r2", emoji="👍"))["message"]
        delete = (await _act(ada, "delete", message, "d1"))["message"]

        assert edit | {"id": "x", "ts": "t", "edited_at": "t"} == {
            "v": 2,
            "id": "x",
            "room": ROOM,
            "seq": 2,
            "user": {"id": "ada", "name": "Ada"},
            "body": "hello there",
            "ts": "t",
            "client_msg_id": "e1",
            "kind": "edit",
            "target": message["id"],
            "edited_at": "t",
        }
        assert edit["edited_at"] == edit["ts"]
        assert (react["kind"], react["emoji"], react["on"], react["seq"]) == (
            "reaction",
            "👍",
            True,
            3,
        )
        assert (unreact["on"], unreact["seq"]) == (False, 4)
        assert (delete["kind"], delete["target"], delete["seq"]) == ("delete", message["id"], 5)
        assert "body" not in delete
        expected = [message, edit, react, unreact, delete]
        for client in (ada, bob):
            await _until(lambda c=client: len(c.messages(ROOM)) == 5)
            assert client.messages(ROOM) == expected
        assert [record.kind for record in gateway.chat.log.records][1:] == [
            "edit",
            "reaction",
            "reaction",
            "delete",
        ]
        made = gateway.ctx.metrics.registry.get_sample_value
        counted = {
            kind: made("chat_gateway_room_events_total", {"kind": kind})
            for kind in ("edit", "reaction", "delete")
        }
        assert counted == {"edit": 1, "reaction": 2, "delete": 1}
        assert made("chat_gateway_messages_received_total") == 5


async def test_a_resent_action_gets_the_same_event_and_nothing_happens_twice() -> None:
    async with MemoryGateway(Chat()) as gateway:
        (ada,) = await _joined(gateway, "ada")
        message = await _sent(ada, "hi")
        first = await _act(ada, "delete", message, "d1")
        again = await _act(ada, "delete", message, "d1")  # its target is deleted by now
        assert again["message"] == first["message"]
        react = await _act(ada, "react", await _sent(ada, "two"), "r1", emoji="🎉")
        assert (
            await _act(
                ada,
                "react",
                react["message"] | {"id": react["message"]["target"]},
                "r1",
                emoji="🎉",
            )
        )["message"] == react["message"]
        answered = await _sent(ada, "answered")
        reply = await _sent(ada, "the reply", reply_to=answered["id"])
        await _act(ada, "delete", answered, "d2")
        again = await ada.request(
            "send", room=ROOM, body="the reply", client_msg_id="the reply", reply_to=answered["id"]
        )
        assert again["message"] == reply
        assert len(gateway.chat.log.records) == 7
        # A resend made nothing: only the first of each is counted.
        made = gateway.ctx.metrics.registry.get_sample_value
        assert made("chat_gateway_room_events_total", {"kind": "delete"}) == 2
        assert made("chat_gateway_room_events_total", {"kind": "reaction"}) == 1


async def test_refusals_name_the_problem_and_store_nothing() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada, bob = await _joined(gateway, "ada", "bob")
        message = await _sent(ada, "mine")
        elsewhere = await _sent(ada, "there", room="other")
        event = (await _act(ada, "edit", message, "e1", body="mine!"))["message"]
        stored = len(chat.log.records)

        assert _refusal(await _act(bob, "edit", message, "b1", body="yours"))[0] == "forbidden"
        assert _refusal(await _act(bob, "delete", message, "b2")) == (
            "forbidden",
            "only its author or the room's owner and moderators may delete a message",
        )
        unknown = message | {"id": UNKNOWN}
        assert _refusal(await _act(ada, "edit", unknown, "a1", body="x"))[0] == "not_found"
        foreign = elsewhere | {"room": ROOM}
        assert _refusal(await _act(ada, "delete", foreign, "a2"))[0] == "not_found"
        not_a_message = event | {"id": event["id"]}
        assert _refusal(await _act(ada, "react", not_a_message, "a3", emoji="👍"))[0] == (
            "not_found"
        )
        reply = await ada.request(
            "send", room=ROOM, body="re", client_msg_id="a4", reply_to=elsewhere["id"]
        )
        assert _refusal(reply)[0] == "not_found"

        malformed = [
            await ada.request("edit", room=ROOM, message_id="nope", body="x", client_msg_id="m1"),
            await ada.request("react", room=ROOM, message_id=message["id"], client_msg_id="m2"),
            await _act(ada, "react", message, "m3", emoji="not one"),
            await _act(ada, "edit", message, "m4", body=""),
            await _act(ada, "edit", message, "m5", body="bell\x07"),
            await ada.request("delete", room=ROOM, message_id=message["id"]),
            await ada.request("send", room=ROOM, body="x", client_msg_id="m6", reply_to=7),
        ]
        assert [_refusal(frame)[0] for frame in malformed] == ["bad_request"] * 7
        assert _refusal(await _act(ada, "edit", message, "m7", body="x" * 4001))[0] == ("too_large")

        chat.rooms.muted.add((ROOM, "ada"))
        assert _refusal(await _act(ada, "react", message, "u1", emoji="👍")) == (
            "forbidden",
            "you are muted in this room",
        )
        chat.rooms.muted.clear()
        await _act(ada, "delete", message, "d1")
        stored += 1
        for kind, fields in (
            ("edit", {"body": "again"}),
            ("delete", {}),
            ("react", {"emoji": "👍"}),
        ):
            assert _refusal(await _act(ada, kind, message, f"gone-{kind}", **fields))[0] == (
                "not_found"
            )
        assert len(chat.log.records) == stored


async def test_in_a_read_only_room_only_staff_act_and_staff_delete_anyones_message() -> None:
    chat = Chat()
    async with MemoryGateway(chat) as gateway:
        ada, mod = await _joined(gateway, "ada", "mod")
        message = await _sent(ada, "before it was read-only")
        chat.rooms.read_only.add(ROOM)
        assert _refusal(await _act(ada, "edit", message, "e1", body="x")) == (
            "forbidden",
            f"room {ROOM} is read-only",
        )
        assert _refusal(await _act(ada, "react", message, "r1", emoji="👍"))[0] == "forbidden"
        chat.rooms.staff.add((ROOM, "mod"))
        assert (await _act(mod, "react", message, "r2", emoji="👍"))["type"] == "reply"
        assert (await _act(mod, "delete", message, "d1"))["message"]["user"]["id"] == "mod"


async def test_the_edit_window_closes_after_the_setting() -> None:
    async with MemoryGateway(Chat(), edit_window_s=0.2) as gateway:
        (ada,) = await _joined(gateway, "ada")
        message = await _sent(ada, "typo")
        assert (await _act(ada, "edit", message, "e1", body="fixed"))["type"] == "reply"
        await asyncio.sleep(0.3)
        assert _refusal(await _act(ada, "edit", message, "e2", body="late")) == (
            "forbidden",
            "a message can be edited for 0.2 s after it was sent",
        )


async def test_reactions_are_bounded_per_message_and_per_person() -> None:
    async with MemoryGateway(
        Chat(), max_emoji_per_message=3, max_reactions_per_person=2
    ) as gateway:
        ada, bob = await _joined(gateway, "ada", "bob")
        message = await _sent(ada, "react to me")
        for n, emoji in enumerate(["👍", "🎉"]):
            assert (await _act(ada, "react", message, f"a{n}", emoji=emoji))["type"] == "reply"
        assert _refusal(await _act(ada, "react", message, "a2", emoji="❤️")) == (
            "bad_request",
            "a person may react with at most 2 emoji to one message",
        )
        assert (await _act(bob, "react", message, "b0", emoji="❤️"))["type"] == "reply"
        assert _refusal(await _act(bob, "react", message, "b1", emoji=":tada:")) == (
            "bad_request",
            "a message holds at most 3 different emoji",
        )
        # Joining an emoji already there, and taking one back, are always allowed.
        assert (await _act(bob, "react", message, "b2", emoji="👍"))["message"]["on"] is True
        assert (await _act(ada, "react", message, "a3", emoji="👍"))["message"]["on"] is False


async def test_actions_count_against_the_sending_rate() -> None:
    chat = Chat(MemoryBackend(send_rate_per_s=0.01, send_burst=2))
    async with MemoryGateway(chat) as gateway:
        (ada,) = await _joined(gateway, "ada")
        message = await _sent(ada, "one")
        assert (await _act(ada, "react", message, "r1", emoji="👍"))["type"] == "reply"
        refused = await _act(ada, "react", message, "r2", emoji="🎉")
        assert refused["code"] == "rate_limited"
        assert refused["retry_after_ms"] > 0


async def test_a_reply_quotes_the_current_text_of_the_message_it_answers() -> None:
    async with MemoryGateway(Chat()) as gateway:
        ada, bob = await _joined(gateway, "ada", "bob")
        message = await _sent(ada, "first")
        await _act(ada, "edit", message, "e1", body="x" * 300)
        reply = await _sent(bob, "answer", reply_to=message["id"])
        assert reply["reply_to"] == {
            "id": message["id"],
            "user": {"id": "ada", "name": "Ada"},
            "excerpt": "x" * 200,
        }


async def test_history_shows_current_state_before_and_after_the_store_has_it() -> None:
    chat = Chat()
    chat.log = MemoryLog(chat.store, stores=False)  # the worker has stored nothing yet
    async with MemoryGateway(chat) as gateway:
        ada, bob = await _joined(gateway, "ada", "bob")
        kept = await _sent(ada, "kept")
        gone = await _sent(bob, "gone")
        reply = await _sent(ada, "re", reply_to=gone["id"])
        await _act(ada, "edit", kept, "e1", body="kept, edited")
        await _act(bob, "react", kept, "r1", emoji="👍")
        await _act(ada, "react", kept, "r2", emoji="🎉")
        await _act(bob, "delete", gone, "d1")

        async def pages() -> list[list[dict[str, Any]]]:
            return [(await c.request("history", room=ROOM))["messages"] for c in (ada, bob)]

        from_window = await pages()
        chat.log.store_now()
        stored = await pages()
        assert stored == from_window
        for_ada, for_bob = stored
        assert [m["seq"] for m in for_ada] == [1, 2, 3]  # messages only
        assert for_ada[0]["body"] == "kept, edited"
        assert for_ada[0]["edited_at"] is not None
        assert for_ada[0]["updated_seq"] == 6
        assert for_ada[0]["reactions"] == [
            {"emoji": "👍", "count": 1, "me": False},
            {"emoji": "🎉", "count": 1, "me": True},
        ]
        assert [r["me"] for r in for_bob[0]["reactions"]] == [True, False]
        assert for_ada[1] | {"ts": 0} == {
            "v": 1,
            "id": gone["id"],
            "room": ROOM,
            "seq": 2,
            "user": {"id": "bob", "name": "Bob"},
            "ts": 0,
            "client_msg_id": "gone",
            "deleted": True,
            "updated_seq": 7,
        }
        assert for_ada[2]["reply_to"] == {
            "id": gone["id"],
            "user": {"id": "bob", "name": "Bob"},
            "deleted": True,
        }
        assert "updated_seq" not in for_ada[2]
        assert reply["reply_to"]["excerpt"] == "gone"


async def _until(check: Any) -> None:
    async with asyncio.timeout(2):
        while not check():
            await asyncio.sleep(0.001)
