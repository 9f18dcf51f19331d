"""Database URLs: the services speak asyncpg's ``postgresql://``; Alembic needs a driver name."""

from __future__ import annotations

DEFAULT_DATABASE_URL = "postgresql://chat:chat@127.0.0.1:5432/chat"


def sqlalchemy_url(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in ("postgresql", "postgres", "postgresql+psycopg"):
        raise ValueError(f"expected a postgresql:// URL, got scheme {scheme!r}")
    return f"postgresql+psycopg://{rest}"
