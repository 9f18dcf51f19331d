"""Login sessions and their rotating refresh tokens in Postgres (RFC 9700 rotation with reuse
detection).

A refresh token is 256 random bits; only its SHA-256 is stored. Every refresh spends the
presented token and adds a new one to the same session. Spending is one conditional UPDATE, so of
any number of concurrent refreshes with one token exactly one wins. Presenting a spent token
again means two parties hold the chain: the session is revoked.
"""

from __future__ import annotations

import enum
import hashlib
import secrets
import uuid
from dataclasses import dataclass

import asyncpg

from chat_auth.accounts import Account

# 32 bytes = 256 bits from the OS CSPRNG, 43 URL-safe characters.
_TOKEN_BYTES = 32
_PURGE_BATCH = 1000

# What pool.acquire() yields: a proxy to a pooled connection.
_Connection = asyncpg.Connection | asyncpg.pool.PoolConnectionProxy

_SPEND = """
WITH live AS (
    SELECT s.id AS session_id, u.id AS user_id, u.username, u.roles
    FROM refresh_tokens t
    JOIN login_sessions s ON s.id = t.session_id
    JOIN users u ON u.id = s.user_id
    WHERE t.token_hash = $1 AND s.revoked_at IS NULL
    -- A revocation that commits meanwhile waits for this transaction, or this one sees it.
    FOR SHARE OF s
)
UPDATE refresh_tokens t SET spent_at = now()
FROM live
WHERE t.token_hash = $1 AND t.session_id = live.session_id
  AND t.spent_at IS NULL AND t.expires_at > now()
RETURNING live.session_id, live.user_id, live.username, live.roles
"""

_STATE = """
SELECT s.id AS session_id, s.user_id, t.spent_at IS NOT NULL AS spent,
       t.expires_at <= now() AS expired, s.revoked_at IS NOT NULL AS revoked
FROM refresh_tokens t JOIN login_sessions s ON s.id = t.session_id
WHERE t.token_hash = $1
"""


def new_refresh_token() -> str:
    return secrets.token_urlsafe(_TOKEN_BYTES)


def token_hash(refresh_token: str) -> bytes:
    return hashlib.sha256(refresh_token.encode()).digest()


@dataclass(frozen=True)
class SessionGrant:
    """Whom a new token pair is for."""

    user_id: uuid.UUID
    username: str
    roles: tuple[str, ...]
    session_id: uuid.UUID
    refresh_token: str


class Refusal(enum.Enum):
    UNKNOWN = "refresh token is not valid"
    EXPIRED = "refresh token has expired"
    REVOKED = "the session of this refresh token has ended"
    REUSED = "refresh token was already used; the session is revoked"


class RefreshRefusedError(Exception):
    def __init__(
        self,
        refusal: Refusal,
        *,
        user_id: uuid.UUID | None = None,
        session_id: uuid.UUID | None = None,
        revoked_now: bool = False,
    ) -> None:
        super().__init__(refusal.value)
        self.refusal = refusal
        self.user_id = user_id
        self.session_id = session_id
        # True for the one caller whose reuse actually revoked the session (it publishes).
        self.revoked_now = revoked_now


@dataclass(frozen=True)
class EndedSession:
    user_id: uuid.UUID
    session_id: uuid.UUID


