from __future__ import annotations

import asyncio
import secrets

import httpx
from redis.asyncio import Redis

from auth_harness import RevocationFeed, login, refresh, register
from chat_common.revocation import is_revoked
from chat_common.tokens import JwksVerifier


async def test_a_refresh_spends_the_token_and_issues_a_new_pair_of_the_same_session(
    client: httpx.AsyncClient, verifier: JwksVerifier
) -> None:
    user = await register(client)
    first = await login(client, user["username"])
    response = await refresh(client, first["refresh_token"])
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    second = response.json()
    assert second["refresh_token"] != first["refresh_token"]
    before = await verifier.verify(first["access_token"])
    after = await verifier.verify(second["access_token"])
    assert after.sid == before.sid
    assert after.sub == user["id"]
    assert after.jti != before.jti
    third = await refresh(client, second["refresh_token"])
    assert third.status_code == 200


async def test_reusing_a_spent_token_revokes_the_whole_session(
    client: httpx.AsyncClient,
    verifier: JwksVerifier,
    redis: Redis,
    revocations: RevocationFeed,
) -> None:
    user = await register(client)
    stolen = await login(client, user["username"])
    rotated = (await refresh(client, stolen["refresh_token"])).json()
    other_login = await login(client, user["username"])

    replay = await refresh(client, stolen["refresh_token"])
    assert replay.status_code == 401
    assert "already used" in replay.json()["message"]

    revocation = await revocations.next_for(user["id"])
    claims = await verifier.verify(rotated["access_token"])
    assert revocation.sid == claims.sid
    assert revocation.reason == "refresh token reuse"
    # The successor issued before the reuse dies with its session, access token included.
    assert (await refresh(client, rotated["refresh_token"])).status_code == 401
    assert await is_revoked(redis, claims)
    # Another login of the same user is untouched.
    assert not await is_revoked(redis, await verifier.verify(other_login["access_token"]))
    assert (await refresh(client, other_login["refresh_token"])).status_code == 200


async def test_of_eight_concurrent_refreshes_with_one_token_exactly_one_wins(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    pair = await login(client, user["username"])
    responses = await asyncio.gather(*(refresh(client, pair["refresh_token"]) for _ in range(8)))
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 7
    # The losers presented a spent token: indistinguishable from theft, so the session ends.
    winner = next(response for response in responses if response.status_code == 200)
    assert (await refresh(client, winner.json()["refresh_token"])).status_code == 401


async def test_an_unknown_refresh_token_is_refused(client: httpx.AsyncClient) -> None:
    response = await refresh(client, secrets.token_urlsafe(32))
    assert response.status_code == 401
    assert response.json() == {"code": "unauthorized", "message": "refresh token is not valid"}


async def test_a_refresh_names_the_token_one_way_only(client: httpx.AsyncClient) -> None:
    for body in ({}, {"refresh_token": "abc", "cookie": True}, {"cookie": False}):
        response = await client.post("/v1/token/refresh", json=body)
        assert response.status_code == 422
        assert "either refresh_token or cookie" in response.json()["message"]
