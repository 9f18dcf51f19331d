"""Private rooms, DMs, moderation, presence, typing and revocation across two gateways (G6)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from gateway_harness import ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _name() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def _events(client: ChatClient, kind: str) -> list[dict[str, Any]]:
    return [event for event in client.events if event["type"] == kind]


async def test_a_private_room_is_for_its_members_only(system: ChatSystem) -> None:
    (_, owner_token), (member_id, member_token), (_, outsider_token) = (
        await system.user("owner"),
        await system.user("member"),
        await system.user("outsider"),
    )
    room = _name()
    created = await system.http("POST", "/v1/rooms", owner_token, {"name": room, "kind": "private"})
    assert created.status_code == 201, created.text
    assert (await system.http("POST", "/v1/rooms", owner_token, {"name": room})).status_code == 409
    owner = await system.client(system.gateways[0], owner_token)
    outsider = await system.client(system.gateways[1], outsider_token)
    try:
        await owner.request("join", room=room)
        await owner.request("send", room=room, body="secret", client_msg_id="p1")
        attempts: list[tuple[str, dict[str, Any]]] = [
            ("join", {}),
            ("join", {"since": 0}),
            ("history", {}),
            ("send", {"body": "let me in", "client_msg_id": "x"}),
        ]
        for kind, fields in attempts:
            assert (await outsider.command(kind, room=room, **fields))["code"] == "forbidden"
        http = await system.http("GET", f"/v1/rooms/{room}/messages", outsider_token, gateway=1)
        assert http.status_code == 403
        listed = await system.http("GET", "/v1/rooms", outsider_token)
        assert room not in {r["id"] for r in listed.json()["rooms"]}
        by_outsider = await system.http(
            "POST", f"/v1/rooms/{room}/members", outsider_token, {"user_id": "x"}
        )
        assert by_outsider.status_code == 403

        added = await system.http(
            "POST", f"/v1/rooms/{room}/members", owner_token, {"user_id": member_id}
        )
        assert added.status_code == 201
        member = await system.client(system.gateways[1], member_token)
        try:
            joined = await member.request("join", room=room, since=0)
            assert [m["body"] for m in joined["messages"]] == ["secret"]
            listed = await system.http("GET", "/v1/rooms", member_token)
            assert room in {r["id"] for r in listed.json()["rooms"]}
        finally:
            await member.close()
    finally:
        await owner.close()
        await outsider.close()


async def test_a_dm_is_only_for_its_two_users_even_when_a_third_guesses_its_id(
    system: ChatSystem,
) -> None:
    (a_id, a_token), (b_id, b_token), (_, c_token) = (
        await system.user("a"),
        await system.user("b"),
        await system.user("c"),
    )
    room = f"dm:{min(a_id, b_id)}:{max(a_id, b_id)}"
    a = await system.client(system.gateways[0], a_token)
    b = await system.client(system.gateways[1], b_token)
    c = await system.client(system.gateways[1], c_token)
    try:
        await a.request("join", room=room)
        await b.request("join", room=room)
        await a.request("send", room=room, body="just us", client_msg_id="d1")
        await b.wait_for(lambda client: len(client.messages(room)) == 1)
        for kind, fields in (
            ("join", {}),
            ("join", {"since": 0}),
            ("history", {}),
            ("send", {"body": "hi", "client_msg_id": "x"}),
        ):
            assert (await c.command(kind, room=room, **fields))["code"] == "forbidden"
        reversed_id = f"dm:{max(a_id, b_id)}:{min(a_id, b_id)}"
        assert (await c.command("join", room=reversed_id))["code"] == "bad_request"
        http = await system.http("GET", f"/v1/rooms/{room}/messages", c_token)
        assert http.status_code == 403
        for token, visible in ((a_token, True), (b_token, True), (c_token, False)):
            rooms = (await system.http("GET", "/v1/rooms", token)).json()["rooms"]
            assert (room in {r["id"] for r in rooms}) is visible
    finally:
        for client in (a, b, c):
            await client.close()


async def test_mute_unmute_kick_and_ban_take_effect_on_the_other_gateway(
    system: ChatSystem,
) -> None:
    (_, mod_token), (user_id, user_token) = await system.user("mod"), await system.user("user")
    room = _name()
    assert (await system.http("POST", "/v1/rooms", mod_token, {"name": room})).status_code == 201
    user = await system.client(system.gateways[1], user_token)
    try:
        await user.request("join", room=room)
        until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
        muted = await system.http(
            "POST",
            f"/v1/rooms/{room}/mutes",
            mod_token,
            {"user_id": user_id, "until": until},
        )
        assert muted.status_code == 201
        await asyncio.sleep(1.0)  # effective within a second on every gateway
        refused = await user.command("send", room=room, body="hello?", client_msg_id="m1")
        assert refused["code"] == "forbidden"
        assert "muted" in refused["message"]

        unmuted = await system.http("DELETE", f"/v1/rooms/{room}/mutes/{user_id}", mod_token)
        assert unmuted.status_code == 204
        await asyncio.sleep(1.0)
        assert (await user.command("send", room=room, body="back", client_msg_id="m2"))[
            "type"
        ] == "reply"

        kicked = await system.http("DELETE", f"/v1/rooms/{room}/members/{user_id}", mod_token)
        assert kicked.status_code == 204
        await user.wait_for(lambda c: bool(_events(c, "kicked")), limit_s=1.0)
        assert _events(user, "kicked")[0] == {
            "type": "kicked",
            "room": room,
            "reason": "removed from the room",
        }
        await user.request("join", room=room)  # a public room: a kick is not a ban

        banned = await system.http(
            "POST",
            f"/v1/rooms/{room}/bans",
            mod_token,
            {"user_id": user_id, "reason": "spam"},
        )
        assert banned.status_code == 201
        await user.wait_for(lambda c: len(_events(c, "kicked")) == 2, limit_s=1.0)
        assert (await user.command("join", room=room))["code"] == "forbidden"
        assert (await user.command("send", room=room, body="x", client_msg_id="m3"))[
            "code"
        ] == "forbidden"

        by_user = await system.http("DELETE", f"/v1/rooms/{room}/bans/{user_id}", user_token)
        assert by_user.status_code == 403
        assert (
            await system.http("DELETE", f"/v1/rooms/{room}/bans/{user_id}", mod_token)
        ).status_code == 204
        await asyncio.sleep(1.0)
        await user.request("join", room=room)

        trail = await system.http("GET", f"/v1/rooms/{room}/audit", mod_token)
        actions = [entry["action"] for entry in trail.json()["entries"]]
        assert actions == ["unban", "ban", "kick", "unmute", "mute", "create_room"]
    finally:
        await user.close()


async def test_a_read_only_room_takes_posts_from_its_moderators_only(system: ChatSystem) -> None:
    (_, owner_token), (mod_id, mod_token), (_, reader_token) = (
        await system.user("owner"),
        await system.user("mod"),
        await system.user("reader"),
    )
    room = _name()
    created = await system.http("POST", "/v1/rooms", owner_token, {"name": room, "read_only": True})
    assert created.status_code == 201
    promoted = await system.http(
        "POST",
        f"/v1/rooms/{room}/members",
        owner_token,
        {"user_id": mod_id, "role": "moderator"},
    )
    assert promoted.status_code == 201
    clients = [
        await system.client(system.gateways[i % 2], t)
        for i, t in enumerate((owner_token, mod_token, reader_token))
    ]
    try:
        for client in clients:
            await client.request("join", room=room)
        owner, mod, reader = clients
        assert (await owner.command("send", room=room, body="a", client_msg_id="1"))[
            "type"
        ] == "reply"
        assert (await mod.command("send", room=room, body="b", client_msg_id="2"))[
            "type"
        ] == "reply"
        refused = await reader.command("send", room=room, body="c", client_msg_id="3")
        assert refused["code"] == "forbidden"
        await reader.wait_for(lambda c: len(c.messages(room)) == 2)
    finally:
        for client in clients:
            await client.close()


async def test_presence_follows_the_last_tab_across_gateways(system: ChatSystem) -> None:
    room = _name()
    (watcher_id, watcher_token), (user_id, user_token) = (
        await system.user("watcher"),
        await system.user("tabs"),
    )
    watcher = await system.client(system.gateways[0], watcher_token)
    tab_a = await system.client(system.gateways[0], user_token)
    tab_b = await system.client(system.gateways[1], user_token)
    try:
        await watcher.request("join", room=room)
        joined = await tab_a.request("join", room=room)
        assert {u["id"] for u in joined["online"]} == {watcher_id, user_id}
        await tab_b.request("join", room=room)

        def states(client: ChatClient) -> list[str]:
            return [e["state"] for e in _events(client, "presence") if e["user"]["id"] == user_id]

        await watcher.wait_for(lambda c: bool(states(c)))
        await asyncio.sleep(0.5)
        assert states(watcher) == ["online"]  # the second tab is not news

        await tab_a.request("leave", room=room)
        await asyncio.sleep(0.5)
        assert states(watcher) == ["online"]
        online = await watcher.request("presence", room=room)
        assert user_id in {u["id"] for u in online["online"]}

        await tab_b.close()  # the last tab goes
        await watcher.wait_for(lambda c: len(states(c)) == 2)
        assert states(watcher) == ["online", "offline"]
        online = await watcher.request("presence", room=room)
        assert {u["id"] for u in online["online"]} == {watcher_id}
    finally:
        for client in (watcher, tab_a, tab_b):
            await client.close()


@pytest.mark.slow
async def test_users_of_a_killed_gateway_go_offline_within_the_ttl(system: ChatSystem) -> None:
    from gateway_harness import gateway_process

    room = _name()
    doomed = gateway_process(system, "gateway-doomed")
    await doomed.start()
    (_, watcher_token), (victim_id, victim_token) = await system.user("w"), await system.user("v")
    watcher = await system.client(system.gateways[0], watcher_token)
    victim = await system.client(doomed, victim_token)
    try:
        await watcher.request("join", room=room)
        await victim.request("join", room=room)
        await doomed.kill()
        loop = asyncio.get_running_loop()
        killed_at = loop.time()
        await watcher.wait_for(
            lambda c: any(e["state"] == "offline" for e in _events(c, "presence")), limit_s=30
        )
        # TTL 6 s + sweep 1 s here (60 s + 15 s in production: within 90 s).
        assert loop.time() - killed_at < 20
        offline = [e for e in _events(watcher, "presence") if e["state"] == "offline"]
        assert offline[0]["user"]["id"] == victim_id
    finally:
        await watcher.close()
        await victim.close()
        await doomed.stop()


async def test_typing_is_throttled_and_reaches_only_the_rooms_members(system: ChatSystem) -> None:
    room, other_room = _name(), _name()
    (_, typer_token), (_, member_token), (_, stranger_token) = (
        await system.user("typer"),
        await system.user("member"),
        await system.user("stranger"),
    )
    typer = await system.client(system.gateways[0], typer_token)
    member = await system.client(system.gateways[1], member_token)
    stranger = await system.client(system.gateways[1], stranger_token)
    try:
        await typer.request("join", room=room)
        await member.request("join", room=room)
        await stranger.request("join", room=other_room)
        assert (await stranger.command("typing", room=room))["code"] == "forbidden"
        for _ in range(5):
            await typer.request("typing", room=room)
        await member.wait_for(lambda c: bool(_events(c, "typing")))
        await asyncio.sleep(1.0)
        assert len(_events(member, "typing")) == 1  # one per user and room every 2 s
        assert _events(member, "typing")[0]["room"] == room
        await asyncio.sleep(1.5)
        await typer.request("typing", room=room)
        await member.wait_for(lambda c: len(_events(c, "typing")) == 2)
        assert _events(stranger, "typing") == []
    finally:
        for client in (typer, member, stranger):
            await client.close()


async def test_logout_everywhere_closes_the_users_sockets_on_both_gateways(
    system: ChatSystem,
) -> None:
    _, token = await system.user("leaver")
    first = await system.client(system.gateways[0], token)
    second = await system.client(system.gateways[1], token)
    try:
        async with httpx.AsyncClient(base_url=system.auth_url) as http:
            response = await http.post(
                "/v1/logout", json={"all": True}, headers={"Authorization": f"Bearer {token}"}
            )
            assert response.status_code == 204
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await first.wait_closed(limit_s=5) == (4001, "session revoked")
        assert await second.wait_closed(limit_s=5) == (4001, "session revoked")
        assert loop.time() - started < 2.0
        again = await ChatClient.open(system.ws_url(system.gateways[0]), origin="https://chat.test")
        try:
            refused = await again.command("connect", token=token)
            assert refused["code"] == "unauthorized"
        finally:
            await again.close()
    finally:
        await first.close()
        await second.close()


async def test_a_join_is_answered_before_the_events_it_causes(system: ChatSystem) -> None:
    room = _name()
    _, token = await system.user("first")
    client = await system.client(system.gateways[0], token)
    try:
        await client.request("join", room=room)
        await client.wait_for(lambda c: bool(_events(c, "presence")))
        kinds = [frame["type"] for frame in client.arrivals]
        assert kinds.index("reply", 1) < kinds.index("presence")  # after connect's reply
    finally:
        await client.close()
