"""Hostile input gets a clear error and changes nothing (G4, G5, G6): a client_msg_id reused in
another room, JSON nested to exhaust the parser, unchecked path parameters, spoofing characters."""

from __future__ import annotations

import uuid

import asyncpg
import httpx
import pytest

from gateway_harness import ChatClient, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def test_a_client_msg_id_reused_in_another_room_is_refused_not_republished(
    system: ChatSystem,
) -> None:
    first, second = _room(), _room()
    _, token = await system.user("reuser")
    client = await system.client(system.gateways[0], token)
    try:
        await client.request("join", room=first)
        await client.request("join", room=second)
        sent = await client.request("send", room=first, body="for the first", client_msg_id="c1")
        refused = await client.command("send", room=second, body="elsewhere", client_msg_id="c1")
        assert refused["type"] == "error"
        assert refused["code"] == "bad_request"
        assert "another room" in refused["message"]
        again = await client.request("send", room=first, body="retry", client_msg_id="c1")
        assert again["message"] == sent["message"]  # the retry in its own room is still G4
        assert (await client.request("history", room=second))["messages"] == []
        assert client.messages(second) == []
    finally:
        await client.close()


@pytest.mark.parametrize("depth", [1_000, 30_000])
async def test_deeply_nested_frames_are_bad_requests_and_the_connection_stays(
    system: ChatSystem, depth: int
) -> None:
    _, token = await system.user("nester")
    client = await system.client(system.gateways[1], token)
    try:
        await client.send_raw('{"type":"ping","id":"deep","x":' + _nested(depth) + "}")
        await client.send_raw('{"type":"typing","room":"lobby","extra":' + _nested(depth) + "}")
        await client.wait_for(lambda c: len(c.events) >= 1)
        reply = await client.command("ping")
        assert reply["type"] == "reply"
        errors = [frame for frame in client.arrivals if frame["type"] == "error"]
        assert [(e["code"], e["message"]) for e in errors] == [
            ("bad_request", "frame is nested too deeply")
        ] * 2
    finally:
        await client.close()


async def test_deeply_nested_http_bodies_are_refused_clearly(system: ChatSystem) -> None:
    _, token = await system.user("nester")
    for body in ('{"name":' + _nested(1_000) + "}", _nested(2_000), '{"x":' + _nested(2_000) + "}"):
        refused = await system.http("POST", "/v1/rooms", token, content=body)
        assert refused.status_code == 422
        assert refused.json()["code"] == "bad_request"
        assert "Traceback" not in refused.text
    huge = await system.http("POST", "/v1/rooms", token, content=_nested(100_000))
    assert huge.status_code == 413
    assert huge.json()["code"] == "too_large"


async def test_path_parameters_are_checked_and_reads_write_nothing(system: ChatSystem) -> None:
    me, token = await system.user("pathfinder")
    friend, _ = await system.user("friend")
    never_opened = "dm:" + ":".join(sorted((me, friend)))
    for path in (
        "/v1/rooms/dm:/messages",
        "/v1/rooms/dm:a:/messages",
        "/v1/rooms/Bad%20Room/messages",
    ):
        refused = await system.http("GET", path, token)
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json()["code"] == "bad_request"
    spoof = "\u202egnp.exe"
    refused = await system.http("DELETE", f"/v1/rooms/{_room()}/members/{spoof}", token)
    assert refused.status_code == 422
    page = await system.http("GET", f"/v1/rooms/{never_opened}/messages", token)
    assert page.status_code == 200
    assert page.json() == {"messages": [], "has_more": False}
    connection = await asyncpg.connect(system.database_url)
    try:
        rows = await connection.fetchval(
            "SELECT count(*) FROM rooms WHERE id IN ($1, 'dm:', 'dm:a:')", never_opened
        )
    finally:
        await connection.close()
    assert rows == 0  # reading a conversation never creates it


async def test_a_query_parameter_given_as_null_is_refused_not_read_as_left_out(
    system: ChatSystem,
) -> None:
    _, token = await system.user("nullifier")
    room = _room()
    created = await system.http("POST", "/v1/rooms", token, json={"name": room})
    assert created.status_code == 201, created.text
    for path, name in (
        ("/v1/users?limit=null&limit=null", "limit"),
        (f"/v1/rooms/{room}/messages?before=null", "before"),
        (f"/v1/rooms/{room}/members?limit=null", "limit"),
        ("/v1/rooms?limit=null", "limit"),
        ("/v1/search?q=hello&limit=null", "limit"),
    ):
        refused = await system.http("GET", path, token)
        assert refused.status_code == 422, (path, refused.text)
        assert refused.json() == {
            "code": "bad_request",
            "message": f"`{name}` must have a value, not null",
        }


async def test_spoofing_characters_are_refused_in_names_and_inert_in_bodies(
    system: ChatSystem,
) -> None:
    room = _room()
    _, token = await system.user("spoofer")
    for name in ("room\u202eexe", "ro\u200dom", "room\u0085"):
        created = await system.http("POST", "/v1/rooms", token, json={"name": name})
        assert created.status_code == 422, name
    async with httpx.AsyncClient(base_url=system.auth_url) as auth:
        for name in ("admin\u202e", "ad\u200bmin", "adm\u0085in"):
            registered = await auth.post(
                "/v1/users", json={"username": name, "password": "pa55word!x"}
            )
            assert registered.status_code == 422, name
    assert (await system.http("POST", "/v1/rooms", token, json={"name": room})).status_code == 201
    reason = await system.http(
        "POST",
        f"/v1/rooms/{room}/bans",
        token,
        json={"user_id": str(uuid.uuid4()), "reason": "spam \u202egnp.exe"},
    )
    assert reason.status_code == 422

    client: ChatClient = await system.client(system.gateways[0], token)
    try:
        await client.request("join", room=room)
        for body in ("a\u0085b", "csi \u009b31m red"):
            refused = await client.command("send", room=room, body=body, client_msg_id=body)
            assert refused["code"] == "bad_request", body
        # Right-to-left text and emoji sequences are writing, not attacks: kept as sent.
        hebrew = "\u202b\u05e9\u05dc\u05d5\u05dd\u202c"
        family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
        words = f"{hebrew} {family} \u2067abc\u2069"
        sent = await client.request("send", room=room, body=words, client_msg_id="rtl")
        assert sent["message"]["body"] == words
        page = await client.request("history", room=room)
        assert [message["body"] for message in page["messages"]] == [words]
    finally:
        await client.close()