class SessionStore:
    def __init__(self, pool: asyncpg.Pool, *, refresh_ttl_s: int) -> None:
        self._pool = pool
        self._ttl_s = refresh_ttl_s

    async def start(self, account: Account) -> SessionGrant:
        session_id = uuid.uuid4()
        refresh_token = new_refresh_token()
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO login_sessions (id, user_id) VALUES ($1, $2)", session_id, account.id
            )
            await self._add_token(connection, session_id, refresh_token)
        return SessionGrant(account.id, account.username, account.roles, session_id, refresh_token)

    async def rotate(self, refresh_token: str) -> SessionGrant:
        """Spend ``refresh_token`` and issue its successor, or raise ``RefreshRefusedError``."""
        digest = token_hash(refresh_token)
        successor = new_refresh_token()
        async with self._pool.acquire() as connection:
            async with connection.transaction():
                row = await connection.fetchrow(_SPEND, digest)
                if row is not None:
                    await self._add_token(connection, row["session_id"], successor)
                    return SessionGrant(
                        row["user_id"],
                        row["username"],
                        tuple(row["roles"]),
                        row["session_id"],
                        successor,
                    )
            raise await self._refusal(connection, digest)

    async def end(self, refresh_token: str, reason: str) -> EndedSession | None:
        """Revoke the session ``refresh_token`` belongs to (spent or not).

        ``None`` when the token is unknown; an already ended session is returned again so a
        repeated logout succeeds.
        """
        row = await self._pool.fetchrow(
            "SELECT s.id, s.user_id FROM refresh_tokens t"
            " JOIN login_sessions s ON s.id = t.session_id WHERE t.token_hash = $1",
            token_hash(refresh_token),
        )
        if row is None:
            return None
        await self.revoke(row["id"], reason)
        return EndedSession(row["user_id"], row["id"])

    async def revoke(self, session_id: uuid.UUID, reason: str) -> bool:
        """True when this call ended the session, False when it had already ended."""
        status = await self._pool.execute(
            "UPDATE login_sessions SET revoked_at = now(), revoked_reason = $2"
            " WHERE id = $1 AND revoked_at IS NULL",
            session_id,
            reason,
        )
        return status == "UPDATE 1"

    async def revoke_all(self, user_id: uuid.UUID, reason: str) -> list[uuid.UUID]:
        rows = await self._pool.fetch(
            "UPDATE login_sessions SET revoked_at = now(), revoked_reason = $2"
            " WHERE user_id = $1 AND revoked_at IS NULL RETURNING id",
            user_id,
            reason,
        )
        return [row["id"] for row in rows]

    async def purge(self) -> int:
        """Delete expired refresh tokens, then sessions left without any; the count deleted."""
        deleted = 0
        while True:
            status = await self._pool.execute(
                "DELETE FROM refresh_tokens WHERE token_hash = ANY(ARRAY("
                " SELECT token_hash FROM refresh_tokens WHERE expires_at < now() LIMIT $1))",
                _PURGE_BATCH,
            )
            count = int(status.split()[-1])
            deleted += count
            if count < _PURGE_BATCH:
                break
        # A day's margin keeps a session whose first token is being written right now.
        status = await self._pool.execute(
            "DELETE FROM login_sessions s WHERE s.created_at < now() - interval '1 day'"
            " AND NOT EXISTS (SELECT 1 FROM refresh_tokens t WHERE t.session_id = s.id)"
        )
        return deleted + int(status.split()[-1])

    async def _add_token(
        self, connection: _Connection, session_id: uuid.UUID, refresh_token: str
    ) -> None:
        await connection.execute(
            "INSERT INTO refresh_tokens (token_hash, session_id, expires_at)"
            " VALUES ($1, $2, now() + make_interval(secs => $3))",
            token_hash(refresh_token),
            session_id,
            float(self._ttl_s),
        )

    async def _refusal(self, connection: _Connection, digest: bytes) -> RefreshRefusedError:
        # The UPDATE already decided; this only finds out why, for the answer and reuse handling.
        state = await connection.fetchrow(_STATE, digest)
        if state is None:
            return RefreshRefusedError(Refusal.UNKNOWN)
        user_id, session_id = state["user_id"], state["session_id"]
        if state["revoked"]:
            return RefreshRefusedError(Refusal.REVOKED, user_id=user_id, session_id=session_id)
        if state["spent"]:
            revoked_now = await self.revoke(session_id, "refresh token reuse")
            return RefreshRefusedError(
                Refusal.REUSED, user_id=user_id, session_id=session_id, revoked_now=revoked_now
            )
        return RefreshRefusedError(Refusal.EXPIRED, user_id=user_id, session_id=session_id)
