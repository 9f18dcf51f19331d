from __future__ import annotations

import httpx
from redis.asyncio import Redis

from auth_harness import RevocationFeed, login, refresh, register
from chat_common.revocation import is_revoked
from chat_common.tokens import JwksVerifier


async def test_logout_ends_one_session_and_tells_the_gateways(
    client: httpx.AsyncClient,
    verifier: JwksVerifier,
    redis: Redis,
    revocations: RevocationFeed,
) -> None:
    user = await register(client)
    ending = await login(client, user["username"])
    staying = await login(client, user["username"])

    response = await client.post("/v1/logout", json={"refresh_token": ending["refresh_token"]})
    assert response.status_code == 204

    ended = await verifier.verify(ending["access_token"])
    revocation = await revocations.next_for(user["id"])
    assert (revocation.sid, revocation.reason) == (ended.sid, "logout")
    assert await is_revoked(redis, ended)
    assert (await refresh(client, ending["refresh_token"])).status_code == 401
    assert not await is_revoked(redis, await verifier.verify(staying["access_token"]))
    assert (await refresh(client, staying["refresh_token"])).status_code == 200


async def test_a_repeated_logout_succeeds_and_an_unknown_token_is_refused(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    pair = await login(client, user["username"])
    for _ in range(2):
        response = await client.post("/v1/logout", json={"refresh_token": pair["refresh_token"]})
        assert response.status_code == 204
    unknown = await client.post("/v1/logout", json={"refresh_token": "no-such-token"})
    assert unknown.status_code == 401


async def test_logout_everywhere_ends_every_session_of_the_user(
    client: httpx.AsyncClient,
    verifier: JwksVerifier,
    redis: Redis,
    revocations: RevocationFeed,
) -> None:
    user = await register(client)
    other = await register(client)
    sessions = [await login(client, user["username"]) for _ in range(3)]
    bystander = await login(client, other["username"])

    response = await client.post(
        "/v1/logout",
        json={"all": True},
        headers={"Authorization": f"Bearer {sessions[0]['access_token']}"},
    )
    assert response.status_code == 204

    revocation = await revocations.next_for(user["id"])
    assert revocation.sid is None
    for pair in sessions:
        assert await is_revoked(redis, await verifier.verify(pair["access_token"]))
        assert (await refresh(client, pair["refresh_token"])).status_code == 401
    assert not await is_revoked(redis, await verifier.verify(bystander["access_token"]))

    # A login right after, even within the same second, is not caught by the revocation.
    fresh = await login(client, user["username"])
    fresh_claims = await verifier.verify(fresh["access_token"])
    assert fresh_claims.iat > revocation.revoked_at
    assert not await is_revoked(redis, fresh_claims)
    assert (await refresh(client, fresh["refresh_token"])).status_code == 200


async def test_logout_everywhere_needs_a_valid_bearer_token_of_a_live_session(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    pair = await login(client, user["username"])
    for headers in ({}, {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic eA=="}):
        response = await client.post("/v1/logout", json={"all": True}, headers=headers)
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
    await client.post("/v1/logout", json={"refresh_token": pair["refresh_token"]})
    ended = await client.post(
        "/v1/logout",
        json={"all": True},
        headers={"Authorization": f"Bearer {pair['access_token']}"},
    )
    assert ended.status_code == 401
    assert "ended" in ended.json()["message"]


async def test_logout_names_the_session_one_way_only(client: httpx.AsyncClient) -> None:
    for body in ({}, {"refresh_token": "abc", "all": True}, {"all": True, "cookie": True}):
        response = await client.post("/v1/logout", json=body)
        assert response.status_code == 422
        assert "exactly one of" in response.json()["message"]
