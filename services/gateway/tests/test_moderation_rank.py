"""Moderation respects rank, and flooding is flooding however it is interleaved (G6, G5)."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from websockets.exceptions import ConnectionClosed

from gateway_harness import STRICT_ORIGIN, ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def test_a_moderator_cannot_act_on_the_owner_or_an_equal(system: ChatSystem) -> None:
    (owner_id, owner_token), (mod_id, mod_token), (other_mod_id, _), (member_id, _) = [
        await system.user(kind) for kind in ("owner", "mod", "othermod", "member")
    ]
    room = f"room-{uuid.uuid4().hex[:12]}"
    assert (await system.http("POST", "/v1/rooms", owner_token, {"name": room})).status_code == 201
    for user_id in (mod_id, other_mod_id):
        promoted = await system.http(
            "POST",
            f"/v1/rooms/{room}/members",
            owner_token,
            {"user_id": user_id, "role": "moderator"},
        )
        assert promoted.status_code == 201, promoted.text
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    for target in (owner_id, other_mod_id):
        attempts = [
            ("POST", f"/v1/rooms/{room}/bans", {"user_id": target, "reason": "coup"}),
            ("POST", f"/v1/rooms/{room}/mutes", {"user_id": target, "until": until}),
            ("DELETE", f"/v1/rooms/{room}/members/{target}", None),
            ("POST", f"/v1/rooms/{room}/members", {"user_id": target, "role": "member"}),
        ]
        for method, path, body in attempts:
            refused = await system.http(method, path, mod_token, body)
            assert refused.status_code == 403, (method, path, target, refused.text)
            assert "rank" in refused.json()["message"]
    granted = await system.http(
        "POST",
        f"/v1/rooms/{room}/members",
        mod_token,
        {"user_id": member_id, "role": "moderator"},
    )
    assert granted.status_code == 403  # a moderator makes members, not moderators
    assert (
        await system.http(
            "POST",
            f"/v1/rooms/{room}/mutes",
            mod_token,
            {"user_id": member_id, "until": until},
        )
    ).status_code == 201
    assert (
        await system.http("DELETE", f"/v1/rooms/{room}/members/{other_mod_id}", owner_token)
    ).status_code == 204  # the owner outranks a moderator
    nobody = str(uuid.uuid4())
    missing = await system.http(
        "POST", f"/v1/rooms/{room}/members", owner_token, {"user_id": nobody}
    )
    assert missing.status_code == 404
    trail = await system.http("GET", f"/v1/rooms/{room}/audit", owner_token)
    actions = [entry["action"] for entry in trail.json()["entries"]]
    assert "ban" not in actions  # no refused step left a trace


async def test_flooding_interleaved_with_pings_still_closes_with_4008(system: ChatSystem) -> None:
    room = f"room-{uuid.uuid4().hex[:12]}"
    _, token = await system.user("sneaky")
    assert system.strict is not None
    client = await ChatClient.open(system.ws_url(system.strict), token=token, origin=STRICT_ORIGIN)
    try:
        await client.request("join", room=room)
        for n in range(200):
            try:
                await client.send_raw(
                    f'{{"type":"send","room":"{room}","body":"spam","client_msg_id":"i{n}"}}'
                )
                await client.send_raw('{"type":"ping"}')  # a success after every refusal
            except ConnectionClosed:
                break
        assert await client.wait_closed() == (4008, "flooding")
    finally:
        await client.close()


async def _grant(system: ChatSystem, username: str, role: str) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_auth.admin",
        "grant",
        username,
        role,
        env={
            **os.environ,
            "CHAT_AUTH_DATABASE_URL": system.database_url,
            "CHAT_AUTH_REDIS_URL": system.redis_url,
        },
        stdout=asyncio.subprocess.DEVNULL,
    )
    assert await process.wait() == 0


async def test_global_staff_outrank_room_owners_but_read_no_direct_messages(
    system: ChatSystem,
) -> None:
    (owner_id, owner_token), (staff_id, _), (admin_id, _) = [
        await system.user(kind) for kind in ("owner", "globalmod", "admin")
    ]
    staff_name, admin_name = await _username(system, staff_id), await _username(system, admin_id)
    await _grant(system, staff_name, "moderator")
    await _grant(system, admin_name, "admin")
    staff_token, admin_token = await system.login(staff_name), await system.login(admin_name)
    room = f"room-{uuid.uuid4().hex[:12]}"
    created = await system.http("POST", "/v1/rooms", owner_token, {"name": room})
    assert created.status_code == 201
    until = (datetime.now(UTC) + timedelta(minutes=5)).isoformat()
    muted = await system.http(
        "POST",
        f"/v1/rooms/{room}/mutes",
        staff_token,
        {"user_id": owner_id, "until": until},
    )
    assert muted.status_code == 201  # a global moderator outranks the room's owner
    refused = await system.http(
        "POST", f"/v1/rooms/{room}/bans", owner_token, {"user_id": staff_id}
    )
    assert refused.status_code == 403  # and the owner cannot ban a global moderator
    refused = await system.http(
        "POST", f"/v1/rooms/{room}/bans", staff_token, {"user_id": admin_id}
    )
    assert refused.status_code == 403

    dm = "dm:" + ":".join(sorted((owner_id, staff_id)))
    admin = await system.client(system.gateways[0], admin_token)
    try:
        for kind in ("join", "history"):
            assert (await admin.command(kind, room=dm))["code"] == "forbidden", kind
    finally:
        await admin.close()
    page = await system.http("GET", f"/v1/rooms/{dm}/messages", admin_token)
    assert page.status_code == 403


async def _username(system: ChatSystem, user_id: str) -> str:
    connection = await asyncpg.connect(system.database_url)
    try:
        name: str = await connection.fetchval(
            "SELECT username FROM users WHERE id = $1", uuid.UUID(user_id)
        )
    finally:
        await connection.close()
    return name
