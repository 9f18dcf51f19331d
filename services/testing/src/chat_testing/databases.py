"""A database of a test's own, migrated to head, for tests that change or count what every
test shares (a fuzzer's writes, a worker's sweep over all uploads)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import asyncpg


async def _admin(database_url: str, statement: str) -> None:
    connection = await asyncpg.connect(database_url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


@contextlib.contextmanager
def migrated_database(database_url: str, label: str) -> Iterator[str]:
    """The URL of a new database named after ``label``, migrated to head; dropped afterwards.
    Synchronous (its own event loops), so session and module fixtures of any loop can use it."""
    name = f"chat_{label}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(database_url, f'CREATE DATABASE "{name}"'))
    try:
        url = database_url.rsplit("/", 1)[0] + f"/{name}"
        migrate = subprocess.run(
            [sys.executable, "-m", "chat_migrations.cli", "upgrade", "head"],
            env={**os.environ, "CHAT_DATABASE_URL": url},
            capture_output=True,
            text=True,
            check=False,
        )
        assert migrate.returncode == 0, migrate.stderr
        yield url
    finally:
        asyncio.run(_admin(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
