"""Factory for the asyncpg connection pool."""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

import asyncpg

# Runs once on every new connection of the pool, reconnects included (session-level setup such
# as temporary tables).
ConnectionInit = Callable[[asyncpg.Connection], Coroutine[Any, Any, None]]


async def create_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    command_timeout: float = 10.0,
    init: ConnectionInit | None = None,
) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        dsn, min_size=min_size, max_size=max_size, command_timeout=command_timeout, init=init
    )


async def ping(pool: asyncpg.Pool) -> None:
    async with pool.acquire() as connection:
        await connection.fetchval("SELECT 1")
