"""A logged-out or revoked login session is refused everywhere a token is accepted (G6): the
HTTP routes and the WebSocket ``refresh`` as well as ``connect``."""

from __future__ import annotations

import httpx
import pytest

from gateway_harness import PASSWORD, ChatSystem

pytestmark = pytest.mark.asyncio(loop_scope="session")


async def _login(system: ChatSystem, username: str) -> dict[str, str]:
    async with httpx.AsyncClient(base_url=system.auth_url, timeout=10.0) as auth:
        pair = await auth.post("/v1/token", json={"username": username, "password": PASSWORD})
        assert pair.status_code == 200, pair.text
        return dict(pair.json())


async def _logout(system: ChatSystem, refresh_token: str) -> None:
    async with httpx.AsyncClient(base_url=system.auth_url, timeout=10.0) as auth:
        ended = await auth.post("/v1/logout", json={"refresh_token": refresh_token})
        assert ended.status_code == 204, ended.text


async def test_the_http_routes_refuse_a_token_of_a_logged_out_session(system: ChatSystem) -> None:
    _, name = await system.register("leaver")
    session = await _login(system, name)
    bearer = {"Authorization": f"Bearer {session['access_token']}"}
    async with httpx.AsyncClient(base_url=system.http_url(system.gateways[0])) as http:
        assert (await http.get("/v1/rooms", headers=bearer)).status_code == 200
        await _logout(system, session["refresh_token"])
        for path in ("/v1/rooms", "/v1/rooms/lobby/messages"):
            refused = await http.get(path, headers=bearer)
            assert refused.status_code == 401, path
            assert refused.json()["code"] == "unauthorized"
        created = await http.post("/v1/rooms", headers=bearer, json={"name": "after-logout"})
        assert created.status_code == 401


async def test_the_http_routes_refuse_a_session_revoked_for_refresh_token_reuse(
    system: ChatSystem,
) -> None:
    _, name = await system.register("reuser")
    session = await _login(system, name)
    async with httpx.AsyncClient(base_url=system.auth_url, timeout=10.0) as auth:
        rotated = await auth.post(
            "/v1/token/refresh", json={"refresh_token": session["refresh_token"]}
        )
        assert rotated.status_code == 200
        reused = await auth.post(
            "/v1/token/refresh", json={"refresh_token": session["refresh_token"]}
        )
        assert reused.status_code == 401  # a stolen token replayed: the whole login ends
    fresh = rotated.json()["access_token"]
    async with httpx.AsyncClient(base_url=system.http_url(system.gateways[1])) as http:
        refused = await http.get("/v1/rooms", headers={"Authorization": f"Bearer {fresh}"})
        assert refused.status_code == 401


async def test_refresh_over_websocket_refuses_a_token_of_a_revoked_session(
    system: ChatSystem,
) -> None:
    _, name = await system.register("refresher")
    first = await _login(system, name)
    second = await _login(system, name)
    client = await system.client(system.gateways[0], first["access_token"])
    try:
        await _logout(system, second["refresh_token"])
        refused = await client.command("refresh", token=second["access_token"])
        assert refused["type"] == "error"
        assert refused["code"] == "unauthorized"
        assert "revoked" in refused["message"]
        # The connection's own session is untouched and keeps working.
        assert (await client.request("refresh", token=first["access_token"]))["type"] == "reply"
        assert (await client.command("ping"))["type"] == "reply"
    finally:
        await client.close()
