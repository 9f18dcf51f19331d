"""Edits, deletes, reactions and replies across two gateways, against the real Redis, Kafka,
Postgres and persistence worker: live order, idempotency, catch-up that converges, history in
current state before and after the worker stored the events, and every refusal."""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from redis.asyncio import Redis

from gateway_harness import STRICT_ORIGIN, ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")

UNKNOWN = "00000000-0000-4000-8000-000000000000"
Message = dict[str, Any]


def _room() -> str:
    return f"act-{uuid.uuid4().hex[:12]}"


async def _send(client: ChatClient, room: str, body: str, **fields: Any) -> Message:
    reply = await client.request("send", room=room, body=body, client_msg_id=body, **fields)
    message: Message = reply["message"]
    return message


async def _act(
    client: ChatClient, kind: str, target: Message, cmid: str, **fields: Any
) -> dict[str, Any]:
    return await client.command(
        kind, room=target["room"], message_id=target["id"], client_msg_id=cmid, **fields
    )


async def _event(
    client: ChatClient, kind: str, target: Message, cmid: str, **fields: Any
) -> Message:
    frame = await _act(client, kind, target, cmid, **fields)
    assert frame["type"] == "reply", frame
    event: Message = frame["message"]
    return event


def _fold(held: dict[str, Message], entries: list[Message], viewer: str) -> dict[str, Message]:
    """What ``viewer``'s client holds after applying ``entries`` (messages of history or the
    log, ascending) as docs/protocol.md "Applying room events" says; reactions as emoji →
    [count, me]."""
    held = copy.deepcopy(held)
    for entry in entries:
        kind = entry.get("kind")
        if kind is None:
            message = copy.deepcopy(entry)
            shown = message.pop("reactions", [])
            message["reacted"] = {r["emoji"]: [r["count"], r["me"]] for r in shown}
            held.setdefault(entry["id"], message)
            continue
        target = held.get(entry["target"])
        if target is None or target.get("deleted") or entry["seq"] <= target.get("updated_seq", 0):
            continue
        if kind == "edit":
            target["body"], target["edited_at"] = entry.get("body"), entry["edited_at"]
        elif kind == "delete":
            for field in ("body", "mentions", "edited_at"):
                target.pop(field, None)
            target["reacted"] = {}
            target["deleted"] = True
        else:
            count, me = target["reacted"].get(entry["emoji"], [0, False])
            count += 1 if entry["on"] else -1
            me = entry["on"] if entry["user"]["id"] == viewer else me
            if count:
                target["reacted"][entry["emoji"]] = [count, me]
            else:
                target["reacted"].pop(entry["emoji"], None)
        target["updated_seq"] = entry["seq"]
    return held


def _summary(held: dict[str, Message]) -> dict[str, tuple[Any, ...]]:
    return {
        message_id: (
            message.get("body"),
            bool(message.get("deleted")),
            message.get("edited_at"),
            message["reacted"],
        )
        for message_id, message in held.items()
    }


@contextlib.asynccontextmanager
async def _joined_on_both(
    system: ChatSystem, room: str, first_token: str, second_token: str
) -> AsyncIterator[tuple[ChatClient, ChatClient]]:
    """Two people joined to ``room``, the first on one gateway, the second on the other."""
    first = await system.client(system.gateways[0], first_token)
    second = await system.client(system.gateways[1], second_token)
    try:
        await first.request("join", room=room)
        await second.request("join", room=room)
        yield first, second
    finally:
        await first.close()
        await second.close()


async def _stored_count(system: ChatSystem, room: str) -> int:
    connection = await asyncpg.connect(system.database_url)
    try:
        count = await connection.fetchval("SELECT count(*) FROM messages WHERE room = $1", room)
    finally:
        await connection.close()
    return int(count)


