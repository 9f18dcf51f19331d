from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest

from chat_migrations.urls import DEFAULT_DATABASE_URL


@pytest.fixture
async def scratch_database_url() -> AsyncIterator[str]:
    """A database of its own, so that migrating down and up disturbs no other test."""
    base = os.environ.get("CHAT_TEST_DATABASE_URL", DEFAULT_DATABASE_URL)
    name = f"chat_migrations_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(base)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield base.rsplit("/", 1)[0] + f"/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
