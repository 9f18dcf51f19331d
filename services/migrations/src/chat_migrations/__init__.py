"""Versioned Postgres schema of the chat system, applied with Alembic."""
