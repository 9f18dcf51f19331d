"""chat-auth-admin: granting and taking away global roles, as an operator does."""

from __future__ import annotations

import asyncio
import os
import sys

import httpx

from auth_harness import PASSWORD, RevocationFeed, login, refresh, register
from chat_common.tokens import JwksVerifier


async def _admin(database_url: str, redis_url: str, *argv: str) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chat_auth.admin",
        *argv,
        env={
            **os.environ,
            "CHAT_AUTH_DATABASE_URL": database_url,
            "CHAT_AUTH_REDIS_URL": redis_url,
        },
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode is not None
    return process.returncode, out.decode().strip(), err.decode().strip()


async def test_a_granted_role_arrives_with_the_next_token_and_a_revoked_one_signs_out(
    client: httpx.AsyncClient,
    verifier: JwksVerifier,
    revocations: RevocationFeed,
    database_url: str,
    redis_url: str,
) -> None:
    user = await register(client)
    name = user["username"]
    first = await login(client, name)
    assert await _admin(database_url, redis_url, "grant", name, "moderator") == (
        0,
        f"{name}: member moderator",
        "",
    )
    refreshed = await refresh(client, first["refresh_token"])
    assert refreshed.status_code == 200
    claims = await verifier.verify(refreshed.json()["access_token"])
    assert claims.roles == ("member", "moderator")

    code, out, _ = await _admin(database_url, redis_url, "revoke", name, "moderator")
    assert (code, out) == (0, f"{name}: member")
    revocation = await revocations.next_for(user["id"])
    assert revocation.sid is None  # every session of the person, at once
    assert (await refresh(client, refreshed.json()["refresh_token"])).status_code == 401
    again = await login(client, name, PASSWORD)
    assert (await verifier.verify(again["access_token"])).roles == ("member",)
    assert await _admin(database_url, redis_url, "roles", name) == (0, f"{name}: member", "")


async def test_an_unknown_person_or_role_is_refused(database_url: str, redis_url: str) -> None:
    code, _, err = await _admin(database_url, redis_url, "grant", "nobody-here-xyz", "admin")
    assert (code, err) == (1, "chat-auth-admin: no user 'nobody-here-xyz'")
    code, _, err = await _admin(database_url, redis_url, "grant", "nobody-here-xyz", "emperor")
    assert code == 2
    assert "invalid choice" in err
