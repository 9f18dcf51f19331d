"""Moderation respects rank, and flooding is flooding however it is interleaved (G6, G5)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from gateway_harness import STRICT_ORIGIN, ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _http(
    system: ChatSystem, method: str, path: str, token: str, body: Any = None
) -> httpx.Response:
    async with httpx.AsyncClient(base_url=system.http_url(system.gateways[0])) as http:
        return await http.request(
            method, path, json=body, headers={"Authorization": f"Bearer {token}"}
        )


async def test_a_moderator_cannot_act_on_the_owner_or_an_equal(system: ChatSystem) -> None:
    (owner_id, owner_token), (mod_id, mod_token), (other_mod_id, _), (member_id, _) = [
        await system.user(kind) for kind in ("owner", "mod", "othermod", "member")
    ]
    room = f"room-{uuid.uuid4().hex[:12]}"
    assert (
        await _http(system, "POST", "/v1/rooms", owner_token, {"name": room})
    ).status_code == 201
    for user_id in (mod_id, other_mod_id):
        promoted = await _http(
            system,
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
            refused = await _http(system, method, path, mod_token, body)
            assert refused.status_code == 403, (method, path, target, refused.text)
            assert "rank" in refused.json()["message"]
    granted = await _http(
        system,
        "POST",
        f"/v1/rooms/{room}/members",
        mod_token,
        {"user_id": member_id, "role": "moderator"},
    )
    assert granted.status_code == 403  # a moderator makes members, not moderators
    assert (
        await _http(
            system,
            "POST",
            f"/v1/rooms/{room}/mutes",
            mod_token,
            {"user_id": member_id, "until": until},
        )
    ).status_code == 201
    assert (
        await _http(system, "DELETE", f"/v1/rooms/{room}/members/{other_mod_id}", owner_token)
    ).status_code == 204  # the owner outranks a moderator
    nobody = str(uuid.uuid4())
    missing = await _http(
        system, "POST", f"/v1/rooms/{room}/members", owner_token, {"user_id": nobody}
    )
    assert missing.status_code == 404
    trail = await _http(system, "GET", f"/v1/rooms/{room}/audit", owner_token)
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
