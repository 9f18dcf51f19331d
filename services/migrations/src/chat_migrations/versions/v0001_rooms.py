"""Rooms: the unit of conversation every message, member and permission hangs on.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE rooms (
            id          text PRIMARY KEY
                        CHECK (id ~ '^[a-z0-9_-]{1,64}$' OR id ~ '^dm:[^:]{1,64}:[^:]{1,64}$'),
            kind        text NOT NULL CHECK (kind IN ('public', 'private', 'dm')),
            read_only   boolean NOT NULL DEFAULT false,
            created_by  text,
            created_at  timestamptz NOT NULL DEFAULT now()
        )
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE rooms")
