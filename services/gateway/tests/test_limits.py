"""Every refusal of docs/protocol.md this gateway makes, triggered on purpose (G5, G6)."""

from __future__ import annotations

import asyncio
import socket
import uuid
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from chat_testing.processes import ServiceProcess
from gateway_harness import ORIGIN, STRICT_ORIGIN, ChatClient, ChatSystem, gateway_process

pytestmark = pytest.mark.asyncio(loop_scope="session")


def _room() -> str:
    return f"room-{uuid.uuid4().hex[:12]}"


async def _strict(system: ChatSystem, token: str | None, **options: Any) -> ChatClient:
    assert system.strict is not None
    return await ChatClient.open(
        system.ws_url(system.strict), token=token, origin=STRICT_ORIGIN, **options
    )


async def test_a_foreign_origin_is_refused_at_the_handshake(system: ChatSystem) -> None:
    assert system.strict is not None
    with pytest.raises(InvalidStatus) as refused:
        await connect(system.ws_url(system.strict), additional_headers={"Origin": ORIGIN})
    assert refused.value.response.status_code == 403
    native = await ChatClient.open(system.ws_url(system.strict))  # no Origin: a native app
    try:
        assert (await native.command("ping"))["type"] == "error"  # must connect first
    finally:
        await native.close()


async def test_no_connect_within_the_timeout_closes_with_4009(system: ChatSystem) -> None:
    client = await _strict(system, None)
    try:
        assert await client.wait_closed() == (4009, "connect timeout")
    finally:
        await client.close()


async def test_a_command_before_connect_is_unauthorized_and_closes_with_4001(
    system: ChatSystem,
) -> None:
    client = await _strict(system, None)
    try:
        reply = await client.command("join", room="lobby")
        assert reply["code"] == "unauthorized"
        assert (await client.wait_closed())[0] == 4001
    finally:
        await client.close()


@pytest.mark.parametrize("token", ["not-a-jwt", "e30.e30.e30", ""])
async def test_a_bad_token_is_unauthorized_and_closes_with_4001(
    system: ChatSystem, token: str
) -> None:
    client = await _strict(system, None)
    try:
        reply = await client.command("connect", token=token)
        assert reply["type"] == "error"
        assert reply["code"] == "unauthorized"
        assert (await client.wait_closed())[0] == 4001
    finally:
        await client.close()


async def test_malformed_frames_get_bad_request_and_the_connection_stays_open(
    system: ChatSystem,
) -> None:
    _, token = await system.user("sloppy")
    client = await _strict(system, token)
    try:
        await client.send_raw("{not json")
        await client.send_raw('{"type":"teleport","id":"t1"}')
        await client.send_raw('{"type":"join","id":"j1"}')
        await client.send_raw(
            '{"type":"send","id":"s1","room":"lobby","body":5,"client_msg_id":"x"}'
        )
        await client.wait_for(lambda c: len(c.events) == 4)
        assert [e["code"] for e in client.events] == ["bad_request"] * 4
        assert [e.get("id") for e in client.events] == [None, "t1", "j1", "s1"]
        assert "unknown command type" in client.events[1]["message"]
        assert "room" in client.events[2]["message"]
        assert (await client.command("ping"))["type"] == "reply"
    finally:
        await client.close()


async def test_repeated_malformed_frames_close_with_4008(system: ChatSystem) -> None:
    _, token = await system.user("abuser")
    client = await _strict(system, token)
    try:
        for _ in range(40):
            await client.send_raw("garbage")
        assert await client.wait_closed() == (4008, "too many malformed frames")
    finally:
        await client.close()


async def test_a_binary_frame_closes_with_1003(system: ChatSystem) -> None:
    _, token = await system.user("binary")
    client = await _strict(system, token)
    try:
        await client.send_raw(b"\x00\x01")
        assert (await client.wait_closed())[0] == 1003
    finally:
        await client.close()


async def test_invalid_utf8_closes_with_1007(system: ChatSystem) -> None:
    _, token = await system.user("mojibake")
    client = await _strict(system, token)
    try:
        await client.connection.send(b'{"type":"ping","x":"\xff"}', text=True)
        assert (await client.wait_closed())[0] == 1007
    finally:
        await client.close()


async def test_a_frame_over_the_limit_closes_with_1009(system: ChatSystem) -> None:
    _, token = await system.user("big")
    client = await _strict(system, token)
    try:
        await client.send_raw('{"type":"ping","pad":"' + "x" * 9000 + '"}')
        assert (await client.wait_closed())[0] == 1009
    finally:
        await client.close()


