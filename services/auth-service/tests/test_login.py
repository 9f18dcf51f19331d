from __future__ import annotations

import uuid

import httpx
import jwt

from auth_harness import (
    ISSUER,
    PASSWORD,
    login,
    register,
    unique_username,
)
from chat_common.tokens import JwksVerifier


async def test_login_issues_a_verifiable_access_token_and_a_refresh_token(
    client: httpx.AsyncClient, verifier: JwksVerifier
) -> None:
    user = await register(client)
    response = await client.post(
        "/v1/token", json={"username": user["username"], "password": PASSWORD}
    )
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    pair = response.json()
    assert pair["token_type"] == "bearer"
    assert 0 < pair["expires_in"] <= 900
    # 256 random bits, URL-safe base64: 43 characters.
    assert len(pair["refresh_token"]) >= 43

    claims = await verifier.verify(pair["access_token"])
    assert claims.sub == user["id"]
    assert claims.name == user["username"]
    assert claims.roles == ("member",)
    assert uuid.UUID(claims.sid)
    assert claims.exp - claims.iat == pair["expires_in"]
    raw = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert (raw["iss"], raw["aud"], raw["typ"]) == (ISSUER, "chat", "access")
    assert jwt.get_unverified_header(pair["access_token"])["alg"] == "EdDSA"


async def test_each_login_is_a_session_of_its_own(
    client: httpx.AsyncClient, verifier: JwksVerifier
) -> None:
    user = await register(client)
    first = await verifier.verify((await login(client, user["username"]))["access_token"])
    second = await verifier.verify((await login(client, user["username"]))["access_token"])
    assert first.sid != second.sid
    assert first.jti != second.jti


async def test_the_oauth_password_grant_form_is_accepted(client: httpx.AsyncClient) -> None:
    user = await register(client)
    response = await client.post(
        "/v1/token",
        data={"grant_type": "password", "username": user["username"], "password": PASSWORD},
    )
    assert response.status_code == 200
    assert response.json()["refresh_token"]
    wrong_grant = await client.post(
        "/v1/token",
        data={"grant_type": "client_credentials", "username": "x", "password": "y"},
    )
    assert wrong_grant.status_code == 422


async def test_unknown_user_and_wrong_password_get_the_same_401(
    client: httpx.AsyncClient,
) -> None:
    user = await register(client)
    wrong_password = await client.post(
        "/v1/token", json={"username": user["username"], "password": "not the password"}
    )
    unknown_user = await client.post(
        "/v1/token", json={"username": unique_username(), "password": "not the password"}
    )
    never_valid = await client.post(
        "/v1/token",
        json={"username": f"no such name {uuid.uuid4()}", "password": "not the password"},
    )
    assert wrong_password.status_code == unknown_user.status_code == never_valid.status_code == 401
    assert wrong_password.content == unknown_user.content == never_valid.content
    assert wrong_password.json() == {
        "code": "unauthorized",
        "message": "wrong username or password",
    }


async def test_the_username_is_matched_whatever_its_case(client: httpx.AsyncClient) -> None:
    user = await register(client)
    assert (await login(client, user["username"].upper()))["access_token"]
