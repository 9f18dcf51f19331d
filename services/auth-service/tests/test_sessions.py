from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import pytest

from auth_harness import unique_username
from chat_auth.accounts import AccountStore
from chat_auth.sessions import RefreshRefusedError, Refusal, SessionStore, token_hash
from chat_common.database import create_pool


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    pool = await create_pool(database_url, max_size=2)
    yield pool
    await pool.close()


async def test_only_a_hash_of_the_refresh_token_is_stored(pool: asyncpg.Pool) -> None:
    account = await AccountStore(pool).create(unique_username(), "$argon2id$placeholder")
    grant = await SessionStore(pool, refresh_ttl_s=3600).start(account)
    stored = await pool.fetchval(
        "SELECT token_hash FROM refresh_tokens WHERE session_id = $1", grant.session_id
    )
    assert stored == token_hash(grant.refresh_token)
    assert grant.refresh_token.encode() not in stored


async def test_an_expired_refresh_token_is_refused_then_purged_with_its_session(
    pool: asyncpg.Pool,
) -> None:
    sessions = SessionStore(pool, refresh_ttl_s=3600)
    account = await AccountStore(pool).create(unique_username(), "$argon2id$placeholder")
    grant = await sessions.start(account)
    await pool.execute(
        "UPDATE refresh_tokens SET expires_at = now() - interval '1 hour' WHERE session_id = $1",
        grant.session_id,
    )
    with pytest.raises(RefreshRefusedError) as refused:
        await sessions.rotate(grant.refresh_token)
    assert refused.value.refusal is Refusal.EXPIRED

    await pool.execute(
        "UPDATE login_sessions SET created_at = now() - interval '2 days' WHERE id = $1",
        grant.session_id,
    )
    assert await sessions.purge() >= 2
    assert (
        await pool.fetchval(
            "SELECT count(*) FROM refresh_tokens WHERE session_id = $1", grant.session_id
        )
        == 0
    )
    assert (
        await pool.fetchval("SELECT count(*) FROM login_sessions WHERE id = $1", grant.session_id)
        == 0
    )


async def test_a_live_session_survives_the_purge(pool: asyncpg.Pool) -> None:
    sessions = SessionStore(pool, refresh_ttl_s=3600)
    account = await AccountStore(pool).create(unique_username(), "$argon2id$placeholder")
    grant = await sessions.start(account)
    await pool.execute(
        "UPDATE login_sessions SET created_at = now() - interval '2 days' WHERE id = $1",
        grant.session_id,
    )
    await sessions.purge()
    assert (await sessions.rotate(grant.refresh_token)).session_id == grant.session_id