async def test_bodies_are_bounded_and_plain_text(system: ChatSystem) -> None:
    room = _room()
    _, token = await system.user("writer")
    client = await _strict(system, token)
    try:
        await client.request("join", room=room)
        too_long = await client.command("send", room=room, body="x" * 501, client_msg_id="l")
        assert too_long["code"] == "too_large"
        control = await client.command("send", room=room, body="bell\x07", client_msg_id="c")
        assert control["code"] == "bad_request"
        empty = await client.command("send", room=room, body="", client_msg_id="e")
        assert empty["code"] == "bad_request"
        fine = await client.command("send", room=room, body="tab\tand\nnewline", client_msg_id="f")
        assert fine["type"] == "reply"
    finally:
        await client.close()


async def test_sending_too_fast_is_rate_limited_and_flooding_closes_with_4008(
    system: ChatSystem,
) -> None:
    room = _room()
    _, token = await system.user("flooder")
    client = await _strict(system, token)
    try:
        await client.request("join", room=room)
        replies = [
            await client.command("send", room=room, body="spam", client_msg_id=f"f{n}")
            for n in range(14)
        ]
        limited = [r for r in replies if r["type"] == "error"]
        assert limited, "a burst over the limit must be refused"
        assert {r["code"] for r in limited} == {"rate_limited"}
        assert all(r["retry_after_ms"] > 0 for r in limited)
        for n in range(30):
            await client.send_raw(
                f'{{"type":"send","room":"{room}","body":"spam","client_msg_id":"g{n}"}}'
            )
        assert await client.wait_closed() == (4008, "flooding")
    finally:
        await client.close()


async def test_connections_per_user_are_limited_with_4008(system: ChatSystem) -> None:
    _, token = await system.user("tabs")
    clients = [await _strict(system, token) for _ in range(3)]
    extra = await _strict(system, None)
    try:
        reply = await extra.command("connect", token=token)
        assert reply["type"] == "error"
        assert await extra.wait_closed() == (4008, "too many connections for this user")
        await clients[0].close()
        await asyncio.sleep(0.3)
        again = await _strict(system, token)  # a closed tab frees its place
        await again.close()
    finally:
        for client in [*clients, extra]:
            await client.close()


async def test_connections_per_address_count_the_client_a_trusted_proxy_names(
    system: ChatSystem,
) -> None:
    # nginx on this host is trusted; a peer at 127.0.0.2 is not, whatever it claims.
    gateway = gateway_process(
        system,
        "gateway-proxied",
        CHAT_GATEWAY_TRUSTED_PROXIES="127.0.0.1",
        CHAT_GATEWAY_MAX_CONNECTIONS_PER_IP="2",
    )
    await gateway.start()
    token = (await system.token_signer())("u-proxied", "proxied")
    url = system.ws_url(gateway)
    opened: list[ChatClient] = []

    async def from_(forwarded: str, *, peer: str = "127.0.0.1", admitted: bool) -> None:
        client = await ChatClient.open(
            url,
            origin=ORIGIN,
            headers={"X-Forwarded-For": forwarded},
            local_addr=(peer, 0),
            token=token if admitted else None,
        )
        opened.append(client)
        if not admitted:
            assert await client.wait_closed() == (4008, "too many connections from this address")

    try:
        for browser in ("203.0.113.1", "203.0.113.2"):  # two people behind the balancer
            await from_(browser, admitted=True)
            await from_(f"198.51.100.7, {browser}", admitted=True)  # the rightmost counts
            await from_(browser, admitted=False)
        await from_("203.0.113.10", peer="127.0.0.2", admitted=True)  # forged: ignored
        await from_("203.0.113.11", peer="127.0.0.2", admitted=True)
        await from_("203.0.113.12", peer="127.0.0.2", admitted=False)
    finally:
        for client in opened:
            await client.close()
        await gateway.stop()


async def _overflows(system: ChatSystem) -> float:
    assert system.strict is not None
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"{system.http_url(system.strict)}/metrics")).text
    for line in text.splitlines():
        if line.startswith("chat_gateway_outbound_overflows_total "):
            return float(line.split()[1])
    return 0.0


