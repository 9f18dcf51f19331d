from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest


@pytest.fixture
async def scratch_database_url(database_url: str) -> AsyncIterator[str]:
    """A database of its own, so that migrating down and up disturbs no other test."""
    base = database_url
    name = f"chat_migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
