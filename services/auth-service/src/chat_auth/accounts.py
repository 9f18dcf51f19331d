"""User accounts in Postgres: registration, lookup by username, password-hash upgrades."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import asyncpg

DEFAULT_ROLES = ("member",)


class UsernameTakenError(Exception):
    def __init__(self, username: str) -> None:
        super().__init__(f"the username {username!r} is taken")


@dataclass(frozen=True)
class Account:
    id: uuid.UUID
    username: str
    password_hash: str
    roles: tuple[str, ...]


class AccountStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def create(self, username: str, password_hash: str) -> Account:
        account = Account(uuid.uuid4(), username, password_hash, DEFAULT_ROLES)
        try:
            await self._pool.execute(
                "INSERT INTO users (id, username, password_hash, roles) VALUES ($1, $2, $3, $4)",
                account.id,
                account.username,
                account.password_hash,
                list(account.roles),
            )
        except asyncpg.UniqueViolationError as exc:
            raise UsernameTakenError(username) from exc
        return account

    async def exists(self, username: str) -> bool:
        found: bool = await self._pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM users WHERE username = $1)", username
        )
        return found

    async def find(self, username: str) -> Account | None:
        row = await self._pool.fetchrow(
            "SELECT id, username, password_hash, roles FROM users WHERE username = $1", username
        )
        if row is None:
            return None
        return Account(row["id"], row["username"], row["password_hash"], tuple(row["roles"]))

    async def replace_hash(self, account: Account, new_hash: str) -> None:
        # Conditional on the old hash: a password change that raced this upgrade wins.
        await self._pool.execute(
            "UPDATE users SET password_hash = $3 WHERE id = $1 AND password_hash = $2",
            account.id,
            account.password_hash,
            new_hash,
        )

    async def set_roles(self, username: str, roles: tuple[str, ...]) -> Account | None:
        """Replace the user's global roles; None when there is no such user."""
        row = await self._pool.fetchrow(
            "UPDATE users SET roles = $2 WHERE username = $1"
            " RETURNING id, username, password_hash, roles",
            username,
            list(roles),
        )
        if row is None:
            return None
        return Account(row["id"], row["username"], row["password_hash"], tuple(row["roles"]))