async def test_a_reader_that_never_reads_is_closed_with_4008_and_others_keep_receiving(
    system: ChatSystem,
) -> None:
    room = _room()
    (_, slow_token), (_, fast_token), (_, sender_token) = (
        await system.user("slow"),
        await system.user("fast"),
        await system.user("loud"),
    )
    assert system.strict is not None
    # A small receive window, set before connecting so the peer sees it from the start.
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", int(system.strict.env["CHAT_GATEWAY_WS_PORT"])))
    slow = await _strict(system, slow_token, sock=sock)
    fast = await system.client(system.gateways[0], fast_token)
    sender = await system.client(system.gateways[1], sender_token)
    try:
        await slow.request("join", room=room)
        await fast.request("join", room=room)
        overflows_before = await _overflows(system)
        slow.connection.transport.pause_reading()  # the slow reader stops reading
        body = "x" * 3000
        sent = 0
        while sent < 3000:
            await sender.request("send", room=room, body=body, client_msg_id=f"s{sent}")
            sent += 1
            if sent % 20 == 0 and await _overflows(system) > overflows_before:
                break
        # The others got every message while the slow reader was stuck.
        await fast.wait_for(lambda c: len(c.messages(room)) == sent)
        slow.connection.transport.resume_reading()
        assert await slow.wait_closed(limit_s=30) == (4008, "slow consumer")
        assert sent < 3000
    finally:
        for client in (slow, fast, sender):
            await client.close()


async def test_the_http_routes_refuse_clearly(system: ChatSystem) -> None:
    user_id, token = await system.user("visitor")
    auth = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=system.http_url(system.gateways[0])) as http:
        assert (await http.get("/v1/rooms")).status_code == 401
        bad = await http.get("/v1/rooms", headers={"Authorization": "Bearer nope"})
        assert bad.status_code == 401
        assert bad.json()["code"] == "unauthorized"
        missing = await http.get(f"/v1/rooms/{_room()}/messages", headers=auth)
        assert missing.status_code == 404
        others = await http.get("/v1/rooms/dm:x0:x1/messages", headers=auth)
        assert others.status_code == 403
        invalid = await http.get("/v1/rooms/lobby/messages?limit=500", headers=auth)
        assert invalid.status_code == 422
        nobody = await http.get(f"/v1/rooms/dm:{user_id}:zzzz/messages", headers=auth)
        assert nobody.status_code == 404  # a DM needs two people who exist
        friend, _ = await system.user("friend")
        mine = await http.get(
            f"/v1/rooms/dm:{':'.join(sorted((user_id, friend)))}/messages", headers=auth
        )
        assert mine.status_code == 200


async def test_sigterm_drains_with_a_reconnect_event_then_1012(system: ChatSystem) -> None:
    gateway: ServiceProcess = gateway_process(system, "gateway-drain")
    await gateway.start()
    _, token = await system.user("drained")
    client = await system.client(gateway, token)
    try:
        gateway.signal(15)
        await client.wait_for(lambda c: any(e["type"] == "reconnect" for e in c.events))
        assert (await client.wait_closed())[0] == 1012
        assert await gateway.wait_exit(20) == 0
    finally:
        await client.close()
        await gateway.stop()


@pytest.mark.slow
async def test_an_expired_token_closes_with_4001_unless_refreshed_first(
    system: ChatSystem,
) -> None:
    _, name = await system.register("expiring")
    lapsing = await system.client(system.gateways[0], await system.login(name, short_lived=True))
    renewed = await system.client(system.gateways[1], await system.login(name, short_lived=True))
    try:
        await asyncio.sleep(20)
        fresh = await system.login(name)
        reply = await renewed.request("refresh", token=fresh)
        assert reply["expires_at"].endswith("Z")
        _, other_token = await system.user("someone-else")
        refused = await renewed.command("refresh", token=other_token)
        assert refused["code"] == "unauthorized"
        assert await lapsing.wait_closed(limit_s=30) == (4001, "token_expired")
        assert (await renewed.command("ping"))["type"] == "reply"
    finally:
        await lapsing.close()
        await renewed.close()


async def test_a_peer_that_stops_answering_pings_is_closed(system: ChatSystem) -> None:
    gateway = gateway_process(
        system, "gateway-ping", CHAT_GATEWAY_PING_INTERVAL_S="1", CHAT_GATEWAY_PING_TIMEOUT_S="1"
    )
    await gateway.start()
    _, token = await system.user("silent")
    client = await system.client(gateway, token)
    try:
        client.connection.transport.pause_reading()  # pings go unanswered from now on
        await asyncio.sleep(4)
        client.connection.transport.resume_reading()
        code, _ = await client.wait_closed(limit_s=10)
        assert code == 1001  # going away: the peer stopped answering pings
    finally:
        await client.close()
        await gateway.stop()