async def _wait_stored(system: ChatSystem, room: str, count: int, limit_s: float = 20.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit_s
    while (stored := await _stored_count(system, room)) < count:
        assert loop.time() < deadline, f"{stored} of {count} entries stored"
        await asyncio.sleep(0.1)


async def _forget_window(system: ChatSystem, room: str) -> None:
    """The room's recent window lapses, as it does a day later: Postgres alone answers."""
    redis = Redis.from_url(system.redis_url)
    try:
        await redis.delete(f"recent:{room}")
    finally:
        await redis.aclose()


async def test_actions_reach_the_other_gateway_in_seq_order_and_resends_get_the_same_event(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, ada_token), (_, bob_token) = await system.user("ada"), await system.user("bob")
    async with _joined_on_both(system, room, ada_token, bob_token) as (ada, bob):
        first = await _send(ada, room, "first")
        second = await _send(bob, room, "second")
        sent = [
            first,
            second,
            await _event(ada, "edit", first, "e1", body="first, edited"),
            await _event(bob, "react", first, "r1", emoji="👍🏽"),
            await _event(ada, "react", first, "r2", emoji=":tada:"),
            await _send(ada, room, "a reply", reply_to=second["id"]),
            await _event(bob, "react", first, "r3", emoji="👍🏽"),
            await _event(bob, "delete", second, "d1"),
        ]
        assert [m["seq"] for m in sent] == list(range(1, 9))
        assert sent[5]["reply_to"]["excerpt"] == "second"
        assert (sent[3]["on"], sent[6]["on"]) == (True, False)
        for client in (ada, bob):
            await client.wait_for(lambda c: len(c.messages(room)) == len(sent))
            assert client.messages(room) == sent

        # The same commands again, on the other gateway, after their targets changed.
        bob_elsewhere = await system.client(system.gateways[0], bob_token)
        ada_elsewhere = await system.client(system.gateways[1], ada_token)
        try:
            assert await _event(bob_elsewhere, "delete", second, "d1") == sent[7]
            assert await _event(bob_elsewhere, "react", first, "r1", emoji="👍🏽") == sent[3]
            assert (
                await _event(ada_elsewhere, "edit", first, "e1", body="first, edited") == (sent[2])
            )
        finally:
            await bob_elsewhere.close()
            await ada_elsewhere.close()
        after = await _send(ada, room, "after")
        assert after["seq"] == 9  # nothing was numbered twice
        await _wait_stored(system, room, 9)
        await asyncio.sleep(0.3)
        assert await _stored_count(system, room) == 9


async def test_a_client_that_was_away_catches_up_and_holds_what_one_that_stayed_holds(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, ada_token), (bob_id, bob_token) = await system.user("ada"), await system.user("bob")
    async with _joined_on_both(system, room, ada_token, bob_token) as (ada, stayer):
        kept = await _send(ada, room, "kept")
        doomed = await _send(ada, room, "doomed")
        await _event(stayer, "react", kept, "r0", emoji="❤️")
        away = await system.client(system.gateways[0], bob_token)
        joined = await away.request("join", room=room)
        held = _fold({}, (await away.request("history", room=room))["messages"], bob_id)
        since = joined["last_seq"]
        await away.close()

        await _event(ada, "edit", doomed, "e1", body="doomed, edited")
        await _event(ada, "edit", kept, "e2", body="kept, edited")
        await _event(stayer, "react", kept, "r1", emoji="❤️")  # takes it back
        await _event(ada, "react", kept, "r2", emoji="👍")
        await _send(ada, room, "a reply", reply_to=kept["id"])
        await _event(ada, "delete", doomed, "d1")
        await stayer.wait_for(lambda c: len(c.messages(room)) == 9)
        stayed = _summary(_fold({}, stayer.messages(room), bob_id))
        history = (await stayer.request("history", room=room))["messages"]
        assert _summary(_fold({}, history, bob_id)) == stayed

        back = await system.client(system.gateways[1], bob_token)
        try:
            caught_up = await back.request("join", room=room, since=since)
            assert caught_up["recovered"] is True
            assert [m["seq"] for m in caught_up["messages"]] == list(range(since + 1, 10))
            assert _summary(_fold(held, caught_up["messages"], bob_id)) == stayed
            # Again once the worker stored everything and the window lapsed: Postgres replays
            # the log with the deleted message's words erased, and the fold is the same.
            await _wait_stored(system, room, 9)
            await _forget_window(system, room)
            replayed = await back.request("join", room=room, since=since)
            erased_edit = next(m for m in replayed["messages"] if m["client_msg_id"] == "e1")
            assert erased_edit["deleted"] is True
            assert "body" not in erased_edit
            assert _summary(_fold(held, replayed["messages"], bob_id)) == stayed
            whole = await back.request("join", room=room, since=0)
            assert _summary(_fold({}, whole["messages"], bob_id)) == stayed
            assert whole["messages"][1] | {"ts": 0} == {
                "v": 1,
                "id": doomed["id"],
                "room": room,
                "seq": 2,
                "user": doomed["user"],
                "ts": 0,
                "client_msg_id": "doomed",
                "deleted": True,
            }
        finally:
            await back.close()


async def test_history_shows_the_same_current_state_before_and_after_the_worker_stored_it(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, ada_token), (_, bob_token) = await system.user("ada"), await system.user("bob")
    async with _joined_on_both(system, room, ada_token, bob_token) as (ada, bob):
        kept = await _send(ada, room, "kept")
        gone = await _send(bob, room, "gone")
        await _send(ada, room, "a reply", reply_to=gone["id"])
        await _event(ada, "edit", kept, "e1", body="kept, edited")
        await _event(bob, "react", kept, "r1", emoji="👍")
        await _event(ada, "react", kept, "r2", emoji="🎉")
        await _event(ada, "react", kept, "r3", emoji="👍")
        await _event(bob, "delete", gone, "d1")

        async def pages() -> dict[str, list[Message]]:
            ws = {
                who: (await client.request("history", room=room))["messages"]
                for who, client in (("ada", ada), ("bob", bob))
            }
            for who, token in (("ada-http", ada_token), ("bob-http", bob_token)):
                response = await system.http("GET", f"/v1/rooms/{room}/messages", token, gateway=1)
                assert response.status_code == 200
                ws[who] = response.json()["messages"]
            return ws

        early = await pages()
        assert early["ada"] == early["ada-http"]
        assert early["bob"] == early["bob-http"]
        for_ada = early["ada"]
        assert [m["seq"] for m in for_ada] == [1, 2, 3]
        assert for_ada[0]["body"] == "kept, edited"
        assert for_ada[0]["updated_seq"] == 7
        assert for_ada[0]["reactions"] == [
            {"emoji": "👍", "count": 2, "me": True},
            {"emoji": "🎉", "count": 1, "me": True},
        ]
        assert [r["me"] for r in early["bob"][0]["reactions"]] == [True, False]
        assert for_ada[1]["deleted"] is True
        assert "body" not in for_ada[1]
        assert for_ada[2]["reply_to"] == {"id": gone["id"], "user": gone["user"], "deleted": True}

        await _wait_stored(system, room, 8)
        await _forget_window(system, room)
        assert await pages() == early


async def test_refusals_over_the_wire_name_the_problem_and_store_nothing(
    system: ChatSystem,
) -> None:
    room, other = _room(), _room()
    (_, owner_token), (user_id, user_token) = await system.user("own"), await system.user("usr")
    assert (await system.http("POST", "/v1/rooms", owner_token, {"name": room})).status_code == 201
    async with _joined_on_both(system, room, owner_token, user_token) as (owner, user):
        await user.request("join", room=other)
        theirs = await _send(owner, room, "the owner's")
        mine = await _send(user, room, "mine")
        foreign = await _send(user, other, "elsewhere")
        codes = [
            (await _act(user, "edit", theirs, "x1", body="changed"))["code"],
            (await _act(user, "delete", theirs, "x2"))["code"],
            (await _act(user, "edit", mine | {"id": UNKNOWN}, "x3", body="?"))["code"],
            (await _act(user, "delete", foreign | {"room": room}, "x4"))["code"],
            (await _act(user, "react", mine, "x5", emoji="two words"))["code"],
            (await _act(user, "react", mine, "x6", emoji=":TOO_LOUD:"))["code"],
            (await user.command("edit", room=room, message_id="12", body="x", client_msg_id="x7"))[
                "code"
            ],
            (await user.command("delete", room=room, message_id=mine["id"]))["code"],
            (
                await user.command(
                    "send", room=room, body="re", client_msg_id="x8", reply_to=foreign["id"]
                )
            )["code"],
        ]
        assert codes == ["forbidden", "forbidden", "not_found", "not_found"] + [
            "bad_request"
        ] * 4 + ["not_found"]

        # Too many reactions: ten emoji a person, then one more is refused.
        emoji = ["😀", "😁", "😂", "🤣", "😃", "😄", "😅", "😆", "😉", "😊", "😋"]
        for n, one in enumerate(emoji[:10]):
            await _event(user, "react", theirs, f"re{n}", emoji=one)
        refused = await _act(user, "react", theirs, "re10", emoji=emoji[10])
        assert (refused["code"], refused["message"]) == (
            "bad_request",
            "a person may react with at most 10 emoji to one message",
        )

        until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        muted = await system.http(
            "POST", f"/v1/rooms/{room}/mutes", owner_token, {"user_id": user_id, "until": until}
        )
        assert muted.status_code == 201
        await asyncio.sleep(1.0)  # effective within a second on every gateway
        refused = await _act(user, "edit", mine, "m1", body="muted edit")
        assert refused["code"] == "forbidden"
        assert "muted" in refused["message"]
        # The owner may still delete the muted person's message.
        await _event(owner, "delete", mine, "o1")
        await _wait_stored(system, room, 13)
        await asyncio.sleep(0.3)
        assert await _stored_count(system, room) == 13  # 2 messages, 10 reactions, 1 delete


async def test_in_a_read_only_room_members_cannot_react_and_the_owner_can(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, owner_token), (_, reader_token) = await system.user("own"), await system.user("rdr")
    created = await system.http("POST", "/v1/rooms", owner_token, {"name": room, "read_only": True})
    assert created.status_code == 201
    async with _joined_on_both(system, room, owner_token, reader_token) as (owner, reader):
        notice = await _send(owner, room, "notice")
        refused = await _act(reader, "react", notice, "r1", emoji="👍")
        assert (refused["code"], refused["message"]) == ("forbidden", f"room {room} is read-only")
        assert (await _event(owner, "edit", notice, "e1", body="notice!"))["kind"] == "edit"


async def test_an_edit_after_the_edit_window_is_refused(system: ChatSystem) -> None:
    assert system.strict is not None  # its edit window is a second
    room = _room()
    _, token = await system.user("late")
    client = await ChatClient.open(system.ws_url(system.strict), token=token, origin=STRICT_ORIGIN)
    try:
        await client.request("join", room=room)
        message = await _send(client, room, "typo")
        assert (await _event(client, "edit", message, "e1", body="fixed"))["body"] == "fixed"
        await asyncio.sleep(1.2)
        refused = await _act(client, "edit", message, "e2", body="too late")
        assert (refused["code"], refused["message"]) == (
            "forbidden",
            "a message can be edited for 1.0 s after it was sent",
        )
    finally:
        await client.close()
